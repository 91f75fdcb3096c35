"""Coordinate descent for l21, l1 and their elastic mixes in every format (issue 12,
items 3-4, 6; issue 13).

Per-task Gram matrices (long format, wide with missing labels), working sets,
Gap Safe screening and Anderson acceleration; chosen by ``solver="auto"`` from what
the penalty declares (``L1``'s row rules are recognised until it declares them).
On hard data (correlated features, fewer rows a task than features; the raw
School data) the default CV grid converges at every alpha.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskLasso

from skmtl import MultiTaskRegressor, MultiTaskRegressorCV
from skmtl.datasets import load_school
from skmtl.linear import ElasticMix
from skmtl.linear._bcd import bcd


def _no_warning(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return fn()


def _hard(seed=0, T=40, n_t=15, p=18, rho=0.95):
    """Tasks of fewer rows than features, AR(1) features of unequal scales."""
    rng = np.random.RandomState(seed)
    X = rng.randn(T * n_t, p)
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * X[:, j]
    X *= rng.uniform(0.1, 10, p)
    tasks = np.repeat(np.arange(T), n_t)
    W = np.zeros((p, T))
    W[:5] = rng.randn(5, 1) + 0.3 * rng.randn(5, T)
    y = np.einsum("ij,ji->i", X, W[:, tasks]) + np.repeat(rng.randn(T), n_t)
    return X, y + rng.randn(T * n_t), tasks


ROWS = ["l21", "l1", ElasticMix("l21", 0.9), ElasticMix("l1", 0.3)]  # row rules
ROW_IDS = ["l21", "l1", "elastic_l21", "elastic_l1"]


@pytest.mark.parametrize("penalty", ROWS, ids=ROW_IDS)
def test_auto_takes_cd_in_the_long_format(penalty):
    X, y, tasks = _hard()
    problem = MultiTaskRegressor(penalty=penalty)._prepare(X, y, tasks, None, penalty)
    assert problem.solver.name == "cd" and problem.datafit.G.shape[0] == 40


@pytest.mark.parametrize("penalty", ROWS, ids=ROW_IDS)
def test_cd_reaches_fistas_solution_in_the_long_format(penalty):
    """In fewer iterations than FISTA.  The elastic mixes against ADMM at tol=1e-15:
    their gap at 1e-12 certifies only ``sqrt(2 gap / ridge)``, 1e-4 of the largest
    coefficient, where FISTA stops (measured; coordinate descent: 4e-6)."""
    X, y, tasks = _hard(T=8, n_t=12, p=10)
    mix = isinstance(penalty, ElasticMix)
    kw = dict(penalty=penalty, alpha=0.1 if mix else 0.05, tol=1e-12, max_iter=100000)
    cd = _no_warning(lambda: MultiTaskRegressor(solver="cd", **kw).fit(X, y, tasks=tasks))
    fista = _no_warning(lambda: MultiTaskRegressor(solver="fista", **kw).fit(
        X, y, tasks=tasks))
    ref = fista
    if mix:
        ref = _no_warning(lambda: MultiTaskRegressor(solver="admm", **{
            **kw, "tol": 1e-15}).fit(X, y, tasks=tasks))
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(cd.coef_, ref.coef_, rtol=0, atol=1e-5 * scale)
    assert cd.n_iter_ < fista.n_iter_
    assert 0 < (cd.coef_ != 0).sum() < cd.coef_.size


@pytest.mark.parametrize("penalty", ["l21", "l1"])
def test_the_default_cv_grid_converges_on_correlated_features_with_few_rows(penalty):
    X, y, tasks = _hard()
    model = _no_warning(lambda: MultiTaskRegressorCV(penalty=penalty, cv=3).fit(
        X, y, tasks=tasks))
    assert model.mse_path_.shape == (100, 3)


@pytest.mark.parametrize("penalty", ["l21", "l1"])
def test_the_default_cv_grid_converges_on_raw_school(penalty):
    """Raw School (the percentages unscaled, collinear dummies, school-level
    features constant within a task): the 100-alpha default grid, no warning (l21
    used to stop at max_iter at 16 of the path's alphas)."""
    X, y, tasks = load_school(return_X_y=True)
    model = _no_warning(lambda: MultiTaskRegressorCV(penalty=penalty, cv=3).fit(
        X, y, tasks=tasks))
    assert model.alphas_.size == 100 and np.any(model.coef_ != 0)


def test_shared_rows_compute_only_the_gram_columns_of_the_working_set():
    rng = np.random.RandomState(1)
    n, p, T = 400, 300, 4
    X = rng.randn(n, p)
    W = np.zeros((p, T))
    W[:6] = rng.randn(6, T)
    Y = X @ W + 0.5 * rng.randn(n, T)
    est = MultiTaskRegressor(alpha=0.1, tol=1e-10, max_iter=10000)
    problem = est._prepare(X, Y, None, None, "l21")
    assert problem.solver.name == "cd" and problem.datafit._lazy is not None
    V, b, gap, n_iter, converged = problem.solve(0.1, *problem.start(), max_iter=10000,
                                                 tol=1e-10)
    assert converged
    assert problem.datafit._lazy.have.sum() < p / 4  # not the n p^2 of the whole Gram
    ref = MultiTaskLasso(alpha=0.1, tol=1e-12, max_iter=100000).fit(X, Y)
    np.testing.assert_allclose(V.T, ref.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(b, ref.intercept_, rtol=0, atol=1e-6)


def test_anderson_and_working_sets_cut_epochs_on_correlated_features():
    X, y, tasks = _hard(rho=0.99)
    problem = MultiTaskRegressor()._prepare(X, y, tasks, None, "l21")
    fit, pen = problem.datafit, problem.penalty
    W0 = np.zeros(problem.shape)
    alpha = 0.01 * np.sqrt((fit.C ** 2).sum(axis=1)).max()
    plain = bcd(fit, pen, alpha, W0, max_iter=20000, tol=1e-8, anderson=0, ws_start=10**6)
    fast = bcd(fit, pen, alpha, W0, max_iter=20000, tol=1e-8)
    assert plain[3] and fast[3]
    assert fast[2] < plain[2] / 2, (fast[2], plain[2])
    np.testing.assert_allclose(fast[0], plain[0], rtol=0, atol=1e-4 * np.abs(plain[0]).max())


def test_the_gap_is_checked_only_after_small_steps_in_the_long_format():
    """sklearn's stopping rule (issue 13) with per-task Gram matrices and working
    sets: at tol=1e-4 the gap alone stops 2e-3 of the largest coefficient from the
    optimum on this problem; checked only after an epoch whose largest step is
    below tol times the largest coefficient, 5e-6."""
    X, y, tasks = _hard(rho=0.5)
    problem = MultiTaskRegressor()._prepare(X, y, tasks, None, "l21")
    fit, pen = problem.datafit, problem.penalty
    W0 = np.zeros(problem.shape)
    alpha = 0.05 * np.sqrt((fit.C ** 2).sum(axis=1)).max()
    opt = bcd(fit, pen, alpha, W0, max_iter=100000, tol=1e-14)
    W, gap, _, converged = bcd(fit, pen, alpha, W0, max_iter=10000, tol=1e-4)
    assert opt[3] and converged and gap <= 1e-4 * fit.tol_scale()
    assert np.abs(W - opt[0]).max() <= 1e-5 * np.abs(opt[0]).max()


# ----------------------------------------------------------------------- ADMM
@pytest.mark.parametrize("penalty", ["trace", "dirty", "cluster"])
def test_admm_is_auto_and_reaches_fistas_solution(penalty):
    X, y, tasks = _hard(T=8, n_t=12, p=10)
    kw = dict(penalty=penalty, alpha=0.05, tol=1e-11, max_iter=200000)
    auto = _no_warning(lambda: MultiTaskRegressor(**kw).fit(X, y, tasks=tasks))
    fista = _no_warning(lambda: MultiTaskRegressor(solver="fista", **kw).fit(
        X, y, tasks=tasks))
    problem = MultiTaskRegressor(**kw)._prepare(X, y, tasks, None, penalty)
    assert problem.solver.name == "admm"
    assert auto.n_iter_ < fista.n_iter_ / 5, (auto.n_iter_, fista.n_iter_)
    scale = np.abs(fista.coef_).max()
    np.testing.assert_allclose(auto.coef_, fista.coef_, rtol=0, atol=1e-4 * scale)
    np.testing.assert_allclose(auto.intercept_, fista.intercept_, rtol=0, atol=1e-4 * scale)


def test_admm_warm_started_at_its_solution_stops_at_once():
    X, y, tasks = _hard(T=8, n_t=12, p=10)
    est = MultiTaskRegressor(penalty="trace", alpha=0.05, tol=1e-8, warm_start=True)
    _no_warning(lambda: est.fit(X, y, tasks=tasks))
    assert est.n_iter_ > 1
    _no_warning(lambda: est.fit(X, y, tasks=tasks))
    assert est.n_iter_ == 1


@pytest.mark.parametrize("penalty", ["trace", "dirty"])
def test_the_default_path_of_trace_and_dirty_converges_on_raw_school(penalty):
    """FISTA stopped at max_iter at 30-40 of the 100 alphas of the default path
    (640 to 19,000 iterations cold at the small alphas)."""
    from skmtl.linear._path import _iter_path

    X, y, tasks = load_school(return_X_y=True)
    est = MultiTaskRegressor(penalty=penalty)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        n_iter = [est.n_iter_ for _ in _iter_path(est, X, y, tasks, None, penalty, 100,
                                                   1e-3)]
    assert len(n_iter) == 100 and max(n_iter) < 1000


# ------------------------------------------- what the penalties declare (issue 12)
@pytest.mark.parametrize("shape", [(5, 200), (200, 5), (30, 40), (1, 50)],
                         ids=["wide", "tall", "square", "one_row"])
@pytest.mark.parametrize("tiny", [False, True], ids=["plain", "tiny_singular_values"])
def test_the_trace_prox_from_the_small_gram_equals_the_svd(shape, tiny):
    from skmtl.linear import TraceNorm

    rng = np.random.RandomState(0)
    k = min(shape)
    U, _ = np.linalg.qr(rng.randn(shape[0], k))
    Vt, _ = np.linalg.qr(rng.randn(shape[1], k))
    s = np.geomspace(10.0, 1e-7 if tiny else 0.5, k)  # tiny: below 1e-4 s_max, kept
    V = (U * s) @ Vt.T
    for step in (1e-8, 0.3, 3.0, 20.0):
        a, b, c = np.linalg.svd(V, full_matrices=False)
        ref = (a * np.maximum(b - step, 0)) @ c
        np.testing.assert_allclose(TraceNorm().prox(V, step), ref, rtol=0, atol=1e-12)


def test_the_solvers_read_what_subclasses_of_l1_and_l2_declare():
    """No lookups by class name: a subclass of L1 is coordinate descent's, of L2 the
    exact solve's."""
    from skmtl.linear import L1, L2

    class MyL1(L1):
        pass

    class MyL2(L2):
        pass

    X, y, tasks = _hard(T=8, n_t=12, p=10)
    est = MultiTaskRegressor(alpha=0.1)
    assert est._prepare(X, y, tasks, None, MyL1()).solver.name == "cd"
    assert est._prepare(X, y, tasks, None, MyL2()).solver.name == "exact"


def test_row_step_with_varied_curvatures_at_a_large_scale():
    """Tasks of different sizes give each row varied curvatures (Newton's method
    for the row step); with targets of 1e108 its h**3 underflowed to 0 (NaN
    coefficients).  coef(c Y, alpha) is c coef(Y, alpha / c)."""
    X = np.array([[0.0], [1.0], [1.0], [1.0]])
    Y = np.array([[-1.0, 0.0], [1.0, 0.0], [np.nan, 0.0], [0.0, 0.0]])  # from hypothesis
    small = MultiTaskRegressor("l21", alpha=1e-109, solver="cd", tol=1e-12).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        large = MultiTaskRegressor("l21", alpha=0.1, solver="cd", tol=1e-12).fit(
            X, 1e108 * Y)
    np.testing.assert_allclose(large.coef_ / 1e108, small.coef_, rtol=1e-8)


@pytest.mark.parametrize("params, p, ill_posed", [
    (dict(penalty="l1"), 30, False), (dict(penalty="l21"), 30, False),
    (dict(penalty="l1", positive=True), 30, False),
    (dict(penalty=ElasticMix("l1", l1_ratio=0.5)), 30, False),
    (dict(penalty="l1", solver="cd"), 200, False),  # over 64 features: lazy Gram
    (dict(penalty="l1"), 30, True), (dict(penalty="l21"), 30, True)])
def test_one_output_takes_the_float_steps_with_the_same_result(params, p, ill_posed,
                                                                monkeypatch):
    # one output: each coefficient's step in Python floats (_epoch_one), the same
    # arithmetic as the numpy row steps to the last bit: on 45 rows of 15 distinct
    # ones and 30 features at a small alpha, where coordinate descent runs to
    # max_iter, a difference of one rounding changes the iterates
    import skmtl.linear._bcd as bcd_module
    from skmtl.linear._penalties import L1, L21

    rng = np.random.RandomState(0)
    if ill_posed:
        X = np.tile(rng.rand(15, p), (3, 1))
        y = np.tile(rng.randint(0, 3, 15), 3).astype(float)
        alpha, tol = 1e-4, 1e-4
    else:
        X = rng.randn(120, p)
        X[:, 1:] += 0.7 * X[:, :-1]
        y = X[:, :4] @ rng.randn(4) + 0.3 * rng.randn(120)
        alpha, tol = 0.02, 1e-8
    calls = []
    real = bcd_module._epoch_one
    monkeypatch.setattr(bcd_module, "_epoch_one", lambda *a: calls.append(1) or real(*a))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MultiTaskRegressor(alpha=alpha, tol=tol, **params).fit(X, y)
        assert calls and est.coef_.shape == (p,)
        monkeypatch.delattr(L1, "scalar_minimiser")
        monkeypatch.delattr(L21, "scalar_minimiser")
        calls.clear()
        ref = MultiTaskRegressor(alpha=alpha, tol=tol, **params).fit(X, y)
    assert not calls
    np.testing.assert_array_equal(est.coef_, ref.coef_)
    assert est.n_iter_ == ref.n_iter_
