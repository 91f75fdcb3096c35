"""skmtl's alpha against MALSAR's rho, function by function (the table of
doc/scaling.rst).

MALSAR (Zhou, Chen & Ye 2011, github.com/jiayuzhou/MALSAR) is MATLAB; each
function's objective is written out here in numpy from its code (``funVal_eval`` /
``gradVal_eval`` / the projection it calls), never with skmtl's datafit or
penalty code.  For each row of the table, skmtl is fitted at ``alpha`` and MALSAR's
objective at the mapped ``rho`` is checked optimal at skmtl's solution:

* the optimality condition: the solution is a fixed point of MALSAR's own
  proximal-gradient step (its gradient, then its projection), so the gradient
  mapping ``gamma (V - prox(V - grad / gamma))`` vanishes (relative to the
  gradient at zero);
* no random perturbation (also sparse ones) lowers the objective;
* and the condition fails at twice the mapped ``rho`` (the old documented
  ``rho1 = 2 n_t alpha``): the check tells the mappings apart.

MALSAR's ``Least_*`` have neither intercept nor weights: skmtl runs with
``fit_intercept=False`` on tasks of equal size ``n``.  The ``Logistic_*`` take the
mean loss of each task and an intercept per task, so any sizes match.

Also: MALSAR's ``Least_CMTL`` / ``Logistic_CMTL`` gradient in M is not the gradient
of its objective (``test_cmtl_gradient_in_m_is_not_the_gradient``).
"""

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl.linear import (
    L1,
    L21,
    ClusteredNorm,
    Dirty,
    ElasticMix,
    GraphRegularized,
    MeanRegularized,
    TraceNorm,
)

N, P, T = 40, 6, 3  # Least_*: T tasks of N rows each
SIZES = (30, 45, 60)  # Logistic_*: unequal tasks
FIT = dict(tol=1e-12, max_iter=50000)
ADJ = np.array([[0.0, 1.0, 0.3], [1.0, 0.0, 2.0], [0.3, 2.0, 0.0]])


def make_tasks(seed, sizes, classify):
    """Per-task (X_t, y_t); labels in {-1, +1} (MALSAR's) for classification."""
    rng = np.random.RandomState(seed)
    shared = rng.standard_normal(P)
    W = shared[:, None] + 0.6 * rng.standard_normal((P, len(sizes)))
    W[-2:] = 0.0
    parts = []
    for t, n in enumerate(sizes):
        X = rng.standard_normal((n, P))
        z = X @ W[:, t]
        if classify:
            y = np.where(z + 0.3 + 0.8 * rng.standard_normal(n) > 0, 1.0, -1.0)
        else:
            y = z + 0.5 * rng.standard_normal(n)
        parts.append((X, y))
    return parts


def long_format(parts):
    X = np.vstack([Xt for Xt, _ in parts])
    y = np.concatenate([yt for _, yt in parts])
    tasks = np.repeat(np.arange(len(parts)), [len(yt) for _, yt in parts])
    return X, y, tasks


# --------------------------------------------------------------------------------------
# MALSAR's pieces, from its code
# --------------------------------------------------------------------------------------


