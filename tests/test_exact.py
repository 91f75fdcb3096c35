"""Exact solvers of the quadratic penalties with the squared loss (issue 12, item 2).

``"l2"``, ``"mean"`` and ``"graph"`` with the squared loss are linear systems: one
factorization, then exact at any alpha.  Checked against sklearn's ``Ridge`` per
task, against a dense solve of the full system written here (W and the
intercepts, no package code), along a path (one factorization for all alphas),
and at ``alpha = 0`` against ``LinearRegression``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, Ridge

from skmtl import MultiTaskRegressor, MultiTaskRegressorCV
from skmtl.linear import GraphRegularized, MeanRegularized, multitask_path
from skmtl.linear._problem import Problem


def _long(seed=0, T=6, p=5, sizes=None, offset=0.0):
    rng = np.random.RandomState(seed)
    sizes = rng.randint(3, 15, size=T) if sizes is None else np.asarray(sizes)
    tasks = np.repeat(np.arange(T), sizes)
    X = rng.randn(tasks.size, p) + rng.randn(p)
    W = rng.randn(p, 1) + 0.3 * rng.randn(p, T)
    y = np.einsum("ij,ji->i", X, W[:, tasks]) + rng.randn(tasks.size) + offset
    perm = rng.permutation(tasks.size)
    return X[perm], y[perm], tasks[perm]


def _fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return est.fit(*args, **kwargs)


@pytest.mark.parametrize("sizes", [None, [3] * 6, [40] * 6, [2, 3, 30, 4, 12, 7]],
                         ids=["mixed", "n<p", "n>p", "uneven"])
def test_l2_is_ridge_per_task(sizes):
    X, y, tasks = _long(sizes=sizes, p=8)
    alpha = 0.3
    est = _fit(MultiTaskRegressor(penalty="l2", alpha=alpha), X, y, tasks=tasks)
    assert est._engine is not None and est.n_iter_ == 1
    for t in range(6):
        rows = tasks == t
        ref = Ridge(alpha=alpha * rows.sum()).fit(X[rows], y[rows])
        np.testing.assert_allclose(est.coef_[t], ref.coef_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(est.intercept_[t], ref.intercept_, rtol=0, atol=1e-10)


def test_l2_with_weights_and_wide_missing_labels_is_ridge_per_column():
    rng = np.random.RandomState(1)
    X = rng.randn(60, 4)
    Y = X @ rng.randn(4, 3) + rng.randn(60, 3)
    Y[rng.uniform(size=Y.shape) < 0.3] = np.nan
    sw = rng.uniform(0.5, 2.0, 60)
    est = _fit(MultiTaskRegressor(penalty="l2", alpha=0.05), X, Y, sample_weight=sw)
    for t in range(3):
        rows = ~np.isnan(Y[:, t])
        ref = Ridge(alpha=0.05 * sw[rows].sum()).fit(X[rows], Y[rows, t],
                                                      sample_weight=sw[rows])
        np.testing.assert_allclose(est.coef_[t], ref.coef_, rtol=0, atol=1e-10)
        np.testing.assert_allclose(est.intercept_[t], ref.intercept_, rtol=0, atol=1e-10)


def _dense_solution(X, y, tasks, sw, K, alpha, fit_intercept=True):
    """Minimise sum_t sum_i s_i/(sum s) (y - x w_t - b_t)^2 / 2 + alpha/2 tr(W K W^T)
    by one dense solve of its normal equations, in (w_1, b_1, ..., w_T, b_T)."""
    T, p = K.shape[0], X.shape[1]
    q = p + 1
    H = np.zeros((T * q, T * q))
    g = np.zeros(T * q)
    for t in range(T):
        rows = tasks == t
        s = sw[rows] / sw[rows].sum()
        Z = np.column_stack([X[rows], np.ones(rows.sum())])
        H[t * q:(t + 1) * q, t * q:(t + 1) * q] += Z.T @ (s[:, None] * Z)
        g[t * q:(t + 1) * q] += Z.T @ (s * y[rows])
    P = np.kron(K, np.diag(np.r_[np.ones(p), 0.0]))  # the intercepts are free
    H += alpha * P
    if not fit_intercept:
        keep = np.tile(np.r_[np.ones(p, bool), False], T)
        sol = np.zeros(T * q)
        sol[keep] = np.linalg.solve(H[np.ix_(keep, keep)], g[keep])
    else:
        sol = np.linalg.solve(H, g)
    sol = sol.reshape(T, q)
    return sol[:, :p], sol[:, p]


ADJ = np.array([[0, 1, 0, 0.5, 0, 0], [1, 0, 2, 0, 0, 0], [0, 2, 0, 1, 0, 0],
                [0.5, 0, 1, 0, 0.3, 0], [0, 0, 0, 0.3, 0, 1], [0, 0, 0, 0, 1, 0.0]])


def _K(penalty, T):
    if isinstance(penalty, MeanRegularized):
        A = (1 - np.eye(T)) / T
    else:
        A = 1 - np.eye(T) if penalty.adjacency is None else np.asarray(
            penalty.adjacency.toarray() if sp.issparse(penalty.adjacency)
            else penalty.adjacency, float)
    return np.diag(A.sum(1)) - A + penalty.ridge * np.eye(T)


PENALTIES = [MeanRegularized(), MeanRegularized(ridge=0.0), GraphRegularized(),
             GraphRegularized(adjacency=ADJ, ridge=0.05),
             GraphRegularized(adjacency=sp.csr_matrix(ADJ), ridge=0.0)]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sizes", [None, [3] * 6], ids=["mixed", "n<p"])
@pytest.mark.parametrize("penalty", PENALTIES, ids=repr)
def test_mean_and_graph_equal_a_dense_solve(penalty, sizes, fit_intercept):
    X, y, tasks = _long(seed=2, sizes=sizes, p=5)
    sw = np.random.RandomState(3).uniform(0.5, 2.0, y.size)
    for alpha in (0.01, 0.7, 20.0):
        est = MultiTaskRegressor(penalty=penalty, alpha=alpha, fit_intercept=fit_intercept)
        _fit(est, X, y, tasks=tasks, sample_weight=sw)
        W, b = _dense_solution(X, y, tasks, sw, _K(penalty, 6), alpha, fit_intercept)
        np.testing.assert_allclose(est.coef_, W, rtol=0, atol=1e-10 * max(1, abs(W).max()))
        np.testing.assert_allclose(est.intercept_, b, rtol=0, atol=1e-9)


@pytest.mark.parametrize("penalty", ["mean", "graph", GraphRegularized(adjacency=ADJ[:4, :4])],
                         ids=repr)
def test_shared_rows_equal_a_dense_solve(penalty):
    rng = np.random.RandomState(4)
    X = rng.randn(50, 5)
    Y = X @ rng.randn(5, 4) + rng.randn(50, 4)
    est = _fit(MultiTaskRegressor(penalty=penalty, alpha=0.4), X, Y)
    tasks = np.repeat(np.arange(4), 50)
    pen = est.penalty if not isinstance(est.penalty, str) else \
        {"mean": MeanRegularized(), "graph": GraphRegularized()}[est.penalty]
    W, b = _dense_solution(np.tile(X, (4, 1)), Y.T.reshape(-1), tasks, np.ones(200),
                           _K(pen, 4), 0.4)
    np.testing.assert_allclose(est.coef_, W, rtol=0, atol=1e-10)
    np.testing.assert_allclose(est.intercept_, b, rtol=0, atol=1e-10)


def test_the_path_of_l2_is_ridge_and_factorizes_once(monkeypatch):
    X, y, tasks = _long(seed=5, T=5, p=6)
    calls = []
    eigh = np.linalg.eigh
    monkeypatch.setattr(np.linalg, "eigh", lambda *a, **k: calls.append(1) or eigh(*a, **k))
    _fit(MultiTaskRegressor(penalty="l2", alpha=1.0), X, y, tasks=tasks)
    one_fit = len(calls)
    calls.clear()
    alphas, coefs, intercepts, _ = multitask_path(MultiTaskRegressor(penalty="l2"), X, y,
                                                  tasks=tasks, alphas=12)
    assert 0 < len(calls) == one_fit  # one factorization for the 12 alphas
    for a, C, b in zip(alphas, coefs, intercepts):
        for t in range(5):
            rows = tasks == t
            ref = Ridge(alpha=a * rows.sum()).fit(X[rows], y[rows])
            np.testing.assert_allclose(C[t], ref.coef_, rtol=0, atol=1e-10)
            np.testing.assert_allclose(b[t], ref.intercept_, rtol=0, atol=1e-10)


def test_the_dual_gap_is_rounding_and_nan_without_a_dual():
    X, y, tasks = _long(seed=6)
    est = _fit(MultiTaskRegressor(penalty="mean", alpha=0.5), X, y, tasks=tasks)
    scale = sum(np.var(y[tasks == t]) for t in range(6))
    assert 0 <= est.dual_gap_ <= 1e-12 * scale
    est = _fit(MultiTaskRegressor(penalty=MeanRegularized(ridge=0.0), alpha=0.5), X, y,
               tasks=tasks)
    assert np.isnan(est.dual_gap_)


@pytest.mark.parametrize("penalty", ["l21", "l1", "trace", "dirty", "l2", "mean"])
def test_alpha_zero_on_small_scale_features_is_least_squares(penalty):
    """issue 16, item 4: at alpha = 0, X * 1e-8 is solved as exactly as X."""
    rng = np.random.RandomState(7)
    X = rng.randn(80, 4) * 1e-8
    Y = X @ (rng.randn(4, 3) * 1e8) + rng.randn(80, 3)
    est = _fit(MultiTaskRegressor(penalty=penalty, alpha=0.0), X, Y)
    ref = LinearRegression().fit(X, Y)
    np.testing.assert_allclose(est.coef_ * 1e-8, ref.coef_ * 1e-8, rtol=1e-9, atol=0)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=0, atol=1e-9)


@pytest.mark.parametrize("precompute", [True, False])
def test_alpha_zero_with_fista_reaches_least_squares_on_small_scale_features(precompute):
    """FISTA itself at alpha = 0 (the Problem without its least-squares shortcut):
    its step follows the curvature down to X * 1e-8 (no 1e-12 floor that stops it
    at the first iterations with 50 % error)."""
    rng = np.random.RandomState(8)
    X = rng.randn(80, 4) * 1e-8
    Y = X @ (rng.randn(4, 3) * 1e8) + rng.randn(80, 3)
    est = MultiTaskRegressor(penalty="trace", solver="fista", precompute=precompute)
    problem = est._prepare(X, Y, None, None, "trace")
    fista_only = Problem(problem.datafit, problem.penalty, False)
    V, b, gap, n_iter, converged = fista_only.solve(0.0, *fista_only.start(),
                                                    max_iter=1000, tol=1e-4)
    ref = LinearRegression().fit(X, Y)
    assert converged
    scale = np.abs(ref.coef_).max()  # the broken floor: 50 % of it off
    np.testing.assert_allclose(V.T, ref.coef_, rtol=0, atol=1e-3 * scale)
    np.testing.assert_allclose(b, ref.intercept_, rtol=0, atol=1e-2)


def test_cv_of_the_quadratic_penalties_converges_on_a_hard_problem():
    """40 tasks of 15 rows, 18 strongly correlated features: the whole default grid
    of the CV estimator, with no ConvergenceWarning."""
    rng = np.random.RandomState(9)
    T, n_t, p = 40, 15, 18
    Z = rng.randn(T * n_t, 3)
    X = Z @ rng.randn(3, p) + 0.05 * rng.randn(T * n_t, p)  # rank ~3 plus noise
    tasks = np.repeat(np.arange(T), n_t)
    w = rng.randn(p)
    y = X @ w + 0.3 * np.repeat(rng.randn(T), n_t) + rng.randn(T * n_t)
    for penalty in ("l2", "mean"):
        model = _fit(MultiTaskRegressorCV(penalty=penalty, cv=3), X, y, tasks=tasks)
        # the default grid of 100, grown past its smallest alpha if the best lies there
        assert model.mse_path_.shape == (model.alphas_.size, 3)
        assert model.alphas_.size >= 100


# ----------------------------------------------------- explicit solver choices
@pytest.mark.parametrize("penalty", ["l2", "mean", "graph"])
def test_solver_exact_is_the_auto_choice_and_equals_fista(penalty):
    X, y, tasks = _long(p=6)
    kw = dict(penalty=penalty, alpha=0.1)
    exact = _fit(MultiTaskRegressor(solver="exact", **kw), X, y, tasks=tasks)
    auto = _fit(MultiTaskRegressor(**kw), X, y, tasks=tasks)
    fista = _fit(MultiTaskRegressor(solver="fista", tol=1e-14, max_iter=100000, **kw),
                 X, y, tasks=tasks)
    assert exact.n_iter_ == 1
    np.testing.assert_array_equal(exact.coef_, auto.coef_)
    np.testing.assert_allclose(exact.coef_, fista.coef_, rtol=0, atol=1e-5)  # fista


@pytest.mark.parametrize("penalty", ["trace", "cluster", "dirty", "l21"])
def test_solver_admm_equals_fista(penalty):
    X, y, tasks = _long(p=6, sizes=[30] * 6)
    kw = dict(penalty=penalty, alpha=0.05, tol=1e-12, max_iter=100000)
    admm = MultiTaskRegressor(solver="admm", **kw)
    assert admm._prepare(X, y, tasks, None, penalty).solver.name == "admm"
    _fit(admm, X, y, tasks=tasks)
    fista = _fit(MultiTaskRegressor(solver="fista", **kw), X, y, tasks=tasks)
    scale = np.abs(fista.coef_).max()
    np.testing.assert_allclose(admm.coef_, fista.coef_, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("solver, penalty, kw, match", [
    ("exact", "l21", {}, r"solver='exact' needs a quadratic penalty \('l2', 'mean', "
                         r"'graph'\), not L21"),
    ("exact", "trace", {}, "not TraceNorm"),
    ("admm", "graph", {},
     r"solver='admm' needs a penalty with a prox and a duality gap"),
    ("exact", "l2", dict(positive=True), r"needs positive=False"),
])
def test_explicit_solvers_name_what_they_need(solver, penalty, kw, match):
    X, y, tasks = _long()
    if penalty == "graph":
        penalty = GraphRegularized(ridge=0.0)  # no finite dual: ADMM cannot stop
    with pytest.raises(ValueError, match=match):
        MultiTaskRegressor(penalty, alpha=0.1, solver=solver, **kw).fit(X, y, tasks=tasks)


@pytest.mark.parametrize("solver", ["exact", "admm"])
def test_explicit_solvers_need_the_squared_loss(solver):
    from skmtl import MultiTaskClassifier

    X, y, tasks = _long()
    penalty = "l2" if solver == "exact" else "trace"
    with pytest.raises(ValueError, match=rf"solver='{solver}' needs the squared loss, "
                                         r"not loss='logistic'"):
        MultiTaskClassifier(penalty, alpha=0.1, solver=solver).fit(X, y > np.median(y))


def test_explicit_solvers_need_a_factorization_that_fits(monkeypatch):
    from skmtl.linear import _problem

    X, y, tasks = _long()
    monkeypatch.setattr(_problem, "factorizable", lambda *a, **k: False)
    with pytest.raises(ValueError, match=r"solver='exact' needs a factorization of the "
                                         r"Gram matrices that fits in memory \(6 outputs"):
        MultiTaskRegressor("l2", alpha=0.1, solver="exact").fit(X, y, tasks=tasks)
    # auto falls back to an iterative solver
    est = _fit(MultiTaskRegressor("l2", alpha=0.1, tol=1e-12, max_iter=100000), X, y,
               tasks=tasks)
    assert est.n_iter_ > 1


@pytest.mark.parametrize("penalty", ["trace", "dirty"])
def test_admm_rho_survives_extreme_scales(penalty):
    """rho is the geometric mean of the Gram's eigenvalues: with X of scale 1e-81
    their product underflows (it was a ZeroDivisionError in alpha / rho)."""
    rng = np.random.RandomState(0)
    X, Y = rng.randn(40, 3), rng.randn(40, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MultiTaskRegressor(penalty, alpha=0.1, solver="admm").fit(1e-81 * X, 1e81 * Y)
    assert np.isfinite(est.predict(1e-81 * X)).all()
