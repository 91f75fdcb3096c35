"""The vectorized data-fit terms equal today's per-block ones (issue 12, item 1).

The reference is the pre-issue-12 ``_datafit.py`` (``tests/_old_datafit.py``): one
block a task in the long format, a Python loop over the blocks in every product,
Gram matrices built one output at a time.  The vectorized terms treat all tasks at
once (one sparse-dense product each way, tasks of equal size batched); on random
long and wide problems with weights, missing labels, sparse X and every loss they
agree to 1e-12.
"""

import numpy as np
import pytest
import scipy.sparse as sp

import _old_datafit as old
from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl._tasks import split_tasks
from skmtl.linear import _datafit, _layout
from skmtl.linear._datafit import DesignFit, GramFit, make_blocks
from skmtl.linear._losses import LOSSES

RTOL = 1e-12


def _long(seed, loss, sparse=False, T=7, p=5):
    rng = np.random.RandomState(seed)
    sizes = rng.randint(5, 14, size=T)
    tasks = np.repeat(np.arange(T), sizes)
    order = rng.permutation(tasks.size)  # unsorted rows: split_tasks sorts them
    tasks = tasks[order]
    n = tasks.size
    X = rng.randn(n, p) + 3.0
    if sparse:
        X[rng.uniform(size=X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    sw = rng.uniform(0.2, 3.0, n)
    if loss == "squared":
        y = rng.randn(n) * 4 + 100.0
        y[rng.uniform(size=n) < 0.1] = np.nan  # missing labels drop rows
        return MultiTaskRegressor(), X, y, tasks, sw
    # binary and 3- and 4-class tasks mixed
    k = 2 + (np.arange(T) % 3)
    y = np.floor(rng.uniform(size=n) * k[tasks]).astype(int)
    for t in range(T):  # every class present
        rows = np.flatnonzero(tasks == t)
        y[rows[: k[t]]] = np.arange(k[t])
    return MultiTaskClassifier(loss=loss), X, y, tasks, sw


def _wide(seed, loss, sparse=False, n=40, p=5, T=4):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) - 2.0
    if sparse:
        X[rng.uniform(size=X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    sw = rng.uniform(0.2, 3.0, n)
    Y = rng.randn(n, T) + 50.0
    if loss != "squared":
        Y = (Y > 50.0).astype(float)
    Y[rng.uniform(size=Y.shape) < 0.2] = np.nan
    Y[:2] = 0.0 if loss != "squared" else Y[:2]
    Y[2:4] = 1.0 if loss != "squared" else Y[2:4]
    est = MultiTaskRegressor() if loss == "squared" else MultiTaskClassifier(loss=loss)
    return est, X, Y, None, sw


def _blocks(est, X, y, tasks, sw, loss):
    table = split_tasks(X, y, tasks, sw, classifier=est._classifier)
    targets, _ = est._encode_targets(table)
    segmented = loss == "logistic"
    new, out_task = make_blocks(table, targets, segmented=segmented)
    ref, ref_task = old.make_blocks(table, targets, segmented=segmented)
    np.testing.assert_array_equal(out_task, ref_task)
    return new, ref, out_task.size


def _close(a, b, rtol=RTOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(np.abs(b).max(initial=0.0), 1e-300)
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


CASES = [(fmt, loss, sparse) for fmt in ("long", "wide")
         for loss in ("squared", "logistic", "squared_hinge") for sparse in (False, True)]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("fmt,loss,sparse", CASES)
def test_design_fit_equals_the_per_block_reference(fmt, loss, sparse, fit_intercept):
    for seed in range(3):
        est, X, y, tasks, sw = (_long if fmt == "long" else _wide)(seed, loss, sparse)
        new_blocks, ref_blocks, m = _blocks(est, X, y, tasks, sw, loss)
        if fmt == "long":
            assert new_blocks.layout is not None and len(new_blocks) == len(ref_blocks)
        p = X.shape[1]
        new = DesignFit(new_blocks, LOSSES[loss](), p, m, fit_intercept)
        ref = old.DesignFit(ref_blocks, LOSSES[loss](), p, m, fit_intercept)
        assert (new.layout is not None) == (fmt == "long")
        rng = np.random.RandomState(seed + 10)
        W = rng.randn(p, m) * 0.3
        b = rng.randn(m) + 50.0 if fit_intercept else None
        # the vectorized term centres the squared loss's targets: its intercept is
        # b - offset (zero offset otherwise)
        bn = None if b is None else b - new.offset
        Zn, Zr = new.forward(W, bn), ref.forward(W, b)
        _close(new.value(W, bn, Zn), ref.value(W, b, Zr))
        for a, r in zip(new.gradient(W, bn, Zn), ref.gradient(W, b, Zr)):
            if r is None:
                assert a is None
            else:
                _close(a, r)
        if fit_intercept:
            for a, r in zip(new.intercept_newton(Zn), ref.intercept_newton(Zr)):
                _close(a, r)
            delta = rng.randn(m)
            _close(new.value(W, bn + delta, new.shift(Zn, delta)),
                   ref.value(W, b + delta, ref.shift(Zr, delta)))
        # the conjugate at the dual point, with the intercept's term of the gap
        gn = new.gradient(W, bn, Zn)[1]
        gr = ref.gradient(W, b, Zr)[1]
        for s in (1.0, 2.5):
            cn = new.conjugate(W, bn, Zn, s) - (0 if gn is None else np.vdot(bn, gn) / s)
            cr = ref.conjugate(W, b, Zr, s) - (0 if gr is None else np.vdot(b, gr) / s)
            _close(cn, cr, 1e-11)  # sums of terms of either sign
        _close(new.lipschitz(), ref.lipschitz())
        if loss != "squared" or not fit_intercept:
            _close(new.tol_scale(), ref.tol_scale())


class Hooked(DesignFit):
    """The products through the per-block hooks (as the torch data-fit term does)."""

    def forward_product(self, k, W):
        return super().forward_product(k, W)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_the_hooks_still_go_block_by_block_and_agree(loss):
    est, X, y, tasks, sw = _long(3, loss)
    blocks, _, m = _blocks(est, X, y, tasks, sw, loss)
    vec = DesignFit(blocks, LOSSES[loss](), X.shape[1], m)
    hooked = Hooked(blocks, LOSSES[loss](), X.shape[1], m)
    assert vec.layout is not None and hooked.layout is None
    W, b = np.random.RandomState(0).randn(X.shape[1], m), np.zeros(m)
    Zv, Zh = vec.forward(W, b), hooked.forward(W, b)
    _close(Zv, Zh)
    for a, r in zip(vec.gradient(W, b, Zv), hooked.gradient(W, b, Zh)):
        _close(a, r)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("fmt,sparse", [("long", False), ("long", True), ("wide", False),
                                        ("wide", True)])
def test_gram_fit_equals_the_per_output_reference(fmt, sparse, fit_intercept):
    for seed in range(3):
        est, X, y, tasks, sw = (_long if fmt == "long" else _wide)(seed, "squared", sparse)
        new_blocks, ref_blocks, m = _blocks(est, X, y, tasks, sw, "squared")
        p = X.shape[1]
        new = GramFit(new_blocks, p, m, fit_intercept, shared=False)
        ref = old.GramFit(ref_blocks, p, m, fit_intercept, shared=False)
        # centred before the products, the reference after: rounding of the offsets
        for name in ("G", "C", "mu", "ybar"):
            _close(getattr(new, name), getattr(ref, name), 1e-11)
        _close(new.yy, ref.yy, 1e-9)  # the reference loses digits to y's offset
        W = np.random.RandomState(seed).randn(p, m)
        _close(new.forward(W), ref.forward(W), 1e-11)
        _close(new.intercept(W), ref.intercept(W), 1e-11)


def test_a_fit_in_the_long_format_makes_no_per_task_block(monkeypatch):
    """No Python loop over tasks: not one per-task block is made, for the design
    form (FISTA), the Gram form (coordinate descent) and the exact solve."""
    made = []
    real = _layout.LongLayout.block
    monkeypatch.setattr(_layout.LongLayout, "block",
                        lambda self, *a: made.append(1) or real(self, *a))
    rng = np.random.RandomState(0)
    T, n_t, p = 3000, 4, 6
    X = rng.randn(T * n_t, p)
    tasks = np.repeat(np.arange(T), n_t)
    y = X[:, 0] + rng.randn(T * n_t)
    labels = np.tile([0, 1], T * n_t // 2)
    for penalty, extra in [("trace", dict(precompute=False)), ("l21", {}), ("l2", {}),
                           ("mean", {})]:
        MultiTaskRegressor(penalty=penalty, alpha=0.01, max_iter=20, **extra).fit(
            X, y, tasks=tasks)
    clf = MultiTaskClassifier(penalty="l21", alpha=0.01, max_iter=20)
    clf.fit(X, labels, tasks=tasks)
    assert made == []
    assert len(_datafit.make_blocks.__doc__) > 0
