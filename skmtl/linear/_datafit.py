"""The smooth data-fit term, in data space (any loss) or in Gram space (squared loss).

Both expose the same narrow interface to the solvers:

* ``forward(W, b)``: a state that is *linear* in ``(W, b)`` (the predictions ``Z``,
  or ``H = G W`` in Gram space), so that FISTA can extrapolate states instead of
  recomputing them: one pass over X per iteration for the forward product and one
  for the gradient, the floor for a first-order method;
* ``value(W, b, state)``, ``gradient(W, b, state) -> (grad_W, grad_b or None)``;
* ``conjugate(W, b, state, s)``: the Fenchel conjugate at ``gradient / s``, which
  gives the duality gap of a norm penalty;
* ``lipschitz()`` and ``tol_scale()`` (the scale the tolerance is relative to);
* ``constant_curvature`` (quadratic: no need to let the step grow) and
  ``has_intercept_variable``: with an intercept in the state (data space),
  ``intercept_newton(state)`` (the intercept's gradient and diagonal curvature, per
  output) and ``shift(state, delta)``, with which the solvers minimise over the
  intercept with ``W`` fixed before a gap; without (Gram space), ``intercept(W)``.

The Gram form also gives ``gram_column``, ``gram_diagonal`` and ``gradient_row``,
what coordinate descent needs (see :class:`~skmtl.linear._bcd.BCD`).

:class:`DesignFit` touches X only through two hooks per block, ``forward_product``
(``X_k @ W_k``) and ``backward_product`` (``X_k^T R_k``): a subclass that holds X
elsewhere (``skmtl.nn._linear.TorchDesignFit``, on a torch device) overrides those
and inherits the rest, the losses of ``_losses.py`` included.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._grams import long_moments, output_moments, shared_moments
from ._layout import Blocks, LongLayout


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

    The predictions ``Z`` of all blocks are one flat array (the blocks' ``(n_b,
    m_b)`` predictions one after the other), on which the loss is evaluated at
    once.  The products with X: in the long format (``blocks`` of
    :func:`make_blocks`, with a ``layout``) one sparse-dense product each way
    over all tasks (:class:`~skmtl.linear._layout.LongLayout`); otherwise (the
    wide format's one block, or a subclass's own ``forward_product`` /
    ``backward_product``) block by block.

    With the squared loss and an intercept, the targets are centred per output
    (their weighted means are ``offset``, which the intercept absorbs: the
    solvers see ``b - offset``), so that the answer and the tolerance do not
    depend on an offset of y.

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
        layout = getattr(blocks, "layout", None)
        hooked = (type(self).forward_product is not DesignFit.forward_product
                  or type(self).backward_product is not DesignFit.backward_product)
        self.layout = None if hooked else layout
        if layout is not None:
            Y, S, self._out, self._seg = layout.Y, layout.S, layout.out, layout.seg
            self._offsets = layout.entry_bounds
        else:
            Y, S, self._out, self._seg, self._offsets = _flatten(blocks, n_outputs)
        if self.layout is None:
            self._blocks = list(blocks)
        self.offset = np.zeros(n_outputs)
        if loss.quadratic and fit_intercept:  # weighted mean of each output
            self.offset = np.bincount(self._out, S * Y, n_outputs)
            Y = np.where(S > 0, Y - self.offset[self._out], 0.0)
        self._Y, self._S = Y.reshape(1, -1), S.reshape(1, -1)

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

    def _products(self, W):
        if self.layout is not None:
            return self.layout.forward(W)
        Z = np.empty(self._offsets[-1])
        for k, blk in enumerate(self._blocks):
            Z[self._offsets[k]:self._offsets[k + 1]] = np.asarray(
                self.forward_product(k, W[:, blk.cols])).reshape(-1)
        return Z

    def _backward_products(self, R):
        if self.layout is not None:
            return self.layout.backward(R)
        G = np.zeros(self.shape)
        for k, blk in enumerate(self._blocks):
            Rb = R[self._offsets[k]:self._offsets[k + 1]].reshape(blk.Y.shape)
            G[:, blk.cols] += self.backward_product(k, Rb)
        return G

    def forward(self, W, b):
        Z = self._products(W)
        if b is not None:
            Z += b[self._out]
        return Z

    def _backward(self, R):
        gb = np.bincount(self._out, R, self.shape[1]) if self.fit_intercept else None
        return self._backward_products(R), gb

    def _residual_gradient(self, Z):
        return self.loss.gradient(Z.reshape(1, -1), self._Y, self._S, self._seg).ravel()

    def intercept_newton(self, Z):
        R = self._residual_gradient(Z).reshape(1, -1)
        h = self.loss.diagonal_curvature(R, self._Y, self._S, self._seg).ravel()
        m = self.shape[1]
        return np.bincount(self._out, R.ravel(), m), np.bincount(self._out, h, m)

    def shift(self, Z, delta):
        return Z + delta[self._out]

    def value(self, W, b, Z):
        return self.loss.value(Z.reshape(1, -1), self._Y, self._S, self._seg)

    def gradient(self, W, b, Z):
        return self._backward(self._residual_gradient(Z))

    def conjugate(self, W, b, Z, s):
        R = self._residual_gradient(Z).reshape(1, -1) / s
        return self.loss.conjugate(R, self._Y, self._S, self._seg)

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
            W, b = self._backward(self.forward(W, b) * self._S.ravel())
            lam = np.sqrt(np.vdot(W, W) + (np.vdot(b, b) if b is not None else 0.0))
        return _curvature(lam * self.loss.curvature)

    def lipschitz_parts(self, n_iter=8, seed=0):
        """The curvatures in W alone (power iteration) and in the intercepts alone
        (exact: the loss's curvature times each output's weight, 1), for FISTA's
        two step sizes; their sum bounds the joint curvature."""
        rng = np.random.default_rng(seed)
        W, lam = rng.standard_normal(self.shape), 0.0
        for _ in range(n_iter):
            norm = np.sqrt(np.vdot(W, W))
            if not norm > 0:
                break
            W = self._backward_products(self._products(W / norm) * self._S.ravel())
            lam = np.sqrt(np.vdot(W, W))
        weight = np.bincount(self._out, self._S.ravel(), self.shape[1]).max(initial=0.0)
        return _curvature(lam * self.loss.curvature), _curvature(
            weight * self.loss.curvature)

    def tol_scale(self):
        if self.loss.quadratic:  # the targets are centred already (with an intercept)
            total = np.vdot(self._S, self._Y ** 2)
            return _centred_scale(total, total, self.rounding)
        b = np.zeros(self.shape[1]) if self.fit_intercept else None
        W = np.zeros(self.shape)
        return max(self.value(W, b, self.forward(W, b)), 1e-300)


def _curvature(lam):
    """A curvature estimate, floored only where it is zero (no data): a floor like
    ``1e-12`` would stop a fit on X * 1e-8 early (issue 16, item 4)."""
    return 1.0 if lam == 0 else float(lam)


def _flatten(blocks, m):
    """Flat targets, weights, output of each entry and segments of ``blocks``."""
    Ys, Ss, outs, starts, sizes, offsets = [], [], [], [], [], [0]
    for blk in blocks:
        n_b, m_b = blk.Y.shape
        Ys.append(blk.Y.reshape(-1))
        Ss.append(blk.S.reshape(-1))
        cols = np.arange(m)[blk.cols]
        outs.append(np.tile(cols, n_b))
        if blk.seg is not None:
            base = offsets[-1] + np.arange(n_b)[:, None] * m_b
            starts.append((base + blk.seg[0][None, :]).reshape(-1))
            sizes.append(np.tile(blk.seg[1], n_b))
        else:  # one segment per entry (a binary task, or no segments at all)
            starts.append(offsets[-1] + np.arange(n_b * m_b))
            sizes.append(np.ones(n_b * m_b, dtype=int))
        offsets.append(offsets[-1] + n_b * m_b)
    seg = None
    if any(blk.seg is not None for blk in blocks):
        seg = (np.concatenate(starts), np.concatenate(sizes))
    return (np.concatenate(Ys).astype(np.float64), np.concatenate(Ss),
            np.concatenate(outs), seg, np.array(offsets))


def _centred_scale(centred, raw, rounding=1e-10):
    """The tolerance's scale: the centred sum of squares of y, but no smaller than
    the rounding of the uncentred terms the gap is computed from (constant y)."""
    return max(centred, rounding * raw, 1e-300)


def shared_rows(blocks):
    """Whether every output sees the same rows with the same weights."""
    if getattr(blocks, "layout", None) is not None:
        return False
    return len(blocks) == 1 and bool(np.all(blocks[0].S == blocks[0].S[:, :1]))


def moments(blocks, fit_intercept=True, shared=None, gram=True, factors=False,
            lazy=False):
    """The centred statistics of the squared loss (``_grams.py``) of ``blocks``."""
    layout = getattr(blocks, "layout", None)
    if layout is not None:
        return long_moments(layout, fit_intercept, gram, factors)
    shared = shared_rows(blocks) if shared is None else shared
    if shared:
        blk = blocks[0]
        return shared_moments(blk.X, blk.Y, blk.S[:, 0], fit_intercept,
                              "lazy" if lazy and gram else gram, factors)
    if len(blocks) == 1:
        blk = blocks[0]
        return output_moments(blk.X, blk.Y, blk.S, fit_intercept, gram, factors)
    raise ValueError("blocks of the long format need their layout (make_blocks)")


class QuadraticForm:
    """``sum_t 1/2 yy_t - C_t . w_t + 1/2 w_t^T G_t w_t`` from its state ``H = G W``:
    value, gradient and conjugate (``C`` and ``yy`` set by the subclass)."""

    def value(self, W, b, H):
        return 0.5 * self.yy.sum() - np.vdot(self.C, W) + 0.5 * np.vdot(W, H)

    def gradient(self, W, b, H):
        return H - self.C, None

    def conjugate(self, W, b, H, s):
        cw = np.vdot(self.C, W)
        rr = self.yy.sum() - 2 * cw + np.vdot(W, H)
        return -(self.yy.sum() - cw) / s + 0.5 * rr / s**2


class GramFit(QuadraticForm):
    """Squared loss in Gram space, the intercept eliminated by (weighted) centering.

    With ``G_t`` the centred weighted Gram matrix of output ``t``, ``c_t`` the
    centred ``X_t^T S_t y_t`` and ``yy_t`` the weighted variance of ``y_t``
    (``_grams.py``, offsets removed before the products), the data-fit term is
    ``sum_t 1/2 yy_t - c_t . w_t + 1/2 w_t^T G_t w_t``: one iteration costs
    ``O(p^2 T)`` whatever the number of rows.
    """

    constant_curvature = True
    has_intercept_variable = False

    lazy_from = 64  # shared dense rows past this many features: columns on demand

    def __init__(self, blocks, n_features, n_outputs, fit_intercept=True, shared=None):
        self.shape = (n_features, n_outputs)
        mom = moments(blocks, fit_intercept, shared, lazy=n_features > self.lazy_from)
        self._Gt, self._lazy = mom.Gt, mom.lazy
        self.C, self.mu, self.ybar, self.yy = mom.C, mom.mu, mom.ybar, mom.yy

    @property
    def G(self):
        """The Gram matrices, (1, p, p) with shared rows, else (m, p, p)."""
        if self._Gt is None:
            self._Gt = self._lazy.full()[:, :, None]  # symmetric
        return self._Gt.transpose(2, 1, 0)

    def forward(self, W, b=None):
        if self._Gt is None:  # the columns of the nonzero rows only
            rows = np.flatnonzero(np.any(W != 0, axis=1))
            return self._lazy.columns(rows) @ W[rows]
        if self._Gt.shape[2] == 1:
            return self._Gt[:, :, 0].T @ W
        return np.einsum("jit,jt->it", self._Gt, W)

    def prepare_columns(self, J):
        """Compute the Gram columns of features ``J`` at once (a lazy Gram)."""
        if self._Gt is None:
            self._lazy.columns(J)

    def gram_column(self, j):
        """Column ``j`` of every task's Gram matrix, shape (p, m) or (p, 1)."""
        if self._Gt is None:
            return self._lazy.column(j)
        return self._Gt[j]  # contiguous

    def gram_diagonal(self):
        """The diagonals of the Gram matrices, shape (1, p) or (m, p)."""
        if self._Gt is None:
            return self._lazy.diag[None]
        return np.diagonal(self._Gt, axis1=0, axis2=1)

    def gradient_row(self, j, H):
        """Row ``j`` (feature ``j``) of the gradient at the state ``H``."""
        return H[j] - self.C[j]

    def lipschitz(self):
        return _curvature(float(np.linalg.eigvalsh(self.G)[:, -1].max()))

    def tol_scale(self):
        # centred before the products: no uncentred term to round (issue 16, item 2)
        return _centred_scale(self.yy.sum(), self.yy.sum())

    def intercept(self, W):
        return self.ybar - np.einsum("jt,jt->t", self.mu, W)


