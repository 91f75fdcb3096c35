"""The learned task structure: MTRL's task covariance, robust MTL's outlier tasks and
the clustered penalty's labels.

Each penalty is checked against cvxpy (objective and coefficients of the same
problem written from its definition), its prox against the definition, and its
fitted attributes against what they claim: MTRL against the paper's alternating
scheme, the robust model on planted outlier tasks, the labels on planted groups.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score

from skmtl import MultiTaskClassifier, MultiTaskRegressor, MultiTaskRegressorCV
from skmtl.linear import (
    PENALTIES,
    ClusteredNorm,
    RobustLowRank,
    TaskRelationship,
    get_penalty,
)

TIGHT = dict(tol=1e-14, max_iter=100000)


def make_long(seed, sizes=(40, 55, 70, 48), p=6):
    """Long format, unequal task sizes, sample weights, a non-centred feature."""
    rng = np.random.RandomState(seed)
    T = len(sizes)
    W = rng.randn(p, 1) + 0.5 * rng.randn(p, T)
    tasks = np.repeat(np.arange(T), sizes)
    rng.shuffle(tasks)
    X = rng.randn(tasks.size, p)
    X[:, 0] += 1.0
    y = np.einsum("ij,ji->i", X, W[:, tasks]) + 0.3 * tasks + 0.5 * rng.randn(tasks.size)
    return X, y, tasks, rng.uniform(0.2, 2.0, tasks.size)


def parts_of(X, y, tasks, sw):
    """Per-task (X_t, y_t, s_t), the weights normalised to sum to one per task."""
    out = []
    for t in np.unique(tasks):
        m = tasks == t
        out.append((X[m], y[m], sw[m] / sw[m].sum()))
    return out


def data_term(parts, W, b):
    return sum(0.5 * np.dot(s, (Xt @ W[:, t] + b[t] - yt) ** 2)
               for t, (Xt, yt, s) in enumerate(parts))


def _fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def test_registered_by_name():
    assert isinstance(get_penalty("relationship"), TaskRelationship)
    assert isinstance(get_penalty("robust"), RobustLowRank)
    assert {"relationship", "robust", "cluster"} <= set(PENALTIES)


# ------------------------------------------------------------------ against cvxpy
cp = pytest.importorskip("cvxpy")


def _solve(prob):
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12,
               max_iter=500)
    assert prob.status in ("optimal", "optimal_inaccurate"), prob.status


def omega_np(penalty, V, T):
    """The penalties from their definitions, in numpy."""
    if isinstance(penalty, TaskRelationship):
        return (0.5 * np.linalg.svd(V, compute_uv=False).sum() ** 2
                + 0.5 * penalty.ridge * (V**2).sum())
    L, S = V[:, :T], V[:, T:]
    beta = T ** -0.25 if penalty.beta is None else penalty.beta
    return np.linalg.svd(L, compute_uv=False).sum() + beta * np.linalg.norm(S, axis=0).sum()


def omega_cp(penalty, p, T):
    """``(V, W, Omega)`` as cvxpy expressions: W = V, or V = [L | S] with W = L + S."""
    if isinstance(penalty, TaskRelationship):
        W, t = cp.Variable((p, T)), cp.Variable(nonneg=True)
        om = 0.5 * cp.square(t) + 0.5 * penalty.ridge * cp.sum_squares(W)
        return W, W, om, [cp.normNuc(W) <= t]
    L, S = cp.Variable((p, T)), cp.Variable((p, T))
    beta = T ** -0.25 if penalty.beta is None else penalty.beta
    om = cp.normNuc(L) + beta * cp.sum(cp.norm(S, 2, axis=0))
    return cp.hstack([L, S]), L + S, om, []


CASES = [
    (TaskRelationship(), 0.05),
    (TaskRelationship(ridge=0.0), 0.02),
    (TaskRelationship(ridge=1.0), 0.2),
    (RobustLowRank(), 0.05),
    (RobustLowRank(beta=0.8), 0.03),
]


@pytest.mark.parametrize("solver", ["auto", "fista"])
@pytest.mark.parametrize("penalty, alpha", CASES, ids=repr)
def test_objective_and_coefficients_match_cvxpy(penalty, alpha, solver):
    X, y, tasks, sw = make_long(0)
    parts = parts_of(X, y, tasks, sw)
    p, T = X.shape[1], len(parts)
    est = _fit(MultiTaskRegressor(penalty, alpha=alpha, solver=solver, **TIGHT),
               X, y, tasks=tasks, sample_weight=sw)
    V_cp, W_cp, om, cons = omega_cp(penalty, p, T)
    b_cp = cp.Variable(T)
    data = sum(0.5 * cp.sum_squares(cp.multiply(np.sqrt(s), Xt @ W_cp[:, t] + b_cp[t] - yt))
               for t, (Xt, yt, s) in enumerate(parts))
    _solve(cp.Problem(cp.Minimize(data + alpha * om), cons))
    W, b = est.coef_.T, est.intercept_
    V = W if isinstance(penalty, TaskRelationship) else \
        np.hstack([est.coef_lowrank_.T, est.coef_outlier_.T])
    np.testing.assert_allclose(W, V if V.shape == W.shape else V[:, :T] + V[:, T:],
                               atol=1e-12)
    ours = data_term(parts, W, b) + alpha * omega_np(penalty, V, T)
    ref = data_term(parts, W_cp.value, b_cp.value) + alpha * omega_np(penalty, V_cp.value, T)
    assert ours <= ref + 1e-9 * max(1.0, abs(ref)), (ours, ref)
    assert abs(ours - ref) <= 1e-6 * max(1.0, abs(ref)), (ours, ref)
    np.testing.assert_allclose(W, W_cp.value, atol=1e-6)
    np.testing.assert_allclose(b, b_cp.value, atol=1e-6)
    assert est.dual_gap_ <= 1e-8


@pytest.mark.parametrize("penalty", [TaskRelationship(), TaskRelationship(ridge=0.0),
                                     RobustLowRank(), RobustLowRank(beta=0.3)], ids=repr)
def test_prox_is_the_definitions_minimiser(penalty):
    rng = np.random.RandomState(1)
    p, T, step = 5, 4, 0.7
    bound = penalty.bind(np.arange(T), np.zeros(T, int))
    V0 = rng.randn(p, 2 * T if isinstance(penalty, RobustLowRank) else T)
    ours = bound.prox(V0, step)
    V, _, om, cons = omega_cp(penalty, p, T)
    _solve(cp.Problem(cp.Minimize(0.5 * cp.sum_squares(V - V0) + step * om), cons))
    np.testing.assert_allclose(ours, V.value, atol=1e-6)

    def f(U):
        return 0.5 * ((U - V0) ** 2).sum() + step * bound.value(U)

    assert f(ours) <= f(V.value) + 1e-12  # no worse than the conic solver's point


@pytest.mark.parametrize("penalty", [TaskRelationship(), TaskRelationship(ridge=0.0)],
                         ids=repr)
def test_relationship_conjugate_is_fenchels(penalty):
    """``f*(G) >= <G, U> - f(U)`` for every U, with equality at some U (the
    maximiser), found here by cvxpy."""
    rng = np.random.RandomState(2)
    p, T = 5, 4
    bound = penalty.bind(np.arange(T), np.zeros(T, int))
    G = rng.randn(p, T)
    conj = bound.conjugate(G)
    for _ in range(20):
        U = rng.randn(p, T) * rng.uniform(0.01, 3)
        assert conj >= np.vdot(G, U) - bound.value(U) - 1e-12
    U, _, om, cons = omega_cp(penalty, p, T)
    _solve(cp.Problem(cp.Maximize(cp.sum(cp.multiply(G, U)) - om), cons))
    assert conj == pytest.approx(np.vdot(G, U.value) - bound.value(U.value), rel=1e-6)


# ----------------------------------------------------------------- MTRL
def alternating_mtrl(parts, alpha, ridge, n_iter=3000):
    """Zhang & Yeung's scheme: the W-step (a linear system in (W, b) with Omega
    fixed) and the closed-form Omega-step, alternated from Omega = I / T."""
    T, p = len(parts), parts[0][0].shape[1]
    Om = np.eye(T) / T
    H0 = np.zeros(((p + 1) * T, (p + 1) * T))
    r0 = np.zeros((p + 1) * T)
    for t, (Xt, yt, s) in enumerate(parts):
        Z = np.column_stack([Xt, np.ones(len(yt))])
        sl = slice(t * (p + 1), (t + 1) * (p + 1))
        H0[sl, sl] = Z.T @ (s[:, None] * Z)
        r0[sl] = Z.T @ (s * yt)
    coef = np.r_[[i % (p + 1) < p for i in range((p + 1) * T)]]  # W's entries, not b's
    W_prev = None
    for _ in range(n_iter):
        K = np.kron(np.linalg.inv(Om) + ridge * np.eye(T), np.eye(p + 1))
        sol = np.linalg.solve(H0 + alpha * K * np.outer(coef, coef), r0)
        W = sol.reshape(T, p + 1)[:, :p].T
        e, U = np.linalg.eigh(W.T @ W)
        root = (U * np.sqrt(np.clip(e, 0, None))) @ U.T
        Om = root / np.trace(root)
        if W_prev is not None and np.abs(W - W_prev).max() < 1e-13:
            break
        W_prev = W
    return W, sol.reshape(T, p + 1)[:, p], Om


@pytest.mark.parametrize("ridge", [0.1, 0.5])
def test_relationship_is_the_alternating_schemes_solution(ridge):
    X, y, tasks, sw = make_long(3)
    parts = parts_of(X, y, tasks, sw)
    alpha = 0.01  # W of full rank: Omega invertible, as the scheme needs
    est = _fit(MultiTaskRegressor(TaskRelationship(ridge=ridge), alpha=alpha, tol=1e-14,
                                  max_iter=100000),
               X, y, tasks=tasks, sample_weight=sw)
    assert np.linalg.svd(est.coef_, compute_uv=False).min() > 0.1
    W, b, Om = alternating_mtrl(parts, alpha, ridge)
    np.testing.assert_allclose(est.coef_.T, W, atol=1e-7)
    np.testing.assert_allclose(est.intercept_, b, atol=1e-7)
    np.testing.assert_allclose(est.task_covariance_, Om, atol=1e-7)


def test_task_covariance_attains_the_minimum():
    X, y, tasks, sw = make_long(4)
    est = _fit(MultiTaskRegressor("relationship", alpha=0.05, **TIGHT), X, y, tasks=tasks)
    C, W = est.task_covariance_, est.coef_.T
    assert C.shape == (4, 4)
    np.testing.assert_allclose(C, C.T, atol=1e-14)
    assert np.linalg.eigvalsh(C).min() > -1e-12 and np.trace(C) == pytest.approx(1.0)
    trace_norm = np.linalg.svd(W, compute_uv=False).sum()
    assert np.trace(W @ np.linalg.pinv(C) @ W.T) == pytest.approx(trace_norm**2, rel=1e-8)
    rng = np.random.RandomState(0)  # and no other covariance does better
    for _ in range(10):
        A = rng.randn(4, 4)
        other = A @ A.T / np.trace(A @ A.T)
        assert np.trace(W @ np.linalg.inv(other) @ W.T) >= trace_norm**2 * (1 - 1e-10)


def test_task_covariance_at_zero_coefficients_is_uniform():
    X, y, tasks, _ = make_long(5)
    est = MultiTaskRegressor("relationship", alpha=1e6).fit(X, y, tasks=tasks)
    assert not np.any(est.coef_)
    np.testing.assert_allclose(est.task_covariance_, np.eye(4) / 4)


# ------------------------------------------------------------------ robust MTL
def outlier_problem(seed=0, T=10, p=12, n=60, outliers=(2, 7)):
    """Low-rank tasks (rank 2) but for two, whose weights are their own."""
    rng = np.random.RandomState(seed)
    W = rng.randn(p, 2) @ rng.randn(2, T)
    W[:, list(outliers)] = 3.0 * rng.randn(p, len(outliers))
    tasks = np.repeat(np.arange(T), n)
    X = rng.randn(tasks.size, p)
    y = np.einsum("ij,ji->i", X, W[:, tasks]) + 0.1 * rng.randn(tasks.size)
    return X, y, tasks


def test_robust_flags_the_planted_outlier_tasks():
    X, y, tasks = outlier_problem()
    est = _fit(MultiTaskRegressor(RobustLowRank(beta=0.8), alpha=0.2, max_iter=5000),
               X, y, tasks=tasks)
    np.testing.assert_array_equal(np.flatnonzero(est.outlier_tasks_), [2, 7])
    np.testing.assert_allclose(est.coef_lowrank_ + est.coef_outlier_, est.coef_, atol=1e-12)
    assert np.all(est.coef_outlier_[~est.outlier_tasks_] == 0)
    s = np.linalg.svd(est.coef_lowrank_, compute_uv=False)
    assert s[2] <= 1e-8 * s[0]  # the rest is rank 2


@pytest.mark.parametrize("beta, expect", [(1.5, "none"), (0.2, "all")])
def test_robust_beta_outside_its_range(beta, expect):
    """beta > 1: S is always dearer (trace norm <= sum of column norms); beta <
    1/sqrt(T): even a shared direction costs less in S."""
    X, y, tasks = outlier_problem()
    est = _fit(MultiTaskRegressor(RobustLowRank(beta=beta), alpha=0.05, max_iter=5000),
               X, y, tasks=tasks)
    if expect == "none":
        assert not est.outlier_tasks_.any()
    else:
        assert est.outlier_tasks_.all()
        assert not np.any(est.coef_lowrank_)


@pytest.mark.parametrize("make", [lambda: RobustLowRank(beta=0.0),
                                  lambda: RobustLowRank(beta=-1.0),
                                  lambda: TaskRelationship(ridge=-0.1)])
def test_bad_parameters_are_refused(make):
    X, y, tasks, _ = make_long(0)
    with pytest.raises(ValueError, match="beta|ridge"):
        MultiTaskRegressor(make()).fit(X, y, tasks=tasks)


# ------------------------------------------------------------------ cluster labels
def grouped_problem(seed=0, per=(4, 5, 3), p=10, n=40, order=None):
    rng = np.random.RandomState(seed)
    groups = np.repeat(np.arange(len(per)), per)
    if order is not None:
        groups = groups[order]
    centres = 3.0 * rng.randn(len(per), p)
    W = (centres[groups] + 0.2 * rng.randn(groups.size, p)).T
    tasks = np.repeat(np.arange(groups.size), n)
    X = rng.randn(tasks.size, p)
    y = np.einsum("ij,ji->i", X, W[:, tasks]) + 0.5 * rng.randn(tasks.size)
    return X, y, tasks, groups


def test_cluster_labels_recover_planted_groups():
    perm = np.random.RandomState(1).permutation(12)
    X, y, tasks, groups = grouped_problem(order=perm)
    est = _fit(MultiTaskRegressor(ClusteredNorm(n_clusters=3, eta=0.1), alpha=0.05),
               X, y, tasks=tasks)
    assert est.labels_.shape == (12,) and est.labels_.dtype.kind == "i"
    assert adjusted_rand_score(groups, est.labels_) == 1.0
    assert est.labels_[0] == 0 and set(est.labels_) == {0, 1, 2}  # first-seen order
    again = MultiTaskRegressor(ClusteredNorm(n_clusters=3, eta=0.1), alpha=0.05).fit(
        X, y, tasks=tasks)
    np.testing.assert_array_equal(again.labels_, est.labels_)


def test_cluster_labels_of_a_classifier_and_of_zero_coefficients():
    X, y, tasks, groups = grouped_problem(seed=2)
    clf = MultiTaskClassifier(ClusteredNorm(n_clusters=3, eta=0.1), alpha=0.002,
                              max_iter=5000).fit(X, (y > 0).astype(int), tasks=tasks)
    assert adjusted_rand_score(groups, clf.labels_) == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning from the clustering
        est = MultiTaskRegressor("cluster", alpha=1e6).fit(X, y, tasks=tasks)
    assert est.labels_.shape == (12,)


# ------------------------------------------------------------- the front doors
@pytest.mark.parametrize("penalty", ["relationship", "robust"])
def test_classifier_and_cv_take_the_new_penalties(penalty):
    X, y, tasks, _ = make_long(6)
    labels = (y > np.median(y)).astype(int)
    clf = _fit(MultiTaskClassifier(penalty, alpha=0.01, max_iter=5000), X, labels,
               tasks=tasks)
    assert clf.score(X, labels, tasks=tasks) > 0.7
    attr = "task_covariance_" if penalty == "relationship" else "outlier_tasks_"
    assert hasattr(clf, attr)
    cv = MultiTaskRegressorCV(penalty, alphas=6, cv=3).fit(X, y, tasks=tasks)
    assert cv.alphas_.size >= 6 and hasattr(cv, attr)
    if penalty == "robust":  # a norm: its grid starts where the solution is zero
        top = MultiTaskRegressor(penalty, alpha=cv.alphas_[0]).fit(X, y, tasks=tasks)
        assert not np.any(top.coef_)
        below = MultiTaskRegressor(penalty, alpha=0.9 * cv.alphas_[0]).fit(
            X, y, tasks=tasks)
        assert np.any(below.coef_)


def test_multiclass_tasks_get_one_label_and_one_covariance_row_each():
    """With multiclass tasks (one output a class) the structure is still over the
    tasks: labels_ from the classes' embeddings side by side, the covariance summed
    over the classes, a task's outlier part all its classes' columns."""
    rng = np.random.RandomState(3)
    per, p, n = (3, 3), 6, 150
    groups = np.repeat([0, 1], per)
    centres = 3.0 * rng.randn(2, p, 3)  # three classes
    W = centres[groups] + 0.1 * rng.randn(groups.size, p, 3)
    tasks = np.repeat(np.arange(groups.size), n)
    X = rng.randn(tasks.size, p)
    labels = np.argmax(np.einsum("ij,ijk->ik", X, W[tasks]), axis=1)
    clf = MultiTaskClassifier(ClusteredNorm(n_clusters=2, eta=0.1), alpha=0.002,
                              max_iter=3000).fit(X, labels, tasks=tasks)
    assert clf.coef_.shape == (18, p)  # one row a (task, class)
    assert adjusted_rand_score(groups, clf.labels_) == 1.0
    rel = MultiTaskClassifier("relationship", alpha=0.01).fit(X, labels, tasks=tasks)
    C = rel.task_covariance_
    assert C.shape == (6, 6) and np.trace(C) == pytest.approx(1.0)
    _, s, Vt = np.linalg.svd(rel.coef_.T, full_matrices=False)
    root = (Vt.T * s) @ Vt  # (W^T W)^(1/2) over the outputs, summed over classes
    expect = sum(root[c::3, c::3] for c in range(3))
    np.testing.assert_allclose(C, expect / np.trace(expect), atol=1e-12)
    rob = MultiTaskClassifier(RobustLowRank(beta=0.3), alpha=0.01).fit(X, labels,
                                                                      tasks=tasks)
    assert rob.outlier_tasks_.shape == (6,)
    per_task = np.abs(rob.coef_outlier_).reshape(6, 3, p).sum(axis=(1, 2)) > 0
    np.testing.assert_array_equal(rob.outlier_tasks_, per_task)
    bound = RobustLowRank(beta=0.3).bind(np.repeat(np.arange(6), 3), np.tile([0, 1, 2], 6))
    L, S = rng.randn(p, 18), rng.randn(p, 18)
    blocks = np.linalg.norm(S.reshape(p, 6, 3), axis=(0, 2))  # a task's classes together
    assert bound.value(np.hstack([L, S])) == pytest.approx(
        np.linalg.svd(L, compute_uv=False).sum() + 0.3 * blocks.sum(), rel=1e-12)


def test_structure_attributes_follow_the_last_fit_and_skip_the_folds(monkeypatch):
    """A refit with another penalty drops the previous penalty's attributes; the CV
    folds' paths do not compute them (only the final refit does)."""
    X, y, tasks, _ = grouped_problem()
    est = _fit(MultiTaskRegressor("cluster", alpha=0.05), X, y, tasks=tasks)
    assert hasattr(est, "labels_")
    est.set_params(penalty="relationship").fit(X, y, tasks=tasks)
    assert hasattr(est, "task_covariance_") and not hasattr(est, "labels_")
    calls = []
    real = ClusteredNorm.fitted_attributes
    monkeypatch.setattr(ClusteredNorm, "fitted_attributes",
                        lambda self, V: calls.append(1) or real(self, V))
    cv = MultiTaskRegressorCV("cluster", alphas=4, cv=2).fit(X, y, tasks=tasks)
    assert hasattr(cv, "labels_") and len(calls) == 1  # the refit's store only


def test_an_elastic_mix_has_its_norms_attributes():
    X, y, tasks, groups = grouped_problem()
    from skmtl.linear import ElasticMix

    est = _fit(MultiTaskRegressor(ElasticMix(ClusteredNorm(n_clusters=3, eta=0.1), 0.9),
                                  alpha=0.05), X, y, tasks=tasks)
    assert est.labels_.shape == (12,)
