"""TorchDesignFit is DesignFit with the products with X on a torch device."""

import functools

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from skmtl import MultiTaskClassifier, MultiTaskRegressor  # noqa: E402
from skmtl._tasks import split_tasks  # noqa: E402
from skmtl.linear._datafit import DesignFit, make_blocks  # noqa: E402
from skmtl.linear._losses import LOSSES  # noqa: E402
from skmtl.linear._penalties import L21, TraceNorm  # noqa: E402
from skmtl.linear._problem import make_problem  # noqa: E402
from skmtl.nn._linear import TorchDesignFit  # noqa: E402


def _blocks(kind, seed=0):
    """Blocks of a kind of problem, their loss, and the shape of W."""
    rng = np.random.RandomState(seed)
    n, p = 120, 7
    X = rng.randn(n, p)
    weights = rng.uniform(0.2, 2.0, n)
    tasks = np.repeat([0, 1, 2], n // 3)
    est, y = MultiTaskRegressor(), X[:, 0] * (1 + tasks) + rng.randn(n)
    if kind == "wide":  # shared X, NaN labels
        y = X @ rng.randn(p, 3) + rng.randn(n, 3)
        y[:30, 1], y[70:, 2], tasks = np.nan, np.nan, None
    elif kind == "sparse":
        X = sp.random(n, p, density=0.3, format="csr", random_state=seed)
        y, tasks = np.asarray(X @ rng.randn(p, 2)) + rng.randn(n, 2), None
    elif kind in ("logistic", "squared_hinge"):  # two 3-class tasks, a binary one
        y = np.digitize(X[:, 0] + tasks * X[:, 1], [-0.5, 0.5]) * (tasks != 2) \
            + (X[:, 2] > 0) * (tasks == 2)
        est = MultiTaskClassifier(loss=kind)
    table = split_tasks(X, y, tasks, weights, classifier=est._classifier)
    targets, _ = est._encode_targets(table)
    loss = est._loss()
    blocks, out_task = make_blocks(table, targets, segmented=loss.name == "logistic")
    return blocks, loss, (p, out_task.size)


KINDS = ["long", "wide", "sparse", "logistic", "squared_hinge"]


def _pair(kind, fit_intercept, dtype=torch.float64):
    blocks, loss, (p, m) = _blocks(kind)
    ref = DesignFit(blocks, loss, p, m, fit_intercept)
    dev = TorchDesignFit(blocks, loss.name, p, m, fit_intercept, "cpu", dtype)
    return ref, dev


def _point(shape, fit_intercept, seed=1):
    rng = np.random.default_rng(seed)
    W = 0.3 * rng.standard_normal(shape)
    return W, (rng.standard_normal(shape[1]) if fit_intercept else None)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_the_torch_datafit_equals_the_numpy_one(kind, fit_intercept):
    ref, dev = _pair(kind, fit_intercept)
    W, b = _point(ref.shape, fit_intercept)
    Z, Zd = ref.forward(W, b), dev.forward(W, b)
    assert isinstance(Zd, np.ndarray)
    close = functools.partial(np.testing.assert_allclose, rtol=1e-12, atol=1e-14)
    close(Zd, Z)
    close(dev.value(W, b, Zd), ref.value(W, b, Z))
    for a, r in zip(dev.gradient(W, b, Zd), ref.gradient(W, b, Z)):
        assert (a is None) == (r is None)
        if r is not None:
            close(a, r)
    close(dev.conjugate(W, b, Zd, 1.7), ref.conjugate(W, b, Z, 1.7))
    for a, r in zip(dev.intercept_newton(Zd), ref.intercept_newton(Z)):
        close(a, r)
    close(dev.shift(Zd, np.ones(ref.shape[1])), ref.shift(Z, np.ones(ref.shape[1])))
    close(dev.lipschitz(), ref.lipschitz())
    close(dev.tol_scale(), ref.tol_scale())
    assert dev.constant_curvature == ref.constant_curvature == (kind not in (
        "logistic", "squared_hinge"))


def test_both_constructor_forms_give_the_same_datafit():
    blocks, loss, (p, m) = _blocks("logistic")
    positional = TorchDesignFit(blocks, "logistic", p, m, True, "cpu", torch.float64)
    design = functools.partial(TorchDesignFit, device=torch.device("cpu"), dtype="float64")
    keyword = design(blocks, LOSSES["logistic"](), p, m, True)
    W, b = _point((p, m), True)
    assert keyword.dtype == positional.dtype == torch.float64
    assert keyword.value(W, b, keyword.forward(W, b)) == \
        positional.value(W, b, positional.forward(W, b))


def test_float32_products_and_the_float64_losses():
    ref, dev = _pair("wide", True, dtype=torch.float32)
    assert dev._X[0].dtype == torch.float32 and dev.rounding == 1e-6
    W, b = _point(ref.shape, True)
    Z, Zd = ref.forward(W, b), dev.forward(W, b)
    assert Zd.dtype == np.float64
    np.testing.assert_allclose(Zd, Z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dev.gradient(W, b, Zd)[0], ref.gradient(W, b, Z)[0],
                               rtol=1e-4, atol=1e-5)
    assert ref.tol_scale() <= dev.tol_scale()  # the float32 floor is higher


@pytest.mark.parametrize("kind,penalty", [("sparse", L21()), ("logistic", TraceNorm())])
def test_make_problem_with_the_torch_design_reaches_the_numpy_solution(kind, penalty):
    blocks, loss, (p, m) = _blocks(kind)
    penalty = penalty.bind(np.arange(m), np.zeros(m, dtype=int))
    design = functools.partial(TorchDesignFit, device="cpu", dtype=torch.float64)
    on_device = make_problem(blocks, loss, penalty, p, m, design=design)
    numpy = make_problem(blocks, loss, penalty, p, m, precompute=False)
    assert isinstance(on_device.datafit, TorchDesignFit)
    assert on_device.solver.name == numpy.solver.name == "fista"
    params = dict(max_iter=5000, tol=1e-10)
    dev = on_device.solve(0.05, *on_device.start(), **params)
    ref = numpy.solve(0.05, *numpy.start(), **params)
    assert dev[4] and ref[4]
    np.testing.assert_allclose(dev[0], ref[0], atol=1e-6)
    np.testing.assert_allclose(dev[1], ref[1], atol=1e-6)
