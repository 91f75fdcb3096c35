"""The dirty model with the paper's block l1/l-infinity norm on the shared part,
``Dirty(shared_norm="linf")`` (Jalali et al. 2010; MALSAR's ``Least_Dirty``),
against cvxpy as tests/test_reference.py checks the other penalties:

    Omega(P, Q) = (1 - r) sum_j max_t |P_jt| + r sum_jt |Q_jt|,   W = P + Q

its value and prox, the dual norm the duality gap and ``alpha_max`` use, the fitted
estimators' objective against cvxpy's optimum (with the gap bounding the
suboptimality), the regularization path's start, and ``GridSearchCV`` over
``penalty__shared_norm``.  The objective is recomputed here with numpy.
"""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from test_reference import (
    _solve,
    assert_objective_close,
    data_term_np,
    make_long,
    make_wide,
    split_long,
    split_wide,
)

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl.linear import Dirty, multitask_path
from skmtl.linear._penalties import _linf_shrink

cp = pytest.importorskip("cvxpy")

FIT = dict(tol=1e-10, max_iter=20000)


def ratio(m, l1_ratio=None):
    """The default for "linf": 1 / (1 + sqrt(m)), the middle (in the odds) of the
    range (1 / (1 + m), 1 / 2) where both parts are used."""
    return 1.0 / (1.0 + np.sqrt(m)) if l1_ratio is None else l1_ratio


def omega_np(V, r):
    T = V.shape[1] // 2
    P, Q = V[:, :T], V[:, T:]
    return (1 - r) * np.abs(P).max(axis=1).sum() + r * np.abs(Q).sum()


def cp_variable(p, T, r):
    P, Q = cp.Variable((p, T)), cp.Variable((p, T))
    om = (1 - r) * cp.sum(cp.max(cp.abs(P), axis=1)) + r * cp.sum(cp.abs(Q))
    return cp.hstack([P, Q]), P + Q, om


def bound(T, l1_ratio=None):
    return Dirty(l1_ratio=l1_ratio, shared_norm="linf").bind(
        np.arange(T), np.zeros(T, dtype=int))


def random_var(p, T, seed):
    rng = np.random.RandomState(seed)
    V = rng.standard_normal((p, 2 * T))
    V[0] *= 0.05  # a small row: zeroed by the prox
    V[1, :T] = 0.7  # a row with ties at its maximum
    return V


# --------------------------------------------------------------------------------------
# The penalty
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("l1_ratio", [None, 0.3])
def test_value(l1_ratio):
    pen = bound(4, l1_ratio)
    assert pen.ratio_ == ratio(4, l1_ratio)
    V = random_var(6, 4, 0)
    np.testing.assert_allclose(pen.value(V), omega_np(V, ratio(4, l1_ratio)), rtol=1e-12)


@pytest.mark.parametrize("step", [0.3, 1.5])
@pytest.mark.parametrize("shape", [(6, 4), (3, 5)], ids=["p>T", "p<T"])
@pytest.mark.parametrize("l1_ratio", [None, 0.3])
def test_prox_vs_cvxpy(l1_ratio, shape, step):
    p, T = shape
    r = ratio(T, l1_ratio)
    pen = bound(T, l1_ratio)
    V = random_var(p, T, seed=10)
    U = pen.prox(V, step)

    def obj(A):
        return 0.5 * ((A - V) ** 2).sum() + step * omega_np(A, r)

    Uvar, _, om = cp_variable(p, T, r)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(Uvar - V) + step * om))
    _solve(prob)
    ref = obj(Uvar.value)
    assert_objective_close(obj(U), ref, rtol=1e-7)
    # 1-strongly convex: obj(A) - obj(U) >= ||A - U||^2 / 2 at A = cvxpy's point
    assert 0.5 * ((U - Uvar.value) ** 2).sum() <= max(ref - obj(U), 0.0) + 1e-10
    np.testing.assert_allclose(U, Uvar.value, rtol=0, atol=1e-5)


def test_prox_beats_perturbations():
    T = 4
    pen = bound(T)
    rng = np.random.RandomState(11)
    for seed, step in [(0, 0.2), (1, 1.0), (2, 4.0)]:
        V = random_var(6, T, seed)
        U = pen.prox(V, step)

        def obj(A):
            return 0.5 * ((A - V) ** 2).sum() + step * omega_np(A, pen.ratio_)

        f0 = obj(U)
        for eps in (1e-2, 1e-5):
            for _ in range(60):
                D = rng.standard_normal(V.shape) * (rng.uniform(size=V.shape) < 0.5)
                assert obj(U + eps * D / np.linalg.norm(D)) >= f0 - 1e-12 * max(1, f0)


