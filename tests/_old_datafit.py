"""Today's (before issue 12) per-block data-fit terms, kept as the reference of the
vectorized ones: a Python loop over the blocks (one a task in the long format) in
every product, the Gram matrices built one output at a time, uncentred targets.

Copied unchanged from ``skmtl/linear/_datafit.py`` at commit e4c4a93 (only this
docstring and the import of ``take_rows`` differ); used by
``tests/test_vectorized.py``.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class Block:
    """Rows that share one design: ``Z = X @ W[:, cols] + b[cols]``."""

    X: object  # (n_b, p) ndarray or CSR matrix
    Y: np.ndarray  # (n_b, m_b) encoded targets
    S: np.ndarray  # (n_b, m_b) weights; 0 where missing; each column sums to 1
    cols: slice
    seg: tuple = None  # (starts, sizes) of the tasks' output groups, logistic only


class DesignFit:
    """Data-fit term evaluated on the data: ``sum_b loss(X_b W_b + b_b; Y_b, S_b)``.

    Parameters
    ----------
    blocks : list of Block
    loss : Squared, SquaredHinge or Logistic
        A loss object of ``_losses.py``.
    n_features, n_outputs : int
    fit_intercept : bool, default=True
    """

    has_intercept_variable = True
    rounding = 1e-10  # relative rounding of the products with X (tol_scale's floor)

    def __init__(self, blocks, loss, n_features, n_outputs, fit_intercept=True):
        self.blocks, self.loss = blocks, loss
        self.shape = (n_features, n_outputs)
        self.fit_intercept = fit_intercept
        sizes = [blk.Y.size for blk in blocks]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)

    @property
    def constant_curvature(self):
        """A quadratic loss: the curvature the Lipschitz estimate gives holds everywhere."""
        return self.loss.quadratic

    def forward_product(self, k, W):
        """``X_k @ W`` for block ``k``; ``W`` its columns of the coefficients."""
        return self.blocks[k].X @ W

    def backward_product(self, k, R):
        """``X_k^T @ R`` for block ``k``; ``R`` of shape (n_k, m_k)."""
        return self.blocks[k].X.T @ R

    def _views(self, Z):
        for blk, start, stop in zip(self.blocks, self._offsets[:-1], self._offsets[1:]):
            yield blk, Z[start:stop].reshape(blk.Y.shape)

    def forward(self, W, b):
        Z = np.empty(self._offsets[-1])
        for k, (blk, Zb) in enumerate(self._views(Z)):
            Zb[...] = self.forward_product(k, W[:, blk.cols])
            if b is not None:
                Zb += b[blk.cols]
        return Z

    def _backward(self, R):
        G = np.zeros(self.shape)
        gb = np.zeros(self.shape[1]) if self.fit_intercept else None
        for k, (blk, Rb) in enumerate(self._views(R)):
            G[:, blk.cols] += self.backward_product(k, Rb)
            if gb is not None:
                gb[blk.cols] += Rb.sum(axis=0)
        return G, gb

    def _residual_gradient(self, Z):
        R = np.empty_like(Z)
        for (blk, Zb), (_, Rb) in zip(self._views(Z), self._views(R)):
            Rb[...] = self.loss.gradient(Zb, blk.Y, blk.S, blk.seg)
        return R

    def intercept_newton(self, Z):
        g, h = np.zeros(self.shape[1]), np.zeros(self.shape[1])
        for blk, Rb in self._views(self._residual_gradient(Z)):
            g[blk.cols] += Rb.sum(axis=0)
            h[blk.cols] += self.loss.diagonal_curvature(Rb, blk.Y, blk.S, blk.seg).sum(axis=0)
        return g, h

    def shift(self, Z, delta):
        Z = Z.copy()
        for blk, Zb in self._views(Z):
            Zb += delta[blk.cols]
        return Z

    def value(self, W, b, Z):
        return sum(self.loss.value(Zb, blk.Y, blk.S, blk.seg) for blk, Zb in self._views(Z))

    def gradient(self, W, b, Z):
        return self._backward(self._residual_gradient(Z))

    def conjugate(self, W, b, Z, s):
        R = self._residual_gradient(Z) / s
        return sum(
            self.loss.conjugate(Rb, blk.Y, blk.S, blk.seg) for blk, Rb in self._views(R)
        )

    def lipschitz(self, n_iter=8, seed=0):
        """Power-iteration estimate of the largest curvature (backtracking corrects it)."""
        rng = np.random.default_rng(seed)
        W = rng.standard_normal(self.shape)
        b = rng.standard_normal(self.shape[1]) if self.fit_intercept else None
        lam = 0.0
        for _ in range(n_iter):
            norm = np.sqrt(np.vdot(W, W) + (np.vdot(b, b) if b is not None else 0.0))
            if not norm > 0:  # an all-zero X without intercept: no curvature
                break
            W = W / norm
            b = b / norm if b is not None else None
            Z = self.forward(W, b)
            for blk, Zb in self._views(Z):
                Zb *= blk.S
            W, b = self._backward(Z)
            lam = np.sqrt(np.vdot(W, W) + (np.vdot(b, b) if b is not None else 0.0))
        return max(lam * self.loss.curvature, 1e-12)

    def tol_scale(self):
        if self.loss.quadratic:
            total = raw = 0.0
            for blk in self.blocks:
                mean = (blk.S * blk.Y).sum(axis=0) if self.fit_intercept else 0.0
                total += np.vdot(blk.S, (blk.Y - mean) ** 2)
                raw += np.vdot(blk.S, blk.Y ** 2)
            return _centred_scale(total, raw, self.rounding)
        b = np.zeros(self.shape[1]) if self.fit_intercept else None
        W = np.zeros(self.shape)
        return max(self.value(W, b, self.forward(W, b)), 1e-300)


def _centred_scale(centred, raw, rounding=1e-10):
    """The tolerance's scale: the centred sum of squares of y, but no smaller than
    the rounding of the uncentred terms the gap is computed from (constant y)."""
    return max(centred, rounding * raw, 1e-300)


def _weighted_gram(X, w):
    """``X^T diag(w) X`` as a dense array, for dense or sparse X."""
    if np.all(w == w[0]):  # uniform weights: no weighted copy of X
        G = X.T @ X
        return w[0] * (np.asarray(G.todense()) if sp.issparse(G) else G)
    if sp.issparse(X):
        return np.asarray((X.T @ X.multiply(w[:, None]).tocsr()).todense())
    Xs = X * np.sqrt(w)[:, None]
    return Xs.T @ Xs


def shared_rows(blocks):
    """Whether every output sees the same rows with the same weights."""
    return len(blocks) == 1 and bool(np.all(blocks[0].S == blocks[0].S[:, :1]))


class GramFit:
    """Squared loss in Gram space, the intercept eliminated by (weighted) centering.

    With ``G_t = X_t^T S_t X_t - mu_t mu_t^T``, ``c_t = X_t^T S_t y_t - mu_t ybar_t``
    and ``yy_t`` the weighted variance of ``y_t``, the data-fit term is
    ``sum_t 1/2 yy_t - c_t . w_t + 1/2 w_t^T G_t w_t``: one iteration costs
    ``O(p^2 T)`` whatever the number of rows.
    """

    constant_curvature = True
    has_intercept_variable = False

    def __init__(self, blocks, n_features, n_outputs, fit_intercept=True, shared=None):
        p, m = n_features, n_outputs
        self.shape = (p, m)
        shared = shared_rows(blocks) if shared is None else shared
        if shared:  # one Gram matrix, and every product with X done once
            blk = blocks[0]
            X, Y, w = blk.X, blk.Y, blk.S[:, 0]
            mu = np.asarray(X.T @ w).ravel() if fit_intercept else np.zeros(p)
            self.ybar = w @ Y if fit_intercept else np.zeros(m)
            self.G = (_weighted_gram(X, w) - np.outer(mu, mu))[None]
            self.C = np.asarray(X.T @ (w[:, None] * Y)) - np.outer(mu, self.ybar)
            self.mu = np.repeat(mu[:, None], m, axis=1)
            self.yy = w @ Y**2 - self.ybar**2
            return
        grams, self.C = [], np.zeros((p, m))
        self.mu, self.ybar, self.yy = np.zeros((p, m)), np.zeros(m), np.zeros(m)
        for blk in blocks:
            cols = np.arange(m)[blk.cols]
            for j, col in enumerate(cols):
                w = blk.S[:, j]
                rows = slice(None) if (w > 0).all() else np.flatnonzero(w)
                X, y, w = blk.X[rows], blk.Y[rows, j], w[rows]
                mu = np.asarray(X.T @ w).ravel() if fit_intercept else np.zeros(p)
                ybar = np.dot(w, y) if fit_intercept else 0.0
                grams.append(_weighted_gram(X, w) - np.outer(mu, mu))
                self.C[:, col] = np.asarray(X.T @ (w * y)).ravel() - mu * ybar
                self.mu[:, col], self.ybar[col] = mu, ybar
                self.yy[col] = np.dot(w, y**2) - ybar**2
        self.G = np.stack(grams)  # (1, p, p) if shared, else (m, p, p)

    def forward(self, W, b=None):
        if self.G.shape[0] == 1:
            return self.G[0] @ W
        return np.matmul(self.G, W.T[:, :, None])[:, :, 0].T

    def gram_column(self, j):
        """Column ``j`` of every task's Gram matrix, shape (p, m) or (p, 1)."""
        return self.G[:, j, :].T  # rows of symmetric matrices: contiguous

    def gram_diagonal(self):
        """The diagonals of the Gram matrices, shape (1, p) or (m, p)."""
        return np.diagonal(self.G, axis1=1, axis2=2)

    def gradient_row(self, j, H):
        """Row ``j`` (feature ``j``) of the gradient at the state ``H``."""
        return H[j] - self.C[j]

    def value(self, W, b, H):
        return 0.5 * self.yy.sum() - np.vdot(self.C, W) + 0.5 * np.vdot(W, H)

    def gradient(self, W, b, H):
        return H - self.C, None

    def conjugate(self, W, b, H, s):
        cw = np.vdot(self.C, W)
        rr = self.yy.sum() - 2 * cw + np.vdot(W, H)
        return -(self.yy.sum() - cw) / s + 0.5 * rr / s**2

    def lipschitz(self):
        return max(float(np.linalg.eigvalsh(self.G)[:, -1].max()), 1e-12)

    def tol_scale(self):
        return _centred_scale(self.yy.sum(), (self.yy + self.ybar ** 2).sum())

    def intercept(self, W):
        return self.ybar - np.einsum("jt,jt->t", self.mu, W)