def fglasso_projection(D, lam):
    """Least_L21's FGLasso_projection: each row times max(0, 1 - lam / ||row||)."""
    norms = np.sqrt((D**2).sum(axis=1, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(norms > 0, np.maximum(0.0, 1.0 - lam / norms), 0.0) * D


def l1_projection(v, beta):
    """Least_Lasso's l1_projection: argmin ||z - v||^2 + beta ||z||_1 (beta / 2)."""
    return np.sign(v) * np.maximum(0.0, np.abs(v) - beta / 2)


def trace_projection(L, alpha):
    """trace_projection.m: the singular values minus alpha / 2."""
    U, s, Vt = np.linalg.svd(L, full_matrices=False)
    return (U * np.maximum(s - alpha / 2, 0.0)) @ Vt


def proximal_l11(D, tau):
    """proximalL11norm.m: min 0.5 ||X - D||^2 + tau ||X||_{1,1}."""
    return np.sign(D) * np.maximum(0.0, np.abs(D) - tau)


def proximal_l1inf(D, tau):
    """proximalL1infnorm.m (its C routine prf_lbm): min 0.5 ||X - D||^2 + tau
    sum_i ||X^i||_inf.  Here: each row clipped at the level theta where the mass
    above it is tau (Moreau: D minus its projection on the l1 ball), theta by brentq."""
    X = D.copy()
    for i, d in enumerate(D):
        a = np.abs(d)
        if a.sum() <= tau:
            X[i] = 0.0
            continue
        theta = brentq(lambda th: np.maximum(a - th, 0.0).sum() - tau, 0.0, a.max(),
                       xtol=1e-15, rtol=1e-15)
        X[i] = np.sign(d) * np.minimum(a, theta)
    return X


def least_data(parts, W, half=True):
    """sum_i 0.5 ||Y_i - X_i W_i||^2 (Least_Dirty: ||X(P+Q) - y||^2, no 1/2) and its
    gradient in W."""
    c = 0.5 if half else 1.0
    val, G = 0.0, np.zeros_like(W)
    for t, (Xt, yt) in enumerate(parts):
        r = Xt @ W[:, t] - yt
        val += c * r @ r
        G[:, t] = 2 * c * Xt.T @ r
    return val, G


def logistic_data(parts, W, C):
    """unit_funcVal_eval / unit_grad_eval summed: each task's mean of
    log(1 + exp(-y (x w + c))), with the gradients in W and C."""
    val, G, gC = 0.0, np.zeros_like(W), np.zeros_like(C)
    for t, (Xt, yt) in enumerate(parts):
        m = len(yt)
        aa = -yt * (Xt @ W[:, t] + C[t])
        val += np.logaddexp(0.0, aa).mean()
        b = -(yt / m) * expit(aa)  # -weighty .* (1 - pp), pp = 1 / (1 + exp(aa))
        G[:, t], gC[t] = Xt.T @ b, b.sum()
    return val, G, gC


def cluster_m(W, k, eta):
    """The M of the CMTL objective's minimum over {tr M = k, 0 <= M <= I} for W:
    W^T W's eigenvectors with weights mu_i = clip(tau sigma_i - eta, 0, 1)."""
    a, U = np.linalg.eigh(W.T @ W)
    sig = np.sqrt(np.clip(a, 0.0, None))
    pos = sig > 1e-150
    if pos.sum() <= k:  # the zero directions cost nothing: they share what is left
        mu = np.where(pos, 1.0, (k - pos.sum()) / max((~pos).sum(), 1))
    else:
        hi = (eta + 1.0) / sig[pos].min()
        tau = brentq(lambda tau: np.clip(tau * sig - eta, 0, 1).sum() - k, 0.0, hi,
                     xtol=1e-15, rtol=1e-15)
        mu = np.clip(tau * sig - eta, 0, 1)
    return (U * mu) @ U.T


class Malsar:
    """One MALSAR function at given rho: its smooth part (value, gradients), its
    projection step and its non-smooth part, on the variables it optimises.

    ``vars`` is a tuple: (W,), (W, C), (P, Q) or (P, Q, C); ``C`` the intercepts.
    """

    def __init__(self, name, parts, **rho):
        self.name, self.parts, self.rho = name, parts, rho
        self.logistic = name.startswith("Logistic")
        self.dirty = name.endswith("Dirty")

    def smooth(self, v):
        rho, name = self.rho, self.name
        W = v[0] + v[1] if self.dirty else v[0]
        if self.logistic:
            val, G, gC = logistic_data(self.parts, W, v[-1])
        else:
            val, G = least_data(self.parts, W, half=not self.dirty)
        if "SRMTL" in name:  # + rho1 ||W R||_F^2
            R = rho["R"]
            val += rho["rho1"] * np.sum((W @ R) ** 2)
            G = G + 2 * rho["rho1"] * W @ R @ R.T
        if "CMTL" in name:  # + c tr(W (eta I + M)^-1 W'), M the minimiser
            eta = rho["rho2"] / rho["rho1"]
            c = rho["rho1"] * eta * (1 + eta)
            M = cluster_m(W, rho["k"], eta)
            inv_mwt = np.linalg.solve(eta * np.eye(W.shape[1]) + M, W.T)
            val += c * np.trace(W @ inv_mwt)
            G = G + 2 * c * inv_mwt.T
        rho_l2 = rho.get("rho_L2", 0.0)
        val += rho_l2 * np.sum(W**2)
        G = G + 2 * rho_l2 * W
        grads = (G, G) if self.dirty else (G,)
        return val, grads + ((gC,) if self.logistic else ())

    def step(self, v, grads, gamma):
        """The projection of MALSAR's line search at the point v - grads / gamma."""
        z = [a - g / gamma for a, g in zip(v, grads)]
        rho, name = self.rho, self.name
        if self.dirty:
            z[0] = proximal_l1inf(z[0], rho["rho1"] / gamma)
            z[1] = proximal_l11(z[1], rho["rho2"] / gamma)
        elif "L21" in name:
            z[0] = fglasso_projection(z[0], rho["rho1"] / gamma)
        elif "Lasso" in name:
            z[0] = l1_projection(z[0], 2 * rho["rho1"] / gamma)
        elif "Trace" in name:
            z[0] = trace_projection(z[0], 2 * rho["rho1"] / gamma)
        elif "SRMTL" in name:
            z[0] = l1_projection(z[0], 2 * rho.get("rho2", 0.0) / gamma)
        return z  # CMTL: W is smooth, no projection in W

    def nonsmooth(self, v):
        rho, name = self.rho, self.name
        if self.dirty:
            return rho["rho1"] * np.abs(v[0]).max(axis=1).sum() + \
                rho["rho2"] * np.abs(v[1]).sum()
        W = v[0]
        if "L21" in name:
            return rho["rho1"] * np.linalg.norm(W, axis=1).sum()
        if "Lasso" in name:
            return rho["rho1"] * np.abs(W).sum()
        if "Trace" in name:
            return rho["rho1"] * np.linalg.svd(W, compute_uv=False).sum()
        if "SRMTL" in name:
            return rho.get("rho2", 0.0) * np.abs(W).sum()
        return 0.0

    def objective(self, v):
        return self.smooth(v)[0] + self.nonsmooth(v)

    def residual(self, v):
        """||gradient mapping|| / ||gradient at zero||: 0 exactly at the optimum."""
        zero = tuple(np.zeros_like(a) for a in v)
        g0 = np.sqrt(sum(np.sum(g**2) for g in self.smooth(zero)[1]))
        _, grads = self.smooth(v)
        gamma = 10.0 * g0  # any step; a fixed point for one is one for all
        z = self.step(v, grads, gamma)
        return gamma * np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(v, z))) / g0