def test_linf_shrink_cases():
    """Rows inside the l1 ball of radius step vanish; the others are clipped at the
    level theta where the clipped-off mass is step; step 0 is the identity."""
    V = np.array([[0.2, -0.1, 0.05], [3.0, -1.0, 0.5], [1.0, -1.0, 1.0], [0, 0, 0.0]])
    U = _linf_shrink(V, 0.5)
    np.testing.assert_array_equal(U[0], 0.0)  # ||row||_1 = 0.35 <= 0.5
    np.testing.assert_allclose(U[1], [2.5, -1.0, 0.5])  # theta = 2.5
    np.testing.assert_allclose(U[2], [5 / 6, -5 / 6, 5 / 6])  # ties: 3 (1 - theta) = .5
    np.testing.assert_array_equal(U[3], 0.0)
    for row, u in zip(V, U):  # Moreau: row - u is the projection on the l1 ball
        assert np.abs(row - u).sum() <= 0.5 + 1e-12
    np.testing.assert_array_equal(_linf_shrink(V, 0.0), V)
    assert _linf_shrink(np.zeros((2, 0)), 1.0).shape == (2, 0)


@pytest.mark.parametrize("l1_ratio", [None, 0.3])
def test_dual_norm_vs_cvxpy(l1_ratio):
    """The dual norm of W -> min over P + Q = W of Omega(P, Q): max <G, P + Q> over
    Omega(P, Q) <= 1, solved by cvxpy."""
    p, T = 6, 4
    r = ratio(T, l1_ratio)
    pen = bound(T, l1_ratio)
    rng = np.random.RandomState(3)
    for _ in range(3):
        G = rng.standard_normal((p, T))
        _, W, om = cp_variable(p, T, r)
        ref = _solve(cp.Problem(cp.Maximize(cp.sum(cp.multiply(G, W))), [om <= 1]))
        np.testing.assert_allclose(pen.dual_norm(G), ref, rtol=1e-6)
        # and by hand: the largest row l1 norm over 1 - r, the largest entry over r
        expect = max(np.abs(G).sum(axis=1).max() / (1 - r), np.abs(G).max() / r)
        np.testing.assert_allclose(pen.dual_norm(G), expect, rtol=1e-12)


# --------------------------------------------------------------------------------------
# Through the estimators
# --------------------------------------------------------------------------------------


