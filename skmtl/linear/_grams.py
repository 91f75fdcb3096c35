"""The squared loss's sufficient statistics per output, centred, in batches.

For output ``j`` with rows ``i``, weights ``w_i`` (summing to one), features
``x_i`` and targets ``y_i``: ``mu_j = sum w_i x_i``, ``ybar_j = sum w_i y_i``, and
with ``xw_i = sqrt(w_i) (x_i - mu_j)``, ``yw_i = sqrt(w_i) (y_i - ybar_j)``:

* ``G_j = sum xw_i xw_i^T`` (the centred Gram matrix), ``c_j = sum xw_i yw_i``,
  ``yy_j = sum yw_i^2``;
* or the factors of ``G_j`` the exact solvers use (``_exact.py``): its eigenvalues
  ``e_j``, a basis ``B_j`` and weights ``g_j`` with ``G_j = B_j diag(g_j) B_j^T``
  and coordinates ``q_j`` with ``c_j = B_j q_j``: from the ``p x p`` Gram matrix
  (``B`` orthonormal eigenvectors, ``g = e``, ``q = B^T c``), or, for a task with
  fewer rows than features, from the ``n_t x n_t`` kernel ``K = Xw Xw^T = U diag(e)
  U^T`` (``B = Xw^T U``, ``g = 1``, ``q = U^T yw``), cheaper and exact.

Centring before the products keeps an offset of y (or of X) out of the sums, so
that a target like ``y + 1e7`` loses no digits (issue 16, item 2).  The long
format's tasks of equal size are batched (:func:`~skmtl.linear._layout.
size_groups`): no Python loop over tasks.
"""

import numpy as np
import scipy.sparse as sp

from ._layout import size_groups

__all__ = ["Moments", "LazyGram", "long_moments", "output_moments", "shared_moments"]

_CHUNK = 2**20  # floats per batch (8 MiB)


class Moments:
    """Per-output statistics: ``mu`` (p, m), ``ybar``, ``yy`` (m,), ``C`` (p, m);
    ``G`` (g, p, p) with ``g`` 1 (shared rows) or m (a view of ``Gt``, (p, p, g));
    or the factors ``e``, ``g``
    (g, r), ``B`` (g, p, r) and ``q`` (m, r)."""

    def __init__(self, p, m, n_mats, gram, factors):
        self.mu, self.C = np.zeros((p, m)), np.zeros((p, m))
        self.ybar, self.yy = np.zeros(m), np.zeros(m)
        # G[t] is Gt[:, :, t]^T: column j of every matrix is Gt[j], contiguous (p, g),
        # what coordinate descent reads
        self.Gt = np.zeros((p, p, n_mats)) if gram else None
        self.G = None if self.Gt is None else self.Gt.transpose(2, 1, 0)
        self.factors, self.lazy = factors, None
        if factors:
            r = factors
            self.e, self.g = np.zeros((n_mats, r)), np.zeros((n_mats, r))
            self.Bt, self.q = np.zeros((p, n_mats, r)), np.zeros((m, r))
            self.B = self.Bt.transpose(1, 0, 2)  # (n_mats, p, r), a view


def _centre(Xg, wg, yg, fit_intercept):
    """Batched centring and weighting: ``(Xw, yw, mu, ybar)``."""
    if fit_intercept:
        mu = np.einsum("bs,bsp->bp", wg, Xg)
        ybar = np.einsum("bs,bs->b", wg, yg)
        Xg = Xg - mu[:, None, :]
        yg = yg - ybar[:, None]
    else:
        mu, ybar = np.zeros((Xg.shape[0], Xg.shape[2])), np.zeros(Xg.shape[0])
    sw = np.sqrt(wg)
    return Xg * sw[..., None], yg * sw, mu, ybar


def _factor(Xw, yw, c, r):
    """The factors of a batch, padded to ``r`` columns: ``(e, g, B, q)``."""
    b, s, p = Xw.shape
    if s < p:  # the kernel: s x s
        K = np.matmul(Xw, Xw.transpose(0, 2, 1))
        e, U = np.linalg.eigh(K)
        B = np.matmul(Xw.transpose(0, 2, 1), U)
        g = np.ones_like(e)
        q = np.einsum("bsr,bs->br", U, yw)
    else:
        G = np.matmul(Xw.transpose(0, 2, 1), Xw)
        e, B = np.linalg.eigh(G)
        g = e = np.maximum(e, 0.0)
        q = np.einsum("bpr,bp->br", B, c)
    e = np.maximum(e, 0.0)
    pad = r - e.shape[1]
    if pad:
        e, g, q = (np.pad(a, ((0, 0), (0, pad))) for a in (e, g, q))
        B = np.pad(B, ((0, 0), (0, 0), (0, pad)))
    return e, g, B, q


def _store(mom, cols, Xw, yw, mu, ybar, gram):
    c = np.einsum("bsp,bs->bp", Xw, yw)
    mom.mu[:, cols], mom.ybar[cols] = mu.T, ybar
    mom.C[:, cols], mom.yy[cols] = c.T, np.einsum("bs,bs->b", yw, yw)
    if gram:
        mom.G[cols] = np.matmul(Xw.transpose(0, 2, 1), Xw)
    if mom.factors:
        mom.e[cols], mom.g[cols], mom.B[cols], mom.q[cols] = _factor(Xw, yw, c, mom.factors)