def make_blocks(table, targets, segmented=False):
    """Blocks of a :class:`~skmtl._tasks.TaskTable` with encoded targets.

    ``targets[t]`` has shape (n_t, k_t): ``k_t`` outputs for task ``t``.  The wide
    format gives one block over the shared X (missing labels weigh zero); the long
    format gives one block per task over its own rows.

    Returns ``(blocks, out_task)``, ``out_task[j]`` the task of output ``j``.
    """
    from skmtl._tasks import take_rows

    sizes = np.array([E.shape[1] for E in targets])
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    out_task = np.repeat(np.arange(len(targets)), sizes)
    if table.wide:
        n, m = table.X.shape[0], bounds[-1]
        Y, S = np.zeros((n, m)), np.zeros((n, m))
        for t, (rows, E, w) in enumerate(zip(table.rows, targets, table.weights)):
            cols = slice(bounds[t], bounds[t + 1])
            Y[rows, cols] = E
            S[rows, cols] = w[:, None]
        seg = (bounds[:-1], sizes) if segmented and (sizes > 1).any() else None
        return [Block(table.X, Y, S, slice(0, m), seg)], out_task
    blocks = []
    for t, (rows, E, w) in enumerate(zip(table.rows, targets, table.weights)):
        seg = (np.array([0]), sizes[t : t + 1]) if segmented and sizes[t] > 1 else None
        S = np.repeat(w[:, None], sizes[t], axis=1)
        X = take_rows(table.X, rows)
        blocks.append(Block(X, np.asarray(E, float), S, slice(bounds[t], bounds[t + 1]), seg))
    return blocks, out_task
