"""Targets on a large offset (issue 16, item 2).

With an intercept, ``y + c`` has the same solution as ``y`` (the intercept takes
``c``).  The tolerance used to be scaled by the raw, uncentred size of y, so at
``y + 1e7`` the solvers stopped at their first iterations: l21 off sklearn's
``MultiTaskLasso`` by 0.07-0.19, l2 off ``Ridge`` by 0.1 std(y), the torch linear
model at ``Y + 1e5`` by 0.55.  The targets are now centred before any product.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskLasso, Ridge

from skmtl import MultiTaskRegressor

OFFSET = 1e7


def _wide(seed=0, n=120, p=8, T=3):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    W = np.zeros((p, T))
    W[:4] = rng.randn(4, T)
    return X, X @ W + 0.5 * rng.randn(n, T)


def _fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return est.fit(*args, **kwargs)


@pytest.mark.parametrize("solver,precompute", [("cd", "auto"), ("fista", True),
                                               ("fista", False)])
def test_l21_on_an_offset_is_multitask_lasso(solver, precompute):
    X, Y = _wide()
    ref = MultiTaskLasso(alpha=0.05, tol=1e-10, max_iter=100000).fit(X, Y + OFFSET)
    est = _fit(MultiTaskRegressor(alpha=0.05, solver=solver, precompute=precompute,
                                  tol=1e-8, max_iter=20000), X, Y + OFFSET)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=0, atol=1e-5)
    np.testing.assert_allclose(est.intercept_ - OFFSET, ref.intercept_ - OFFSET,
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("penalty", ["l21", "trace", "l1", "dirty"])
@pytest.mark.parametrize("precompute", [True, False])
def test_the_default_tolerance_gives_the_same_answer_with_and_without_an_offset(
        penalty, precompute):
    rng = np.random.RandomState(1)
    X, tasks = rng.randn(150, 6), np.repeat([0, 1, 2], 50)
    y = X[:, 0] * (1 + tasks) + rng.randn(150)
    kw = dict(penalty=penalty, alpha=0.02, precompute=precompute)
    plain = _fit(MultiTaskRegressor(**kw), X, y, tasks=tasks)
    shifted = _fit(MultiTaskRegressor(**kw), X, y + OFFSET, tasks=tasks)
    assert shifted.n_iter_ > 1
    # the same iterations on the same centred problem: the same answer
    np.testing.assert_allclose(shifted.coef_, plain.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(shifted.intercept_ - OFFSET, plain.intercept_, rtol=0,
                               atol=1e-6)
    assert shifted.dual_gap_ == pytest.approx(plain.dual_gap_, rel=1e-3, abs=1e-12)


def test_l2_on_an_offset_is_ridge():
    X, Y = _wide(seed=2)
    y = Y[:, 0] + OFFSET
    for solver in ("auto", "fista"):
        est = _fit(MultiTaskRegressor(penalty="l2", alpha=0.1, solver=solver, tol=1e-10,
                                      max_iter=20000), X, y)
        ref = Ridge(alpha=0.1 * X.shape[0]).fit(X, y)
        np.testing.assert_allclose(est.coef_, ref.coef_, rtol=0, atol=1e-6)
        assert abs(est.intercept_ - ref.intercept_) < 1e-6


def test_the_torch_linear_model_on_an_offset():
    pytest.importorskip("torch")
    X, Y = _wide(seed=3)
    kw = dict(alpha=0.05, backend="torch", hidden_layer_sizes=())  # float32 products
    plain = _fit(MultiTaskRegressor(**kw), X, Y)
    shifted = _fit(MultiTaskRegressor(**kw), X, Y + 1e5)
    exact = _fit(MultiTaskRegressor(alpha=0.05, tol=1e-10), X, Y)
    np.testing.assert_allclose(shifted.coef_, plain.coef_, rtol=0, atol=1e-5)
    np.testing.assert_allclose(shifted.intercept_ - 1e5, plain.intercept_, rtol=0,
                               atol=1e-4)
    np.testing.assert_allclose(shifted.coef_, exact.coef_, rtol=0, atol=1e-2)