def make_blocks(table, targets, segmented=False):
    """Blocks of a :class:`~skmtl._tasks.TaskTable` with encoded targets.

    ``targets[t]`` has shape (n_t, k_t): ``k_t`` outputs for task ``t``.  The wide
    format gives one block over the shared X (missing labels weigh zero); the long
    format gives one block per task over its own rows: a :class:`~skmtl.linear.
    _layout.Blocks` sequence over one :class:`~skmtl.linear._layout.LongLayout`
    (``blocks.layout``), which the data-fit terms use to treat all tasks at once.

    Returns ``(blocks, out_task)``, ``out_task[j]`` the task of output ``j``.
    """
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
    return _long_blocks(table, targets, sizes, bounds, segmented), out_task


def _long_blocks(table, targets, sizes, bounds, segmented):
    """The long format's blocks over one :class:`LongLayout` (no copy of X when the
    tasks' row slices follow each other, as :func:`~skmtl._tasks.split_tasks`
    makes them)."""
    from .._tasks import take_rows

    starts = np.array([r.start for r in table.rows], dtype=np.int64)
    stops = np.array([r.stop for r in table.rows], dtype=np.int64)
    X = table.X
    if starts.size and (starts[0] != 0 or np.any(starts[1:] != stops[:-1])):
        X = sp.vstack([take_rows(X, r) for r in table.rows]).tocsr() if sp.issparse(X) \
            else np.concatenate([X[r] for r in table.rows])
        stops = np.cumsum(stops - starts)
    row_bounds = np.concatenate([[0], stops])
    if row_bounds[-1] != X.shape[0]:
        X = X[: row_bounds[-1]]
    Y = np.concatenate([np.asarray(E, dtype=np.float64).reshape(-1) for E in targets])
    w = np.concatenate(table.weights)
    S = np.repeat(w, np.repeat(sizes, np.diff(row_bounds)))
    layout = LongLayout(X, row_bounds, bounds, Y, S, segmented)
    return Blocks(layout, segmented)
