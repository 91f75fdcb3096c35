"""Every penalty's solution against an independent solver (cvxpy).

The objective is recomputed here from ``coef_``/``intercept_`` with numpy (never with
the package's own datafit or penalty code) and compared with the optimum cvxpy finds
for the same problem written from its definition:

    sum_t 1/(sum_{i in t} s_i) sum_{i in t} s_i loss(y_i, x_i . w_t + b_t) + alpha Omega(W)

Besides, the KKT conditions of the norm penalties, the reported duality gap, the
agreement with sklearn's ``MultiTaskLasso`` and each penalty's ``value``/``prox`` are
checked.  Problems are small (n_t ~ 30-60 rows, p ~ 6, T ~ 3-4) so that the whole file
runs in well under a minute.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import brentq
from scipy.special import xlogy
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import MultiTaskLasso

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl.linear import (
    L1,
    L2,
    L21,
    ClusteredNorm,
    Dirty,
    GraphRegularized,
    MeanRegularized,
    TraceNorm,
)

cp = pytest.importorskip("cvxpy")

RTOL = 1e-5  # relative agreement of objective values with cvxpy
NORMS = ("l21", "l1", "trace", "dirty")


def fit_params(spec):
    """Tight tolerances: 1e-10 on the duality gap.  A penalty without a dual (graph
    with ridge=0) stops on the relative size of a proximal-gradient step, which in
    design space stalls near 1e-10 from rounding (tens of thousands of iterations
    where 1e-9 takes a few hundred), so 1e-9 there."""
    no_dual = spec.kind == "graph" and spec.params.get("ridge", 0.1) == 0
    return dict(tol=1e-9 if no_dual else 1e-10, max_iter=20000)


# A task graph with one missing edge and unequal weights (4 tasks).
ADJ4 = np.array(
    [
        [0.0, 1.0, 0.5, 0.0],
        [1.0, 0.0, 2.0, 0.3],
        [0.5, 2.0, 0.0, 1.0],
        [0.0, 0.3, 1.0, 0.0],
    ]
)


# --------------------------------------------------------------------------------------
# Penalty specifications: the estimator's argument, and Omega written independently in
# numpy and in cvxpy.  ``V`` is the penalty's variable: W itself, or [P | Q] for Dirty.
# --------------------------------------------------------------------------------------


class Spec:
    def __init__(self, kind, alpha, **params):
        self.kind, self.alpha, self.params = kind, alpha, params

    def __repr__(self):
        extra = ",".join(f"{k}={v if not isinstance(v, np.ndarray) else 'A'}"
                         for k, v in self.params.items())
        return f"{self.kind}({extra})" if extra else self.kind

    def estimator_penalty(self):
        """A string for the defaults, an object otherwise."""
        if not self.params:
            return self.kind
        cls = {
            "mean": MeanRegularized,
            "graph": GraphRegularized,
            "cluster": ClusteredNorm,
            "dirty": Dirty,
        }[self.kind]
        return cls(**self.params)

    def penalty_object(self):
        cls = {
            "l21": L21,
            "l1": L1,
            "l2": L2,
            "trace": TraceNorm,
            "mean": MeanRegularized,
            "graph": GraphRegularized,
            "cluster": ClusteredNorm,
            "dirty": Dirty,
        }[self.kind]
        return cls(**self.params)

    # defaults of the package, restated
    @property
    def ridge(self):
        return self.params.get("ridge", 0.1)

    @property
    def eta(self):
        return self.params.get("eta", 1.0)

    def l1_ratio(self, m):
        """m: outputs (columns of W); the default is 1 / (1 + m^(1/4))."""
        return self.params.get("l1_ratio", 1 / (1 + m ** 0.25))

    def n_clusters(self, T):
        return min(self.params.get("n_clusters", 2), T)

    def adjacency(self, T):
        A = self.params.get("adjacency")
        return 1.0 - np.eye(T) if A is None else np.asarray(A, float)

    def n_var_cols(self, T):
        return 2 * T if self.kind == "dirty" else T

    # ---- numpy ---------------------------------------------------------------------
    def omega_np(self, V):
        k = self.kind
        if k == "dirty":
            T = V.shape[1] // 2
            P, Q = V[:, :T], V[:, T:]
            r = self.l1_ratio(T)
            return (1 - r) * np.linalg.norm(P, axis=1).sum() + r * np.abs(Q).sum()
        W = V
        T = W.shape[1]
        if k == "l21":
            return np.linalg.norm(W, axis=1).sum()
        if k == "l1":
            return np.abs(W).sum()
        if k == "l2":
            return 0.5 * (W**2).sum()
        if k == "trace":
            return np.linalg.svd(W, compute_uv=False).sum()
        if k == "mean":
            dev = W - W.mean(axis=1, keepdims=True)
            return 0.5 * (dev**2).sum() + 0.5 * self.ridge * (W**2).sum()
        if k == "graph":
            A = self.adjacency(T)
            tot = sum(
                A[s, t] * ((W[:, s] - W[:, t]) ** 2).sum()
                for s in range(T)
                for t in range(s + 1, T)
            )
            return 0.5 * tot + 0.5 * self.ridge * (W**2).sum()
        if k == "cluster":
            return self.cluster_closed_form(W)
        raise AssertionError(k)

    def cluster_closed_form(self, W):
        """The clustered norm through the eigenvalues a_i of W^T W: the optimal M
        shares W^T W's eigenvectors, so Omega = c min_mu sum a_i / (eta + mu_i) over
        0 <= mu <= 1, sum mu = k; by KKT mu_i = clip(tau sqrt(a_i) - eta, 0, 1).
        Solved here with brentq (precise to ~1e-15, where an SDP gives ~1e-9);
        checked against the SDP definition in test_penalty_value_matches_definition.
        """
        T = W.shape[1]
        k, eta = self.n_clusters(T), self.eta
        a = np.clip(np.linalg.eigvalsh(W.T @ W), 0.0, None)
        sig = np.sqrt(a)
        pos = sig > 1e-150
        if pos.sum() <= k:
            mu = pos.astype(float)
        else:
            def excess(tau):
                return np.clip(tau * sig - eta, 0.0, 1.0).sum() - k

            hi = (eta + 1.0) / sig[pos].min()
            tau = brentq(excess, 0.0, hi, xtol=1e-15 * hi, rtol=1e-15, maxiter=500)
            mu = np.clip(tau * sig - eta, 0.0, 1.0)
        return eta * (1 + eta) * np.sum(a / (eta + mu))

    def cluster_sdp(self, W):
        """The definition, min over M, as a (tiny) SDP with W fixed."""
        T = W.shape[1]
        M, cons = self._cluster_M(T)
        prob = cp.Problem(cp.Minimize(cp.matrix_frac(W.T, self.eta * np.eye(T) + M)), cons)
        return self.eta * (1 + self.eta) * _solve(prob)

    # ---- cvxpy ---------------------------------------------------------------------
    def _cluster_M(self, T):
        M = cp.Variable((T, T), symmetric=True)
        cons = [M >> 0, np.eye(T) - M >> 0, cp.trace(M) == self.n_clusters(T)]
        return M, cons

    def cp_variable(self, p, T):
        """cvxpy variable V (as an expression), W = coef(V), Omega(V), constraints."""
        if self.kind == "dirty":
            P, Q = cp.Variable((p, T)), cp.Variable((p, T))
            r = self.l1_ratio(T)
            om = (1 - r) * cp.sum(cp.norm(P, 2, axis=1)) + r * cp.sum(cp.abs(Q))
            return cp.hstack([P, Q]), P + Q, om, []
        W = cp.Variable((p, T))
        return W, W, *self.omega_cp(W)

    def omega_cp(self, W):
        """Omega(W) as a cvxpy expression and its constraints (not for Dirty)."""
        k = self.kind
        T = W.shape[1]
        if k == "l21":
            return cp.sum(cp.norm(W, 2, axis=1)), []
        if k == "l1":
            return cp.sum(cp.abs(W)), []
        if k == "l2":
            return 0.5 * cp.sum_squares(W), []
        if k == "trace":
            return cp.normNuc(W), []
        if k == "mean":
            mean = cp.sum(W, axis=1, keepdims=True) / T
            dev = W - mean @ np.ones((1, T))
            return 0.5 * cp.sum_squares(dev) + 0.5 * self.ridge * cp.sum_squares(W), []
        if k == "graph":
            A = self.adjacency(T)
            terms = [
                A[s, t] * cp.sum_squares(W[:, s] - W[:, t])
                for s in range(T)
                for t in range(s + 1, T)
                if A[s, t] > 0
            ]
            return 0.5 * cp.sum(cp.hstack(terms)) + 0.5 * self.ridge * cp.sum_squares(W), []
        if k == "cluster":
            M, cons = self._cluster_M(T)
            eta = self.eta
            return eta * (1 + eta) * cp.matrix_frac(W.T, eta * np.eye(T) + M), cons
        raise AssertionError(k)


def _solve(prob):
    """Clarabel (SOC, exponential and SDP cones) with tight tolerances.

    It sometimes stops "almost solved" (status optimal_inaccurate) short of 1e-9;
    the reduced tolerances it then meets are set to 1e-7 (default 5e-5), still far
    below the 1e-5 compared here, so that status is accepted without its warning.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        prob.solve(
            solver="CLARABEL",
            tol_gap_abs=1e-9,
            tol_gap_rel=1e-9,
            tol_feas=1e-9,
            tol_ktratio=1e-7,
            reduced_tol_gap_abs=1e-7,
            reduced_tol_gap_rel=1e-7,
            reduced_tol_feas=1e-7,
            reduced_tol_ktratio=1e-5,
            max_iter=500,
        )
    assert prob.status in ("optimal", "optimal_inaccurate"), prob.status
    return prob.value