def _fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def objective_np(est, parts, r, loss="squared"):
    V = np.hstack([est.coef_shared_.T, est.coef_specific_.T])
    np.testing.assert_allclose(est.coef_.T, V[:, :V.shape[1] // 2] + V[:, V.shape[1] // 2:],
                               atol=1e-12)
    return data_term_np(parts, est.coef_.T, est.intercept_, loss) + est.alpha * omega_np(V, r)


def cvx_optimum(parts, alpha, r, loss="squared"):
    p, T = parts[0][0].shape[1], len(parts)
    V, W, om = cp_variable(p, T, r)
    b = cp.Variable(T)
    data = 0
    for t, (Xt, yt, s) in enumerate(parts):
        z = Xt @ W[:, t] + b[t]
        if loss == "squared":
            data += 0.5 * cp.sum_squares(cp.multiply(np.sqrt(s), z - yt))
        else:
            data += cp.sum(cp.multiply(s, cp.logistic(z))) - (s * yt) @ z
    _solve(cp.Problem(cp.Minimize(data + alpha * om)))
    return data_term_np(parts, W.value, b.value, loss) + alpha * omega_np(V.value, r)


@pytest.mark.parametrize("l1_ratio", [None, 0.3])
def test_regression_long_weighted_vs_cvxpy(l1_ratio):
    X, y, tasks, sw = make_long(0)
    alpha = 0.05
    est = MultiTaskRegressor(penalty=Dirty(l1_ratio, shared_norm="linf"), alpha=alpha,
                             **FIT)
    _fit(est, X, y, tasks=tasks, sample_weight=sw)
    parts = split_long(X, y, tasks, sw)
    r = ratio(4, l1_ratio)
    ours, ref = objective_np(est, parts, r), cvx_optimum(parts, alpha, r)
    assert_objective_close(ours, ref)
    assert ours - ref <= est.dual_gap_ + 1e-8 * max(1.0, abs(ref))  # the gap bounds it
    # both parts in use: a mixed model, not pure l1/linf nor pure l1
    assert np.abs(est.coef_shared_).max() > 1e-3
    assert np.abs(est.coef_specific_).max() > 1e-3


@pytest.mark.parametrize("precompute", [True, False])
def test_regression_wide_missing_vs_cvxpy(precompute):
    X, Y, sw = make_wide(1)
    alpha = 0.05
    est = MultiTaskRegressor(penalty=Dirty(shared_norm="linf"), alpha=alpha,
                             precompute=precompute, **FIT)
    _fit(est, X, Y, sample_weight=sw)
    parts = split_wide(X, Y, sw)
    assert_objective_close(objective_np(est, parts, ratio(3)),
                           cvx_optimum(parts, alpha, ratio(3)))


def test_classifier_vs_cvxpy():
    X, y, tasks, sw = make_long(3, sizes=(40, 55, 60), classify=True)
    alpha = 0.01
    est = MultiTaskClassifier(penalty=Dirty(shared_norm="linf"), alpha=alpha, **FIT)
    _fit(est, X, y, tasks=tasks, sample_weight=sw)
    parts = split_long(X, np.asarray(y, float), tasks, sw)
    assert_objective_close(objective_np(est, parts, ratio(3), "logistic"),
                           cvx_optimum(parts, alpha, ratio(3), "logistic"))


def test_path_starts_at_alpha_max():
    """The path's first alpha is the dual norm of the gradient at W = 0 (intercepts
    at the task means), computed here: there W is zero, just below it is not."""
    X, y, tasks, sw = make_long(2)
    est = MultiTaskRegressor(penalty=Dirty(shared_norm="linf"), tol=1e-10)
    alphas, coefs, _, _ = multitask_path(est, X, y, tasks=tasks, sample_weight=sw,
                                         alphas=3, eps=0.5)
    G = np.column_stack([-Xt.T @ (s * (yt - s @ yt))
                         for Xt, yt, s in split_long(X, y, tasks, sw)])
    r = ratio(4)
    expect = max(np.abs(G).sum(axis=1).max() / (1 - r), np.abs(G).max() / r)
    np.testing.assert_allclose(alphas[0], expect, rtol=1e-9)
    assert np.all(coefs[0] == 0)
    below = clone(est).set_params(alpha=alphas[0] * (1 - 1e-3))
    assert np.abs(below.fit(X, y, tasks=tasks, sample_weight=sw).coef_).max() > 0


def test_ratio_at_half_leaves_q_zero():
    """From l1_ratio = 1/2 on, an entry never costs less in Q (|q| >= its row's
    max): Q stays zero and the model is the l1/l-infinity block norm alone."""
    X, y, tasks, sw = make_long(0)
    est = MultiTaskRegressor(penalty=Dirty(0.55, shared_norm="linf"), alpha=0.03, **FIT)
    _fit(est, X, y, tasks=tasks, sample_weight=sw)
    np.testing.assert_array_equal(est.coef_specific_, 0.0)
    assert np.abs(est.coef_shared_).max() > 1e-2


def test_grid_search_over_shared_norm():
    X, Y, _ = make_wide(4, n=90, frac_missing=0.0)
    est = MultiTaskRegressor(penalty=Dirty(), alpha=0.05)
    assert est.get_params()["penalty__shared_norm"] == "l2"  # the default, unchanged
    search = GridSearchCV(est, {"penalty__shared_norm": ["l2", "linf"],
                                "penalty__l1_ratio": [0.3, None]}, cv=2)
    search.fit(X, Y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.penalty.shared_norm in ("l2", "linf")
    fitted = clone(est).set_params(penalty__shared_norm="linf").fit(X, Y)
    ref = MultiTaskRegressor(penalty=Dirty(shared_norm="linf"), alpha=0.05).fit(X, Y)
    np.testing.assert_array_equal(fitted.coef_, ref.coef_)


def test_invalid_shared_norm():
    with pytest.raises(ValueError, match="shared_norm"):
        MultiTaskRegressor(penalty=Dirty(shared_norm="l1")).fit(*make_wide(0)[:2])
