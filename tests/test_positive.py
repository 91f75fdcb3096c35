"""``positive=True``: the coefficients constrained to be non-negative.

The constrained problem of l21, l1, l2 and their elastic mixes, against
scikit-learn's ``Lasso`` / ``ElasticNet`` / ``Ridge(positive=True)``, scipy's
``nnls`` and cvxpy; by coordinate descent and FISTA, in every format, with the
logistic loss; and the refusals.
"""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize, nnls
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, Ridge

from skmtl import MultiTaskClassifier, MultiTaskRegressor, MultiTaskRegressorCV
from skmtl.linear import ElasticMix
from skmtl.linear._problem import Positive

rng = np.random.RandomState(0)
N, P = 60, 8
X = rng.randn(N, P)
W_TRUE = rng.randn(P, 3)  # about half negative: the constraint binds
Y = X @ W_TRUE + 0.3 * rng.randn(N, 3) + 1.0
y = Y[:, 0]
TIGHT = dict(tol=1e-14, max_iter=100000)


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return fn()


def _objective(est, X, y, alpha, l1_ratio=1.0):
    res = y - X @ est.coef_ - est.intercept_
    w = est.coef_
    return res @ res / (2 * len(y)) + alpha * (
        l1_ratio * np.abs(w).sum() + 0.5 * (1 - l1_ratio) * w @ w)


@pytest.mark.parametrize("solver", ["cd", "fista"])
def test_lasso_positive_equals_sklearns(solver):
    ref = Lasso(alpha=0.05, positive=True, tol=1e-12, max_iter=100000).fit(X, y)
    ours = _quiet(lambda: MultiTaskRegressor("l1", alpha=0.05, positive=True,
                                             solver=solver, **TIGHT).fit(X, y))
    assert (ref.coef_ == 0).sum() > 0 and np.all(ours.coef_ >= 0)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-8)


@pytest.mark.parametrize("penalty, ref", [
    ("l1", Lasso(alpha=0.05, positive=True)),
    (ElasticMix("l1", l1_ratio=0.3), ElasticNet(alpha=0.05, l1_ratio=0.3, positive=True)),
], ids=["lasso", "elastic_net"])
def test_at_the_default_tol_the_gap_certifies_what_tol_promises(penalty, ref):
    """At the default tol (sklearn's too) the solution is within its duality gap
    of the optimum, and the gap within ``tol`` times the label variance.
    (sklearn's coordinate descent checks its gap only once its steps are small,
    so it lands far below its tol: 1e-6 agreement with it there is not a promise
    of tol, and is not asserted.)"""
    r = getattr(penalty, "l1_ratio", 1.0)
    ours = _quiet(lambda: MultiTaskRegressor(penalty, alpha=0.05, positive=True).fit(X, y))
    best = _quiet(lambda: MultiTaskRegressor(penalty, alpha=0.05, positive=True,
                                             **TIGHT).fit(X, y))
    ref.fit(X, y)
    gap_scale = 1e-4 * y.var()  # tol times the label variance, as sklearn's
    sub = _objective(ours, X, y, 0.05, r) - _objective(best, X, y, 0.05, r)
    assert -1e-12 <= sub <= ours.dual_gap_ * (1 + 1e-6) + 1e-14
    assert ours.dual_gap_ <= gap_scale
    assert _objective(ref, X, y, 0.05, r) - _objective(best, X, y, 0.05, r) <= gap_scale
    assert np.all(ours.coef_ >= 0)


def test_elastic_net_positive_equals_sklearns():
    ref = ElasticNet(alpha=0.05, l1_ratio=0.3, positive=True, tol=1e-12,
                     max_iter=100000).fit(X, y)
    ours = _quiet(lambda: MultiTaskRegressor(ElasticMix("l1", l1_ratio=0.3), alpha=0.05,
                                             positive=True, **TIGHT).fit(X, y))
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)


def test_ridge_positive_equals_sklearns_at_a_tight_tolerance():
    ref = Ridge(alpha=0.1 * N, positive=True, tol=1e-12).fit(X, y)  # lbfgs-b
    ours = _quiet(lambda: MultiTaskRegressor("l2", alpha=0.1, positive=True,
                                             **TIGHT).fit(X, y))
    assert (ours.coef_ == 0).sum() > 0
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)  # lbfgs's accuracy


def test_alpha_zero_is_nnls():
    ours = MultiTaskRegressor("l2", alpha=0.0, positive=True, fit_intercept=False,
                              tol=1e-14, max_iter=200000).fit(X, y)
    ref = nnls(X, y)[0]
    np.testing.assert_allclose(ours.coef_, ref, atol=1e-7)


def _l21_positive_cvxpy(X, Y, alpha):
    cp = pytest.importorskip("cvxpy")
    n, m = Y.shape
    W, b = cp.Variable((X.shape[1], m)), cp.Variable(m)
    R = X @ W + np.ones((n, 1)) @ cp.reshape(b, (1, m), order="C") - Y
    objective = cp.sum_squares(R) / (2 * n) + alpha * cp.sum(cp.norm(W, 2, axis=1))
    cp.Problem(cp.Minimize(objective), [W >= 0]).solve(solver="CLARABEL", tol_gap_abs=1e-12,
                                                      tol_gap_rel=1e-12, tol_feas=1e-12)
    return W.value