# One spec per penalty, plus non-default parameters for the parametrised ones.
REG_SPECS = [
    Spec("l21", 0.08),
    Spec("l1", 0.03),
    Spec("l2", 0.1),
    Spec("trace", 0.1),
    Spec("mean", 1.0),
    Spec("mean", 0.5, ridge=0.5),
    Spec("graph", 0.5),
    Spec("graph", 0.5, adjacency=ADJ4, ridge=0.05),
    Spec("cluster", 0.1),
    Spec("cluster", 0.2, n_clusters=3, eta=0.4),
    Spec("dirty", 0.08),
    Spec("dirty", 0.05, l1_ratio=0.3),
]


# --------------------------------------------------------------------------------------
# Data and independent objective
# --------------------------------------------------------------------------------------


def _loss_np(z, y, loss):
    if loss == "squared":
        return 0.5 * (y - z) ** 2
    if loss == "logistic":
        return np.logaddexp(0.0, z) - y * z
    if loss == "squared_hinge":
        return 0.5 * np.maximum(0.0, 1.0 - y * z) ** 2
    raise AssertionError(loss)


def _loss_cp(z, y, s, loss):
    if loss == "squared":
        return 0.5 * cp.sum_squares(cp.multiply(np.sqrt(s), z - y))
    if loss == "logistic":
        return cp.sum(cp.multiply(s, cp.logistic(z))) - (s * y) @ z
    if loss == "squared_hinge":
        return 0.5 * cp.sum_squares(cp.multiply(np.sqrt(s), cp.pos(1 - cp.multiply(y, z))))
    raise AssertionError(loss)