# --------------------------------------------------------------------------------------
# The table: MALSAR function, skmtl estimator at alpha, the mapped rho
# --------------------------------------------------------------------------------------

R_MEAN = np.eye(T) - np.ones((T, T)) / T  # SRMTL's "all related"
R_GRAPH = np.column_stack([np.sqrt(ADJ[s, t]) * (np.eye(T)[s] - np.eye(T)[t])
                           for s in range(T) for t in range(s + 1, T)])
A_REG, A_CLF, RIDGE, RATIO, ETA, K = 0.08, 0.02, 0.3, 0.6, 0.5, 2

# (MALSAR function, skmtl penalty, alpha, rho as a function of (n, alpha)); n is
# the rows per task for Least_* and unused for Logistic_*
ROWS = [
    ("Least_L21", L21(), A_REG, lambda n, a: dict(rho1=n * a)),
    ("Least_L21", ElasticMix("l21", RATIO), A_REG,
     lambda n, a: dict(rho1=n * a * RATIO, rho_L2=n * a * (1 - RATIO) / 2)),
    ("Least_Lasso", L1(), 0.03, lambda n, a: dict(rho1=n * a)),
    ("Least_Lasso", ElasticMix("l1", RATIO), 0.03,
     lambda n, a: dict(rho1=n * a * RATIO, rho_L2=n * a * (1 - RATIO) / 2)),
    ("Least_Trace", TraceNorm(), 0.1, lambda n, a: dict(rho1=n * a)),
    ("Least_Trace", ElasticMix("trace", RATIO), 0.1,
     lambda n, a: dict(rho1=n * a * RATIO, rho_L2=n * a * (1 - RATIO) / 2)),
    ("Least_SRMTL", MeanRegularized(ridge=RIDGE), 1.0,
     lambda n, a: dict(R=R_MEAN, rho1=n * a / 2, rho_L2=n * a * RIDGE / 2)),
    ("Least_SRMTL", GraphRegularized(adjacency=ADJ, ridge=RIDGE), 0.5,
     lambda n, a: dict(R=R_GRAPH, rho1=n * a / 2, rho_L2=n * a * RIDGE / 2)),
    ("Least_CMTL", ClusteredNorm(n_clusters=K, eta=ETA), 0.1,
     lambda n, a: dict(rho1=n * a, rho2=ETA * n * a, k=K)),
    ("Least_Dirty", Dirty(l1_ratio=0.4, shared_norm="linf"), 0.05,
     lambda n, a: dict(rho1=2 * n * a * (1 - 0.4), rho2=2 * n * a * 0.4)),
    ("Logistic_L21", L21(), A_CLF, lambda n, a: dict(rho1=a)),
    ("Logistic_L21", ElasticMix("l21", RATIO), A_CLF,
     lambda n, a: dict(rho1=a * RATIO, rho_L2=a * (1 - RATIO) / 2)),
    ("Logistic_Lasso", L1(), 0.01, lambda n, a: dict(rho1=a)),
    ("Logistic_Lasso", ElasticMix("l1", RATIO), 0.01,
     lambda n, a: dict(rho1=a * RATIO, rho_L2=a * (1 - RATIO) / 2)),
    ("Logistic_Trace", TraceNorm(), A_CLF, lambda n, a: dict(rho1=a)),
    ("Logistic_Trace", ElasticMix("trace", RATIO), A_CLF,
     lambda n, a: dict(rho1=a * RATIO, rho_L2=a * (1 - RATIO) / 2)),
    ("Logistic_SRMTL", MeanRegularized(ridge=RIDGE), 0.2,
     lambda n, a: dict(R=R_MEAN, rho1=a / 2, rho_L2=a * RIDGE / 2)),
    ("Logistic_SRMTL", GraphRegularized(adjacency=ADJ, ridge=RIDGE), 0.1,
     lambda n, a: dict(R=R_GRAPH, rho1=a / 2, rho_L2=a * RIDGE / 2)),
    ("Logistic_CMTL", ClusteredNorm(n_clusters=K, eta=ETA), A_CLF,
     lambda n, a: dict(rho1=a, rho2=ETA * a, k=K)),
    ("Logistic_Dirty", Dirty(l1_ratio=0.4, shared_norm="linf"), 0.01,
     lambda n, a: dict(rho1=a * (1 - 0.4), rho2=a * 0.4)),
]
IDS = [f"{r[0]}-{type(r[1]).__name__}" for r in ROWS]


