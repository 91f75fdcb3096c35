"""Exact solvers for the quadratic penalties with the squared loss.

With the squared loss, ``"l2"``, ``"mean"`` and ``"graph"`` make the problem a
linear system: ``(G_j + alpha K) w = c_j`` coupled through ``K = ridge I + Lap``
over the outputs (``_laplacian.py``).  :class:`Spectral` holds one factorization
of the centred Gram matrices (``_grams.py``: their eigenvalues, a basis and the
coordinates of ``c_j``), computed once per problem; :class:`Exact` then solves at
any ``alpha`` from it, so that a path or a cross-validation grid pays the
factorization once and ``O(p r m)`` an alpha after it (``r = min(n_t, p)``):

* a ridge (``"l2"``): ``w_j = B_j diag(1 / (e_j + a)) q_j``;
* a pull towards group means (``"mean"``, ``"graph"`` on the complete graph):
  the same plus one ``p x p`` system per group for the mean (Woodbury), no
  ``T x T`` matrix;
* any sparse graph: with shared rows, the eigenbasis of G decouples the features
  and the Laplacian's own eigendecomposition (or sparse LU) the tasks; otherwise
  one sparse LU of the ``(p m) x (p m)`` system per alpha.

At ``alpha = 0`` every penalty vanishes and the solution is least squares, the
minimum-norm one (:meth:`Spectral.least_squares`, which ``Problem`` also uses for
the iterative penalties at ``alpha = 0``).  The reported duality gap is the true
gap at the solution (rounding only).
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr, splu

from ._datafit import QuadraticForm, _centred_scale, _curvature, moments, shared_rows
from ._fista import Solver, duality_gap
from ._laplacian import Complete, Graph

__all__ = ["Spectral", "Exact", "coupling_of", "factorizable"]


def coupling_of(penalty):
    """The quadratic structure a penalty declares (``coupling``), or None."""
    return getattr(penalty, "coupling", None)


def factorizable(blocks, n_features, n_outputs, limit=5e7):
    """Whether :class:`Spectral`'s factorization of ``blocks`` is affordable: the
    factors (``m p r`` floats, ``r = min(n_t, p)``: never more than a dense X) at
    most ``limit`` or twice a dense X; with shared rows one ``p x p`` eigh."""
    p = n_features
    layout = getattr(blocks, "layout", None)
    X = layout.X if layout is not None else blocks[0].X
    budget = limit if sp.issparse(X) else max(limit, 2.0 * X.shape[0] * p)
    if layout is not None:
        if not layout.single:
            return False
        return n_outputs * p * min(int(layout.n_rows.max()), p) <= budget
    if shared_rows(blocks):
        return p <= 3000
    return len(blocks) == 1 and n_outputs * p * p <= budget


class Spectral(QuadraticForm):
    """The squared loss in Gram form, from a factorization of each ``G_j``.

    ``G_j = B_j diag(g_j) B_j^T`` with eigenvalues ``e_j`` and ``c_j = B_j q_j``
    (``_grams.py``); one factor for all outputs when they share rows.  It has the
    interface of :class:`~skmtl.linear._datafit.GramFit` (``forward``, ``value``,
    ``gradient``, ``conjugate``, ``intercept``, ...), with which the duality gap of
    a solution is computed, and ``G`` on demand.
    """

    constant_curvature = True
    has_intercept_variable = False

    def __init__(self, blocks, n_features, n_outputs, fit_intercept=True, shared=None):
        self.shape = (n_features, n_outputs)
        self.shared = shared_rows(blocks) if shared is None else shared
        mom = moments(blocks, fit_intercept, self.shared, gram=False, factors=True)
        self.C, self.mu, self.ybar, self.yy = mom.C, mom.mu, mom.ybar, mom.yy
        self.e, self.g, self.B, self.q = mom.e, mom.g, mom.B, mom.q
        self._Bt = mom.Bt  # (p, m, r): the layout of the products below
        self._G = mom.G if self.shared else None

    @property
    def factors(self):
        return self.e, self.g, self.B, self.q

    @property
    def G(self):
        """The Gram matrices, ``(1 or m, p, p)``."""
        if self._G is None:
            self._G = np.einsum("jpr,jr,jqr->jpq", self.B, self.g, self.B)
        return self._G

    def _coords(self, W):
        """``B_j^T w_j``: (m, r)."""
        if self.shared:
            return (self.B[0].T @ W).T
        return np.einsum("pjr,pj->jr", self._Bt, W)

    def _combine(self, Q):
        """``B_j Q_j`` for coordinates ``Q`` (m, r): (p, m)."""
        if self.shared:
            return self.B[0] @ Q.T
        return np.einsum("pjr,jr->pj", self._Bt, Q)

    def forward(self, W, b=None):
        return self._combine(self.g * self._coords(W))

    def lipschitz(self):
        return _curvature(float(self.e.max(initial=0.0)))

    def tol_scale(self):
        return _centred_scale(self.yy.sum(), self.yy.sum())

    def intercept(self, W):
        return self.ybar - np.einsum("jt,jt->t", self.mu, W)

    # ------------------------------------------------------------- the solves
    def ridge_solve(self, a):
        """``(G_j + a_j I)^+ c_j`` for every output (``a`` scalar or (m,)); at
        ``a = 0`` the pseudo-inverse (eigenvalues at rounding level dropped)."""
        a = np.broadcast_to(np.asarray(a, dtype=np.float64), (self.shape[1],))[:, None]
        den = self.e + a
        cut = self.e.max(axis=1, keepdims=True) * (np.finfo(float).eps * 4 * max(
            self.shape[0], self.B.shape[2]))
        inv = np.where((a > 0) | (self.e > cut), 1.0 / np.where(den > 0, den, 1.0), 0.0)
        return self._combine(self.q * inv)

    def least_squares(self):
        return self.ridge_solve(0.0)

    def inverse_apply(self, a, V, cols):
        """``(G_j + a_j I)^-1 v_j`` for the outputs ``cols`` (``a``, ``V``: theirs),
        ``a > 0`` (Woodbury on the factors)."""
        if self.shared:
            e, g, B = self.e[0], self.g[0], self.B[0]
            D = g / (e + a[:, None])
            return (V - B @ (D * (B.T @ V).T).T) / a
        e, g = self.e[cols], self.g[cols]
        Bt = self._Bt if cols.size == self.shape[1] else self._Bt[:, cols]
        D = g / (e + a[:, None])
        coords = np.einsum("pjr,pj->jr", Bt, V)
        return (V - np.einsum("pjr,jr->pj", Bt, D * coords)) / a

    def sigma(self, a, cols):
        """``sum_{j in cols} B_j diag(g_j / (e_j + a)) B_j^T`` (p x p)."""
        if self.shared:
            B, D = self.B[0], self.g[0] / (self.e[0] + a)
            return cols.size * (B * D) @ B.T
        D = self.g[cols] / (self.e[cols] + a)
        Bt = self._Bt if cols.size == self.shape[1] else self._Bt[:, cols]
        M = (Bt * np.sqrt(D)[None]).reshape(self.shape[0], -1)  # (p, |cols| r)
        return M @ M.T


def _solve_complete(fit, coupling, alpha):
    """``(G_j + alpha K) w = c_j`` for a :class:`Complete` coupling."""
    ridge = coupling.ridge
    if coupling.groups is None:
        return fit.ridge_solve(alpha * ridge)
    groups, coef = coupling.groups, coupling.col_coef
    a = alpha * (coef + ridge)
    if not np.all(a > 0):  # a group without pull nor ridge: least squares there
        a = np.where(a > 0, a, 0.0)
    W0 = fit.ridge_solve(a)
    p = fit.shape[0]
    shift = np.zeros((p, coupling.n_groups))
    for k in range(coupling.n_groups):  # the groups of outputs (classes), not tasks
        cols = np.flatnonzero(groups == k)
        c_g, size = coupling.coef[k], cols.size
        if c_g == 0 or alpha == 0:
            continue
        a_g = alpha * (c_g + ridge)
        # (ridge I + c_g / m_g Sigma) wbar = (c_g + ridge) / m_g sum_j (G_j + a I)^-1 c_j
        M = ridge * np.eye(p) + (c_g / size) * fit.sigma(a_g, cols)
        rhs = (c_g + ridge) / size * W0[:, cols].sum(axis=1)
        shift[:, k] = np.linalg.lstsq(M, rhs, rcond=None)[0]
    live = np.flatnonzero((coef > 0) & (a > 0))
    W = W0
    if alpha > 0 and live.size:
        pull = alpha * coef[live] * shift[:, groups[live]]
        W[:, live] += fit.inverse_apply(a[live], pull, live)
    return W


def _splu_solve(A, rhs):
    """``A^-1 rhs`` by sparse LU; least squares where ``A`` is singular (a graph
    penalty without ridge, and a direction no task's data sees)."""
    try:
        return splu(A.tocsc()).solve(rhs)
    except RuntimeError:  # exactly singular
        if A.shape[0] <= 5000:
            return np.linalg.lstsq(A.toarray(), rhs, rcond=None)[0]
        return lsqr(A, rhs, atol=1e-15, btol=1e-15, iter_lim=100 * A.shape[0])[0]


def _solve_graph(fit, coupling, alpha):
    """``(G_j + alpha (ridge I + L)) w = c_j`` for a sparse Laplacian ``L``."""
    p, m = fit.shape
    ridge, L = coupling.ridge, coupling.laplacian
    if fit.shared:  # features decouple in G's eigenbasis: one m x m system each
        e, V = fit.e[0], fit.B[0]
        Z = V.T @ fit.C  # (p, m)
        if coupling._eig is not None:
            lam, U = coupling._eig
            return V @ (((Z @ U) / (e[:, None] + alpha * (ridge + lam))) @ U.T)
        out = np.empty_like(Z)
        for i in range(p):  # features, not tasks
            A = (e[i] + alpha * ridge) * sp.identity(m, format="csc") + alpha * L
            out[i] = _splu_solve(A, Z[i])
        return V @ out
    G = fit.G
    blocks = sp.bsr_matrix((G, np.arange(m), np.arange(m + 1)), shape=(m * p, m * p))
    A = blocks + alpha * (ridge * sp.identity(m * p) + sp.kron(L, sp.identity(p)))
    w = _splu_solve(A, np.ascontiguousarray(fit.C.T).reshape(-1))
    return w.reshape(m, p).T


class Exact(Solver):
    """One structured solve of a quadratic penalty with the squared loss.

    Takes a factored data-fit term (:class:`Spectral`) and a penalty that
    declares its quadratic ``coupling`` (``_laplacian.py``).
    """

    name = "exact"
    datafit_required = ("factors", "ridge_solve", "forward", "value", "gradient",
                        "conjugate", "tol_scale", "intercept")
    penalty_required = ("coef", "variable", "value", "has_dual")
    needs = "a quadratic penalty ('l2', 'mean', 'graph') and the squared loss"

    def custom_checks(self, datafit, penalty):
        coupling = coupling_of(penalty)
        if not isinstance(coupling, (Complete, Graph)):
            return ["penalty.coupling"]
        return []

    def solve(self, datafit, penalty, alpha, V, b, **params):
        """Returns ``(V, None, gap, 1, True)``, as :meth:`FISTA.solve`."""
        coupling = coupling_of(penalty)
        if not alpha > 0:
            W = datafit.least_squares()
        elif isinstance(coupling, Graph):
            W = _solve_graph(datafit, coupling, alpha)
        else:
            W = _solve_complete(datafit, coupling, alpha)
        V = penalty.variable(W)
        gap = np.nan
        if alpha > 0 and penalty.has_dual:
            gap = duality_gap(datafit, penalty, alpha, V, None, datafit.forward(W))[0]
        return V, None, gap, 1, True