def _dense_rows(X, rows):
    part = X[rows.reshape(-1)]
    part = part.toarray() if sp.issparse(part) else np.asarray(part, dtype=np.float64)
    return part.reshape(rows.shape + (X.shape[1],))


def long_moments(layout, fit_intercept=True, gram=True, factors=False):
    """The statistics of every task of a :class:`~skmtl.linear._layout.LongLayout`
    with one output a task (the squared loss), tasks of equal size batched.

    ``factors``: also the factors, with ``r = min(max n_t, p)`` columns.
    """
    X, p, T = layout.X, layout.X.shape[1], layout.n_tasks
    r = min(int(layout.n_rows.max()), p) if factors else 0
    mom = Moments(p, T, T, gram, r)
    for tasks, rows in size_groups(layout.row_bounds, _CHUNK, p):
        Xg = _dense_rows(X, rows)
        Xw, yw, mu, ybar = _centre(Xg, layout.S[rows], layout.Y[rows], fit_intercept)
        _store(mom, tasks, Xw, yw, mu, ybar, gram)
    return mom


def output_moments(X, Y, S, fit_intercept=True, gram=True, factors=False):
    """The statistics of each column of a wide block (its own rows: ``S > 0``)."""
    p, m = X.shape[1], Y.shape[1]
    r = min(int((S > 0).sum(axis=0).max()), p) if factors else 0
    mom = Moments(p, m, m, gram, r)
    for j in range(m):  # once, at construction: the rows differ by output
        rows = np.flatnonzero(S[:, j] > 0)
        Xg = _dense_rows(X, rows[None])
        Xw, yw, mu, ybar = _centre(Xg, S[rows, j][None], Y[rows, j][None], fit_intercept)
        _store(mom, [j], Xw, yw, mu, ybar, gram)
    return mom


class LazyGram:
    """The centred Gram matrix of a dense, shared X, column by column on demand.

    Column ``j`` is ``X^T (w (x_j - mu_j))`` (centring ``x_j`` alone is enough: the
    weighted centred column sums to zero); coordinate descent with working sets
    asks only for the columns of the features it updates, ``n p`` each instead of
    the ``n p^2`` of the whole matrix.
    """

    def __init__(self, X, w, mu, diag):
        self.X, self.w, self.mu, self.diag = X, w, mu, diag
        p = X.shape[1]
        self.buffer, self.have = np.empty((p, p)), np.zeros(p, dtype=bool)

    def columns(self, J):
        """Columns ``J`` of the Gram matrix, shape (p, len(J))."""
        J = np.asarray(J, dtype=np.intp)
        missing = np.unique(J[~self.have[J]])
        if missing.size:
            V = self.w[:, None] * (self.X[:, missing] - self.mu[missing])
            self.buffer[:, missing] = self.X.T @ V
            self.have[missing] = True
        return self.buffer[:, J]

    def column(self, j):
        """Column ``j``, shape (p, 1): a view of the buffer once computed."""
        if not self.have[j]:
            self.columns([j])
        return self.buffer[:, j : j + 1]

    def full(self):
        return self.columns(np.arange(self.X.shape[1]))


def shared_moments(X, Y, w, fit_intercept=True, gram=True, factors=False):
    """The statistics of outputs that share rows and weights ``w``: one Gram
    matrix (rows in chunks when X is dense); ``factors`` from its eigenvectors.
    ``gram="lazy"`` (dense X): the Gram matrix as a :class:`LazyGram` (``lazy``)."""
    n, p = X.shape
    m = Y.shape[1]
    lazy = gram == "lazy" and not sp.issparse(X) and not factors
    mom = Moments(p, m, 1, (gram or factors) and not lazy, p if factors else 0)
    mu = np.asarray(X.T @ w).ravel() if fit_intercept else np.zeros(p)
    ybar = w @ Y if fit_intercept else np.zeros(m)
    Yc = Y - ybar
    if lazy:
        step = max(1, _CHUNK // max(p, 1))
        diag = np.zeros(p)
        for i in range(0, n, step):
            diag += w[i:i + step] @ (X[i:i + step] - mu) ** 2
        mom.mu[:], mom.ybar[:] = mu[:, None], ybar
        mom.C[:] = np.asarray(X.T @ (w[:, None] * Yc))
        mom.yy[:] = w @ Yc**2
        mom.lazy = LazyGram(np.asarray(X, dtype=np.float64), w, mu, diag)
        return mom
    if sp.issparse(X):
        Xw = X.multiply(np.sqrt(w)[:, None]).tocsr()
        G = np.asarray((Xw.T @ Xw).todense()) - np.outer(mu, mu)
        C = np.asarray(X.T @ (w[:, None] * Yc))
    else:
        G, C = np.zeros((p, p)), np.zeros((p, m))
        step = max(1, _CHUNK // max(p, 1))
        for i in range(0, n, step):
            sw = np.sqrt(w[i:i + step])[:, None]
            Xw = (X[i:i + step] - mu) * sw
            G += Xw.T @ Xw
            C += Xw.T @ (Yc[i:i + step] * sw)
    mom.mu[:], mom.ybar[:] = mu[:, None], ybar
    mom.C[:], mom.yy[:] = C, w @ Yc**2
    mom.G[0] = G
    if factors:
        e, V = np.linalg.eigh(G)
        e = np.maximum(e, 0.0)
        mom.e[0], mom.g[0], mom.B[0] = e, e, V
        mom.q[:] = (V.T @ C).T
    return mom