def _solve(name, penalty, alpha, parts):
    """skmtl's solution as MALSAR's variables."""
    X, y, tasks = long_format(parts)
    if name.startswith("Logistic"):
        est = MultiTaskClassifier(penalty=penalty, alpha=alpha, **FIT)
    else:
        est = MultiTaskRegressor(penalty=penalty, alpha=alpha, fit_intercept=False, **FIT)
    est.fit(X, y, tasks=tasks)
    v = (est.coef_shared_.T, est.coef_specific_.T) if name.endswith("Dirty") else \
        (est.coef_.T,)
    if name.startswith("Logistic"):
        v += (est.intercept_.copy(),)
    assert np.abs(est.coef_).max() > 1e-2  # not the trivial W = 0
    return v


def _scaled(rho, factor):
    return {k: (v * factor if k.startswith("rho") else v) for k, v in rho.items()}


@pytest.mark.parametrize("name,penalty,alpha,rho", ROWS, ids=IDS)
def test_malsar_mapping(name, penalty, alpha, rho):
    logistic = name.startswith("Logistic")
    parts = make_tasks(0, SIZES if logistic else (N,) * T, classify=logistic)
    v = _solve(name, penalty, alpha, parts)
    mapped = rho(N, alpha)
    malsar = Malsar(name, parts, **mapped)
    # 1. MALSAR's proximal-gradient step does not move skmtl's solution
    assert malsar.residual(v) < 1e-6, malsar.residual(v)
    # 2. nor does any small perturbation lower MALSAR's objective
    rng = np.random.RandomState(1)
    f0 = malsar.objective(v)
    slack = 1e-9 * max(1.0, abs(f0))  # skmtl's tol, in MALSAR's scale
    for eps in (1e-2, 1e-4):
        for _ in range(40):
            d = [rng.standard_normal(a.shape) * (rng.uniform(size=a.shape) < 0.5)
                 for a in v]
            nrm = np.sqrt(sum(np.sum(x**2) for x in d)) or 1.0
            moved = tuple(a + eps * x / nrm for a, x in zip(v, d))
            assert malsar.objective(moved) >= f0 - slack
    # 3. at twice the rho (the old "rho1 = 2 n_t alpha"), the same check fails
    assert Malsar(name, parts, **_scaled(mapped, 2.0)).residual(v) > 1e-3