def _encode(y, loss):
    """Binary labels {0, 1} as the loss sees them."""
    y = np.asarray(y, float)
    return 2.0 * y - 1.0 if loss == "squared_hinge" else y


def _true_coef(rng, p, T, n_zero=2):
    shared = rng.standard_normal(p)
    W = shared[:, None] + 0.5 * rng.standard_normal((p, T))
    W[p - n_zero:] = 0.0  # a few irrelevant features
    return W


def make_long(seed, sizes=(30, 45, 60, 38), p=6, classify=False, weights=True):
    """Long format: rows of the tasks shuffled together, unequal task sizes."""
    rng = np.random.RandomState(seed)
    T = len(sizes)
    W = _true_coef(rng, p, T)
    tasks = np.repeat(np.arange(T), sizes)
    rng.shuffle(tasks)
    n = tasks.size
    X = rng.standard_normal((n, p))
    X[:, 0] += 1.0  # a non-centered feature: the intercept matters
    z = np.einsum("ij,ji->i", X, W[:, tasks]) + 0.3 * tasks
    if classify:
        y = (z + 0.8 * rng.standard_normal(n) > 0.5).astype(int)
    else:
        y = z + 0.5 * rng.standard_normal(n) + 1.0
    sw = rng.uniform(0.2, 2.0, n) if weights else None
    return X, y, tasks, sw


def split_long(X, y, tasks, sw):
    """Per-task (X_t, y_t, s_t) with weights normalised to sum to one."""
    out = []
    sw = np.ones(len(y)) if sw is None else sw
    for t in np.unique(tasks):
        m = tasks == t
        out.append((X[m], np.asarray(y)[m], sw[m] / sw[m].sum()))
    return out


def make_wide(seed, n=60, p=6, T=3, frac_missing=0.25, weights=True):
    rng = np.random.RandomState(seed)
    W = _true_coef(rng, p, T)
    X = rng.standard_normal((n, p))
    X[:, 1] -= 0.7
    Y = X @ W + 0.5 * rng.standard_normal((n, T)) + np.arange(T)
    Y[rng.uniform(size=(n, T)) < frac_missing] = np.nan
    sw = rng.uniform(0.2, 2.0, n) if weights else None
    return X, Y, sw


def split_wide(X, Y, sw):
    out = []
    sw = np.ones(X.shape[0]) if sw is None else sw
    for t in range(Y.shape[1]):
        m = ~np.isnan(Y[:, t])
        out.append((X[m], Y[m, t], sw[m] / sw[m].sum()))
    return out


def data_term_np(parts, W, b, loss):
    return sum(
        np.dot(s, _loss_np(Xt @ W[:, t] + b[t], yt, loss))
        for t, (Xt, yt, s) in enumerate(parts)
    )


def variable_of(est, spec):
    """The penalty variable of a fitted estimator: W, or [P | Q] for Dirty."""
    if spec.kind == "dirty":
        assert np.allclose(est.coef_, est.coef_shared_ + est.coef_specific_, atol=1e-12)
        return np.hstack([est.coef_shared_.T, est.coef_specific_.T])
    return est.coef_.T


def objective_np(est, parts, spec, loss="squared"):
    W, b = est.coef_.T, est.intercept_
    return data_term_np(parts, W, b, loss) + spec.alpha * spec.omega_np(variable_of(est, spec))


def cvx_optimum(parts, spec, loss="squared", fit_intercept=True):
    """The optimum found by cvxpy, as the objective (numpy) at cvxpy's solution.

    Evaluated here rather than taken from the solver, it is an upper bound on the
    true optimum whatever the solver's feasibility tolerance.
    """
    p, T = parts[0][0].shape[1], len(parts)
    V, W, om, cons = spec.cp_variable(p, T)
    b = cp.Variable(T) if fit_intercept else np.zeros(T)
    data = sum(
        _loss_cp(Xt @ W[:, t] + b[t], yt, s, loss) for t, (Xt, yt, s) in enumerate(parts)
    )
    prob = cp.Problem(cp.Minimize(data + spec.alpha * om), cons)
    reported = _solve(prob)
    b_val = b.value if fit_intercept else b
    value = data_term_np(parts, W.value, b_val, loss) + spec.alpha * spec.omega_np(V.value)
    assert abs(value - reported) <= 1e-6 * max(1.0, abs(value)), (value, reported)
    return value