@pytest.mark.parametrize("solver", ["cd", "fista"])
def test_l21_positive_equals_cvxpy(solver):
    ref = _l21_positive_cvxpy(X, Y, 0.1)
    ours = _quiet(lambda: MultiTaskRegressor("l21", alpha=0.1, positive=True,
                                             solver=solver, **TIGHT).fit(X, Y))
    assert np.all(ours.coef_ >= 0) and (ours.coef_ == 0).any()
    np.testing.assert_allclose(ours.coef_.T, ref, atol=1e-6)


def test_l21_positive_in_the_long_format_is_each_tasks_own_problem():
    """Tasks of their own rows (per-task Grams, coordinate descent with screening):
    the l1 penalty decouples, so each task is ``Lasso(positive=True)``."""
    tasks = np.repeat([0, 1, 2], N // 3)
    est = _quiet(lambda: MultiTaskRegressor("l1", alpha=0.05, positive=True,
                                            **TIGHT).fit(X, y, tasks=tasks))
    for t in range(3):
        rows = tasks == t
        ref = Lasso(alpha=0.05, positive=True, tol=1e-12, max_iter=100000).fit(
            X[rows], y[rows])
        np.testing.assert_allclose(est.coef_[t], ref.coef_, atol=1e-8)


def test_the_gap_certifies_the_constrained_problem():
    """The duality gap uses the positive part's dual norm: at the reported
    convergence the objective is within the gap of cvxpy's optimum."""
    est = _quiet(lambda: MultiTaskRegressor("l21", alpha=0.1, positive=True,
                                            tol=1e-6).fit(X, Y))
    ref = _l21_positive_cvxpy(X, Y, 0.1)
    assert 0 <= est.dual_gap_ and np.abs(est.coef_.T - ref).max() < 1e-2
    # unconstrained, the same alpha gives negative coefficients
    assert (MultiTaskRegressor("l21", alpha=0.1).fit(X, Y).coef_ < 0).any()


def test_positive_alpha_max_zeroes_the_model():
    """alpha_max of the constrained problem: the dual norm of the positive part
    of the negative gradient (smaller than the unconstrained one here)."""
    grid = MultiTaskRegressorCV("l1", alphas=5, positive=True, cv=2).fit(X, y).alphas_
    free = MultiTaskRegressorCV("l1", alphas=5, cv=2).fit(X, y).alphas_
    Xc, yc = X - X.mean(0), y - y.mean()
    expected = max((Xc.T @ yc / N).max(), 0.0)
    np.testing.assert_allclose(grid[0], expected, rtol=1e-10)
    assert grid[0] <= free[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "every coefficient is zero"
        at_max = MultiTaskRegressor("l1", alpha=grid[0], positive=True).fit(X, y)
    assert not at_max.coef_.any()


def test_logistic_with_positive_coefficients_equals_a_bounded_solve():
    labels = (X @ W_TRUE[:, 0] + 0.3 * rng.randn(N) > 0).astype(int)
    a = 0.02
    est = _quiet(lambda: MultiTaskClassifier("l2", alpha=a, positive=True,
                                             **TIGHT).fit(X, labels))
    s = 2 * labels - 1

    def objective(z):
        w, b = z[:P], z[P]
        margin = s * (X @ w + b)
        loss = np.logaddexp(0, -margin).mean() + 0.5 * a * w @ w
        g = -s / (1 + np.exp(margin)) / N
        return loss, np.concatenate([X.T @ g + a * w, [g.sum()]])

    ref = minimize(objective, np.zeros(P + 1), jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * P + [(None, None)],
                   options=dict(ftol=1e-15, gtol=1e-12, maxiter=10000)).x
    assert (est.coef_ == 0).any() and np.all(est.coef_ >= 0)
    np.testing.assert_allclose(est.coef_.ravel(), ref[:P], atol=1e-6)
    np.testing.assert_allclose(est.intercept_, ref[P:], atol=1e-6)


def test_an_assigned_negative_coef_is_projected_before_the_solve():
    est = MultiTaskRegressor("l1", alpha=0.05, positive=True, warm_start=True, **TIGHT)
    est.fit(X, y)
    solution = est.coef_.copy()
    est.coef_ = -np.ones_like(est.coef_)
    _quiet(lambda: est.fit(X, y))
    np.testing.assert_allclose(est.coef_, solution, atol=1e-8)


@pytest.mark.parametrize("penalty", ["trace", "mean", "graph", "cluster", "dirty"])
def test_other_penalties_refuse_positive_naming_those_that_take_it(penalty):
    with pytest.raises(ValueError, match="positive=True takes the penalties 'l21', "
                                         "'l1', 'l2' and their ElasticMix"):
        MultiTaskRegressor(penalty, alpha=0.1, positive=True).fit(X, Y)


def test_exact_refuses_positive_and_auto_takes_an_iterative_solver():
    with pytest.raises(ValueError, match=r"solver='exact' needs positive=False"):
        MultiTaskRegressor("l2", alpha=0.1, positive=True, solver="exact").fit(X, Y)
    problem = MultiTaskRegressor("l2", positive=True)._prepare(X, Y, None, None, "l2")
    assert problem.solver.name == "admm" and isinstance(problem.penalty, Positive)
    fista = MultiTaskRegressor("l2", alpha=0.1, positive=True, solver="fista", **TIGHT)
    admm = MultiTaskRegressor("l2", alpha=0.1, positive=True, **TIGHT)
    np.testing.assert_allclose(_quiet(lambda: admm.fit(X, Y)).coef_,
                               _quiet(lambda: fista.fit(X, Y)).coef_, atol=1e-6)
    problem = MultiTaskRegressor("l21", positive=True)._prepare(X, Y, None, None, "l21")
    assert problem.solver.name == "cd"