def test_least_unequal_tasks_do_not_map():
    """With unequal task sizes, skmtl's mean per task weighs a row of a small task
    more than MALSAR's sum does: no single rho1 (not even the best fit, n_t alpha of
    any task) makes skmtl's solution MALSAR's."""
    parts = make_tasks(0, SIZES, classify=False)
    v = _solve("Least_L21", L21(), A_REG, parts)
    for n in SIZES:
        assert Malsar("Least_L21", parts, rho1=n * A_REG).residual(v) > 1e-3


# --------------------------------------------------------------------------------------
# Least_CMTL / Logistic_CMTL: the gradient in M
# --------------------------------------------------------------------------------------


def _cmtl_point(seed=0, T=4, eta=0.5, k=2):
    """W, a feasible M that is not W's optimum, and the term c tr(W (eta I + M)^-1 W')
    of the CMTL objective (rho1 = 1)."""
    rng = np.random.RandomState(seed)
    W = rng.standard_normal((P, T))
    M = cluster_m(rng.standard_normal((P, T)), k, eta)
    c = eta * (1 + eta)

    def term(M):
        return c * np.trace(W @ np.linalg.solve(eta * np.eye(T) + M, W.T))

    K_inv = np.linalg.inv(eta * np.eye(T) + M)
    malsar = -c * (W.T @ W) @ K_inv @ K_inv  # grad_M = - c * (W' * W / IM / IM)
    true = -c * K_inv @ (W.T @ W) @ K_inv
    return W, M, term, malsar, true


def test_cmtl_gradient_in_m_is_not_the_gradient():
    """MALSAR's Least_CMTL / Logistic_CMTL gradVal_eval returns grad_M = -c * (W' *
    W / IM / IM), i.e. -c W'W (eta I + M)^-2, for the term c tr(W (eta I + M)^-1 W').
    Central finite differences of the term in each entry of M give instead -c (eta
    I + M)^-1 W'W (eta I + M)^-1 (the two agree only where W'W and M commute, as at
    MALSAR's start M = k/T I).  Here: MALSAR's is 36% off in Frobenius norm (30.52
    against 27.51), not symmetric, and its derivative along the step to W's optimal
    M is -22.48 against the true -21.18."""
    W, M, term, malsar, true = _cmtl_point()
    T, h = M.shape[0], 1e-6
    fd = np.zeros((T, T))
    for i in range(T):
        for j in range(T):
            E = np.zeros((T, T))
            E[i, j] = h
            fd[i, j] = (term(M + E) - term(M - E)) / (2 * h)
    np.testing.assert_allclose(fd, true, rtol=0, atol=1e-6 * np.abs(true).max())
    err = np.linalg.norm(malsar - fd) / np.linalg.norm(fd)
    assert err > 0.3, err
    assert not np.allclose(malsar, malsar.T)
    assert np.linalg.norm(malsar - malsar.T) > 0.1 * np.linalg.norm(malsar)
    # along a feasible direction (towards the optimal M for this W)
    D = cluster_m(W, 2, 0.5) - M
    slope = (term(M + h * D) - term(M - h * D)) / (2 * h)
    np.testing.assert_allclose(slope, np.sum(true * D), rtol=1e-6)
    assert abs(np.sum(malsar * D) - slope) > 0.05 * abs(slope)