def assert_objective_close(ours, ref, rtol=RTOL):
    assert abs(ours - ref) <= rtol * max(1.0, abs(ref)), (
        f"objective {ours!r} vs cvxpy {ref!r}: difference {ours - ref:.3e}"
    )


def _fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # must converge
        return est.fit(*args, **kwargs)


# --------------------------------------------------------------------------------------
# 1-3. Objective at the solution against cvxpy's optimum
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", REG_SPECS, ids=repr)
def test_regression_long_weighted_vs_cvxpy(spec):
    X, y, tasks, sw = make_long(0)
    est = MultiTaskRegressor(penalty=spec.estimator_penalty(), alpha=spec.alpha,
                             **fit_params(spec))
    _fit(est, X, y, tasks=tasks, sample_weight=sw)
    assert est.coef_.shape == (4, X.shape[1])
    parts = split_long(X, y, tasks, sw)
    ours = objective_np(est, parts, spec)
    ref = cvx_optimum(parts, spec)
    assert_objective_close(ours, ref)
    # the solution is not trivial (alpha is not so large that W = 0)
    assert np.abs(est.coef_).max() > 1e-2


@pytest.mark.parametrize(
    "spec",
    [Spec("l21", 0.08), Spec("trace", 0.1), Spec("mean", 1.0), Spec("l1", 0.03),
     Spec("graph", 0.5, adjacency=ADJ4[:3, :3], ridge=0.05), Spec("cluster", 0.1),
     Spec("dirty", 0.08)],
    ids=repr,
)
@pytest.mark.parametrize("precompute", [True, False])
def test_regression_wide_missing_vs_cvxpy(spec, precompute):
    X, Y, sw = make_wide(1)
    est = MultiTaskRegressor(
        penalty=spec.estimator_penalty(), alpha=spec.alpha, precompute=precompute,
        **fit_params(spec),
    )
    _fit(est, X, Y, sample_weight=sw)
    parts = split_wide(X, Y, sw)
    ours = objective_np(est, parts, spec)
    ref = cvx_optimum(parts, spec)
    assert_objective_close(ours, ref)
    # predictions in wide format use every task's own model
    np.testing.assert_allclose(est.predict(X), X @ est.coef_.T + est.intercept_,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", [Spec("l21", 0.08), Spec("mean", 1.0)], ids=repr)
def test_regression_no_intercept_vs_cvxpy(spec):
    X, y, tasks, sw = make_long(2)
    est = MultiTaskRegressor(
        penalty=spec.estimator_penalty(), alpha=spec.alpha, fit_intercept=False,
        **fit_params(spec),
    )
    _fit(est, X, y, tasks=tasks, sample_weight=sw)
    np.testing.assert_array_equal(est.intercept_, 0.0)
    parts = split_long(X, y, tasks, sw)
    ours = objective_np(est, parts, spec)
    ref = cvx_optimum(parts, spec, fit_intercept=False)
    assert_objective_close(ours, ref)


CLF_SPECS = [
    Spec("l21", 0.02),
    Spec("l1", 0.01),
    Spec("trace", 0.02),
    Spec("l2", 0.05),
    Spec("mean", 0.2),
    Spec("dirty", 0.02),
    Spec("cluster", 0.02),
]


@pytest.mark.parametrize("loss", ["logistic", "squared_hinge"])
@pytest.mark.parametrize("spec", CLF_SPECS, ids=repr)
def test_classifier_vs_cvxpy(spec, loss):
    X, y, tasks, sw = make_long(3, sizes=(40, 55, 60), classify=True)
    est = MultiTaskClassifier(
        penalty=spec.estimator_penalty(), alpha=spec.alpha, loss=loss, **fit_params(spec)
    )
    _fit(est, X, y, tasks=tasks, sample_weight=sw)
    assert est.coef_.shape == (3, X.shape[1])
    parts = split_long(X, _encode(y, loss), tasks, sw)
    ours = objective_np(est, parts, spec, loss)
    ref = cvx_optimum(parts, spec, loss)
    assert_objective_close(ours, ref)
    # decision_function scores classes_[1] = 1 with the fitted coefficients
    dec = est.decision_function(X, tasks=tasks)
    np.testing.assert_allclose(
        dec, np.einsum("ij,ij->i", X, est.coef_[tasks]) + est.intercept_[tasks],
        rtol=1e-10, atol=1e-10,
    )


def test_classifier_wide_missing_vs_cvxpy():
    X, Y, sw = make_wide(4, n=80)
    Yc = np.where(np.isnan(Y), np.nan, (Y > np.nanmedian(Y, axis=0)).astype(float))
    spec = Spec("l21", 0.02)
    est = MultiTaskClassifier(penalty="l21", alpha=spec.alpha, **fit_params(spec))
    _fit(est, X, Yc, sample_weight=sw)
    parts = split_wide(X, Yc, sw)
    assert_objective_close(objective_np(est, parts, spec, "logistic"),
                           cvx_optimum(parts, spec, "logistic"))


# --------------------------------------------------------------------------------------
# 4. sklearn's MultiTaskLasso
# --------------------------------------------------------------------------------------


def _mtl_data(seed=5, n=50, p=7, T=3):
    rng = np.random.RandomState(seed)
    W = _true_coef(rng, p, T, n_zero=3)
    X = rng.standard_normal((n, p))
    X[rng.uniform(size=X.shape) < 0.3] = 0.0  # some zeros, for the sparse variant
    X[:, 2] += 0.5
    Y = X @ W + 0.5 * rng.standard_normal((n, T)) + 2.0
    sw = rng.uniform(0.2, 2.0, n)
    return X, Y, sw


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("solver", ["cd", "fista"])
def test_l21_matches_sklearn_multitask_lasso(solver, precompute, sparse, weighted):
    X, Y, sw = _mtl_data()
    sw = sw if weighted else None
    alpha = 0.1
    Xf = sp.csr_matrix(X) if sparse else X
    ref = MultiTaskLasso(alpha=alpha, tol=1e-12, max_iter=100000)
    ref.fit(sp.csc_matrix(X) if sparse else X, Y, sample_weight=sw)
    est = MultiTaskRegressor(
        penalty="l21", alpha=alpha, solver=solver, precompute=precompute,
        tol=1e-10, max_iter=50000,
    )
    _fit(est, Xf, Y, sample_weight=sw)
    # the comparison is meaningful: some rows zero, some not
    zero_rows = np.all(ref.coef_ == 0, axis=0)
    assert 0 < zero_rows.sum() < X.shape[1]
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(est.predict(Xf), ref.predict(X), rtol=0, atol=1e-6)


@pytest.mark.parametrize("precompute", [True, False])
def test_fista_reaches_tight_tol(precompute):
    """FISTA certifies a 1e-12 relative duality gap on MultiTaskLasso's problem well
    within 2000 iterations (a few tens suffice for accelerated gradient with
    restart here) and then agrees with sklearn to 1e-9."""
    X, Y, _ = _mtl_data()
    ref = MultiTaskLasso(alpha=0.1, tol=1e-12, max_iter=100000).fit(X, Y)
    est = MultiTaskRegressor(alpha=0.1, solver="fista", precompute=precompute,
                             tol=1e-12, max_iter=2000)
    _fit(est, X, Y)
    scale = _tol_scale(split_wide(X, Y, None), "squared")
    assert 0 <= est.dual_gap_ <= 1e-12 * scale
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------------------
# 5. KKT conditions and the duality gap
# --------------------------------------------------------------------------------------


def _residual_gradient(z, y, s, loss):
    """Gradient of sum_i s_i loss(y_i, z_i) in z."""
    if loss == "squared":
        return s * (z - y)
    if loss == "logistic":
        return s * (1.0 / (1.0 + np.exp(-z)) - y)
    return -s * y * np.maximum(0.0, 1.0 - y * z)


def _gradients(parts, W, b, loss):
    """Gradient of the data term in W (p, T) and in b (T,), computed here."""
    G = np.zeros_like(W)
    gb = np.zeros(len(parts))
    for t, (Xt, yt, s) in enumerate(parts):
        r = _residual_gradient(Xt @ W[:, t] + b[t], yt, s, loss)
        G[:, t] = Xt.T @ r
        gb[t] = r.sum()
    return G, gb


KKT_CASES = [
    ("l21", "squared", "cd", True),
    ("l21", "squared", "fista", True),
    ("l21", "squared", "fista", False),
    ("l1", "squared", "fista", True),
    ("l1", "squared", "fista", False),
    ("l21", "logistic", "fista", "auto"),
    ("l1", "logistic", "fista", "auto"),
]


@pytest.mark.parametrize("penalty,loss,solver,precompute", KKT_CASES)
def test_kkt_norm_penalties(penalty, loss, solver, precompute):
    classify = loss != "squared"
    X, y, tasks, sw = make_long(6, classify=classify)
    alpha = {("l21", False): 0.2, ("l1", False): 0.03, ("l21", True): 0.08,
             ("l1", True): 0.03}[penalty, classify]
    Est = MultiTaskClassifier if classify else MultiTaskRegressor
    kw = {} if classify else {"precompute": precompute}  # the classifier has no Gram form
    est = Est(penalty=penalty, alpha=alpha, solver=solver, tol=1e-10, max_iter=50000,
              **kw)
    _fit(est, X, y, tasks=tasks, sample_weight=sw)
    W, b = est.coef_.T, est.intercept_
    G, gb = _gradients(split_long(X, _encode(y, loss), tasks, sw), W, b, loss)
    atol = 1e-4 * alpha
    np.testing.assert_allclose(gb, 0.0, atol=atol)  # free intercepts
    if penalty == "l21":
        norms = np.linalg.norm(W, axis=1)
        nz = norms > 0
        assert 0 < nz.sum() < W.shape[0], "want both zero and non-zero rows"
        np.testing.assert_allclose(G[nz], -alpha * W[nz] / norms[nz, None], atol=atol)
        assert np.all(np.linalg.norm(G[~nz], axis=1) <= alpha * (1 + 1e-4))
    else:
        nz = W != 0
        assert 0 < nz.sum() < W.size, "want both zero and non-zero entries"
        np.testing.assert_allclose(G[nz], -alpha * np.sign(W[nz]), atol=atol)
        assert np.all(np.abs(G[~nz]) <= alpha * (1 + 1e-4))


def _tol_scale(parts, loss):
    """What ``tol`` is relative to: with the squared loss, the sum over tasks of the
    weighted variance of y_t (as sklearn's MultiTaskLasso); otherwise the data term
    at zero."""
    if loss == "squared":
        return sum(np.dot(s, (yt - np.dot(s, yt)) ** 2) for _, yt, s in parts)
    return sum(np.dot(s, _loss_np(0.0 * yt, yt, loss)) for _, yt, s in parts)


def _loss_conjugate(u, y, loss):
    """Fenchel conjugate of z -> loss(y, z), at u (inside its domain)."""
    if loss == "squared":
        return u * y + 0.5 * u**2
    if loss == "logistic":
        q = u + y  # a probability
        assert np.all((q >= -1e-12) & (q <= 1 + 1e-12))
        q = np.clip(q, 0.0, 1.0)
        return xlogy(q, q) + xlogy(1 - q, 1 - q)
    if loss == "squared_hinge":
        assert np.all(y * u <= 1e-12)
        return u * y + 0.5 * u**2
    raise AssertionError(loss)


def _dual_norm(spec, G):
    k = spec.kind
    if k == "l21":
        return np.linalg.norm(G, axis=1).max()
    if k == "l1":
        return np.abs(G).max()
    if k == "trace":
        return np.linalg.svd(G, compute_uv=False).max()
    if k == "dirty":  # W -> min over P + Q = W of (1-r)|P|_21 + r|Q|_1
        r = spec.l1_ratio(G.shape[1])
        return max(np.linalg.norm(G, axis=1).max() / (1 - r), np.abs(G).max() / r)
    raise AssertionError(k)


def _cluster_conjugate(spec, V):
    """Conjugate of the clustered norm, derived here.

    With c = eta (1 + eta) and K = eta I + M:  sup_W <V, W> - c tr(W K^-1 W^T) =
    tr(V K V^T) / (4c) (at W = V K / 2c), so the conjugate is the max over the
    fantope {0 <= M <= I, tr M = k} of (eta ||V||^2 + tr(M V^T V)) / (4c), i.e.
    (eta ||V||^2 + the k largest eigenvalues of V^T V) / (4c).  Checked against a
    cvxpy SDP in ``test_penalty_conjugate``; an SDP is not accurate enough (~1e-9)
    for the 1e-10 gaps compared below.
    """
    T = V.shape[1]
    eig = np.sort(np.linalg.eigvalsh(V.T @ V))[::-1]
    eta = spec.eta
    return (eta * (V**2).sum() + eig[: spec.n_clusters(T)].sum()) / (4 * eta * (1 + eta))


def _omega_conjugate(spec, V):
    """Fenchel conjugate of Omega, written here (checked against cvxpy)."""
    k = spec.kind
    T = V.shape[1]
    if k == "l2":
        return 0.5 * (V**2).sum()
    if k in ("mean", "graph"):
        A = (1.0 - np.eye(T)) / T if k == "mean" else spec.adjacency(T)
        K = np.diag(A.sum(axis=1)) - A + spec.ridge * np.eye(T)  # Omega = 1/2 tr(W K W^T)
        return 0.5 * np.trace(V @ np.linalg.solve(K, V.T))
    if k == "cluster":
        return _cluster_conjugate(spec, V)
    raise AssertionError(k)


def independent_gap(est, parts, spec, loss):
    """Duality gap of min_W data(W, b) + alpha Omega(W), b held at ``intercept_``.

    The dual point is the data term's gradient in the predictions, rescaled into
    the dual ball for a norm (as sklearn does); for a smooth penalty the gap also
    has alpha Omega*(-X^T v / alpha).
    """
    W, b = est.coef_.T, est.intercept_
    G, _ = _gradients(parts, W, b, loss)
    alpha = spec.alpha
    if spec.kind in NORMS:
        s, pen_conj = max(1.0, _dual_norm(spec, G) / alpha), 0.0
    else:
        s, pen_conj = 1.0, alpha * _omega_conjugate(spec, -G / alpha)
    h_conj = 0.0
    for t, (Xt, yt, st) in enumerate(parts):
        v = _residual_gradient(Xt @ W[:, t] + b[t], yt, st, loss) / s
        # conjugate of z -> sum_i s_i loss(y_i, z_i + b_t): shifting z by b_t
        # subtracts b_t * sum(v)
        h_conj += np.dot(st, _loss_conjugate(v / st, yt, loss)) - b[t] * v.sum()
    return objective_np(est, parts, spec, loss) + h_conj + pen_conj


GAP_CASES = [
    # spec, loss, solver, precompute
    (Spec("l21", 0.08), "squared", "cd", True),
    (Spec("l21", 0.08), "squared", "fista", True),
    (Spec("l21", 0.08), "squared", "fista", False),
    (Spec("l1", 0.03), "squared", "fista", False),
    (Spec("trace", 0.1), "squared", "fista", True),
    (Spec("dirty", 0.08), "squared", "fista", False),
    (Spec("l2", 0.1), "squared", "fista", False),
    (Spec("mean", 1.0), "squared", "fista", True),
    (Spec("graph", 0.5, adjacency=ADJ4[:3, :3], ridge=0.05), "squared", "fista", False),
    (Spec("cluster", 0.1), "squared", "fista", True),
    (Spec("l21", 0.02), "logistic", "fista", "auto"),
    (Spec("mean", 0.2), "logistic", "fista", "auto"),
    (Spec("trace", 0.02), "squared_hinge", "fista", "auto"),
]


def _fit_gap_case(spec, loss, solver, precompute, tol):
    classify = loss != "squared"
    X, y, tasks, sw = make_long(7, sizes=(30, 50, 40), classify=classify)
    Est = MultiTaskClassifier if classify else MultiTaskRegressor
    kw = {"loss": loss} if classify else {"precompute": precompute}  # no Gram form
    est = Est(penalty=spec.estimator_penalty(), alpha=spec.alpha, solver=solver,
              tol=tol, max_iter=20000, **kw)
    _fit(est, X, y, tasks=tasks, sample_weight=sw)
    parts = split_long(X, _encode(y, loss), tasks, sw)
    return est, parts, _tol_scale(parts, loss)


GAP_IDS = [f"{c[0]!r}-{c[1]}-{c[2]}-pre{c[3]}" for c in GAP_CASES]


@pytest.mark.parametrize("tol", [1e-4, 1e-10])
@pytest.mark.parametrize("spec,loss,solver,precompute", GAP_CASES, ids=GAP_IDS)
def test_dual_gap_bounds_suboptimality(spec, loss, solver, precompute, tol):
    """dual_gap_ is >= 0, under tol * scale, and bounds the suboptimality (cvxpy)."""
    est, parts, scale = _fit_gap_case(spec, loss, solver, precompute, tol)
    gap = est.dual_gap_
    assert np.isfinite(gap) and gap >= 0.0
    assert gap <= tol * scale
    ours = objective_np(est, parts, spec, loss)
    ref = cvx_optimum(parts, spec, loss)
    slack = 1e-8 * max(1.0, abs(ref))  # cvxpy's accuracy
    # tol delivers a solution within tol * scale of the optimum
    assert ours - ref <= tol * scale + slack, (ours - ref, tol * scale)
    if tol < 1e-8:
        # the gap holds the intercept fixed, but its gradient is then so small
        # (squared norm <= L tol scale) that the gap bounds the suboptimality
        assert ours - ref <= gap + slack, (ours - ref, gap)


@pytest.mark.parametrize("tol", [1e-4, 1e-10])
@pytest.mark.parametrize("spec,loss,solver,precompute", GAP_CASES, ids=GAP_IDS)
def test_dual_gap_is_the_gap_at_the_solution(spec, loss, solver, precompute, tol):
    """dual_gap_ equals the duality gap of the returned (coef_, intercept_), the
    intercept held fixed, computed here; so the solution is certified to tol."""
    est, parts, scale = _fit_gap_case(spec, loss, solver, precompute, tol)
    gap = est.dual_gap_
    true_gap = independent_gap(est, parts, spec, loss)
    assert true_gap >= -1e-12 * max(1.0, scale)  # weak duality: checks the test itself
    assert abs(gap - max(true_gap, 0.0)) <= 1e-6 * abs(true_gap) + 1e-12 * max(1.0, scale), (
        f"reported dual_gap_ {gap:.6e}, duality gap at the solution {true_gap:.6e}"
    )
    assert true_gap <= tol * scale * (1 + 1e-6) + 1e-13, (
        f"converged with a duality gap {true_gap:.3e} > tol * scale = {tol * scale:.3e}"
    )


def test_dual_gap_nan_without_dual():
    """A graph penalty without ridge has no finite conjugate: no gap (NaN), and the
    solution is still the optimum."""
    X, y, tasks, sw = make_long(8)
    spec = Spec("graph", 0.5, ridge=0.0)
    est = MultiTaskRegressor(penalty=spec.estimator_penalty(), alpha=0.5, **fit_params(spec))
    _fit(est, X, y, tasks=tasks, sample_weight=sw)
    assert np.isnan(est.dual_gap_)
    parts = split_long(X, y, tasks, sw)
    assert_objective_close(objective_np(est, parts, spec), cvx_optimum(parts, spec))


# --------------------------------------------------------------------------------------
# 6. Penalty values and proximal operators
# --------------------------------------------------------------------------------------

PROX_SPECS = [
    Spec("l21", None),
    Spec("l1", None),
    Spec("l2", None),
    Spec("trace", None),
    Spec("mean", None),
    Spec("mean", None, ridge=0.0),
    Spec("graph", None),
    Spec("graph", None, adjacency=ADJ4, ridge=0.2),
    Spec("cluster", None),
    Spec("cluster", None, n_clusters=1, eta=0.3),
    Spec("cluster", None, n_clusters=3, eta=2.0),
    Spec("dirty", None),
    Spec("dirty", None, l1_ratio=0.2),
]


def _bound(spec, T):
    return spec.penalty_object().bind(np.arange(T), np.zeros(T, dtype=int))


def _random_var(spec, p, T, seed):
    rng = np.random.RandomState(seed)
    V = rng.standard_normal((p, spec.n_var_cols(T)))
    V[0] *= 0.05  # a small row: thresholded by the sparse penalties
    return V


@pytest.mark.parametrize("shape", [(6, 4), (3, 4)], ids=["p>T", "p<T"])
@pytest.mark.parametrize("spec", PROX_SPECS, ids=repr)
def test_penalty_value_matches_definition(spec, shape):
    p, T = shape
    pen = _bound(spec, T)
    for seed in range(2):
        V = _random_var(spec, p, T, seed)
        np.testing.assert_allclose(pen.value(V), spec.omega_np(V), rtol=1e-7)
        if spec.kind == "cluster":  # the closed form of the test against the definition
            np.testing.assert_allclose(spec.omega_np(V), spec.cluster_sdp(V), rtol=1e-6)


@pytest.mark.parametrize(
    "spec",
    # (mean and graph without ridge have no finite conjugate: a singular Laplacian)
    [s for s in PROX_SPECS if s.kind in ("l2", "cluster")
     or (s.kind in ("mean", "graph") and s.ridge > 0)],
    ids=repr,
)
def test_penalty_conjugate(spec):
    """The smooth penalties' Fenchel conjugates (used for their duality gap) against
    sup_U <V, U> - Omega(U) solved by cvxpy, and the test's own closed forms."""
    p, T = 6, 4
    pen = _bound(spec, T)
    for seed in range(2):
        V = _random_var(spec, p, T, seed)
        U = cp.Variable((p, T))
        om, cons = spec.omega_cp(U)
        ref = _solve(cp.Problem(cp.Maximize(cp.sum(cp.multiply(V, U)) - om), cons))
        np.testing.assert_allclose(_omega_conjugate(spec, V), ref, rtol=1e-6)
        assert hasattr(pen, "conjugate"), "the duality gap needs the conjugate"
        np.testing.assert_allclose(pen.conjugate(V), ref, rtol=1e-6)


@pytest.mark.parametrize("step", [0.3, 1.5])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4)], ids=["p>T", "p<T"])
@pytest.mark.parametrize("spec", PROX_SPECS, ids=repr)
def test_prox_vs_cvxpy(spec, shape, step):
    p, T = shape
    pen = _bound(spec, T)
    V = _random_var(spec, p, T, seed=10)
    U = pen.prox(V, step)
    assert U.shape == V.shape

    def obj_np(A):
        return 0.5 * ((A - V) ** 2).sum() + step * spec.omega_np(A)

    Uvar, _, om, cons = spec.cp_variable(p, T)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(Uvar - V) + step * om), cons)
    reported = _solve(prob)
    ref = obj_np(Uvar.value)  # at cvxpy's point: an upper bound on the minimum
    assert abs(ref - reported) <= 1e-6 * max(1.0, abs(ref))
    ours = obj_np(U)
    assert_objective_close(ours, ref, rtol=1e-6)
    # 1-strong convexity: if U is the minimiser, any point A has
    # obj(A) - obj(U) >= 1/2 ||A - U||^2; take A = cvxpy's solution
    dist2 = ((U - Uvar.value) ** 2).sum()
    assert 0.5 * dist2 <= max(ref - ours, 0.0) + 1e-10, (dist2, ref - ours)
    # and the minimisers agree (an SDP solution is accurate to ~1e-5 only)
    atol = 1e-4 if spec.kind == "cluster" else 1e-5
    np.testing.assert_allclose(U, Uvar.value, rtol=0, atol=atol)


@pytest.mark.parametrize("spec", PROX_SPECS, ids=repr)
def test_prox_beats_perturbations(spec):
    """No random perturbation of prox(V) lowers 1/2||U - V||^2 + step * value(U)."""
    p, T = 6, 4
    pen = _bound(spec, T)
    rng = np.random.RandomState(11)
    for seed, step in [(0, 0.2), (1, 1.0), (2, 4.0)]:
        V = _random_var(spec, p, T, seed)
        U = pen.prox(V, step)

        def obj(A):
            return 0.5 * ((A - V) ** 2).sum() + step * spec.omega_np(A)

        f0 = obj(U)
        for eps in (1e-2, 1e-4):
            for _ in range(60):
                D = rng.standard_normal(V.shape)
                if spec.kind in ("l21", "l1", "dirty"):
                    D *= rng.uniform(size=V.shape) < 0.5  # also sparse directions
                assert obj(U + eps * D / np.linalg.norm(D)) >= f0 - 1e-12 * max(1, f0)
