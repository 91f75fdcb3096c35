"""Losses: value, gradient with respect to the linear predictions, and conjugate.

Every loss works on a block of linear predictions ``Z`` of shape (n_rows, n_outputs)
with targets ``Y`` and weights ``S`` of the same shape (``S`` is zero where a label is
missing, and sums to one over each task's rows).  The data-fit term is
``sum(S * l(Y, Z))``, i.e. the sum over tasks of each task's weighted mean loss.

``conjugate(U, Y, S, seg)`` is the Fenchel conjugate of that term at ``U``, used by the
duality gap; the solvers only evaluate it at ``U = gradient / s`` with ``s >= 1``,
which lies in its domain.  ``diagonal_curvature(R, Y, S, seg)`` is the diagonal of
its Hessian in ``Z``, from the gradient ``R`` (the intercept's Newton step).

Each loss declares what the data-fit forms need of it: ``curvature``, a bound on
that Hessian (the Lipschitz constant's factor), and ``quadratic``, whether the loss
is the squared error of ``Z`` to ``Y`` (so that the Gram form of
:class:`~skmtl.linear._datafit.GramFit` holds it exactly).  The numpy and the torch
data-fit terms both evaluate these definitions.
"""

import numpy as np
from scipy.special import xlogy


def _inner(A, B):
    """``sum(A * B)``, summed by numpy itself: BLAS's dot runs threaded past 10^4
    entries, and its threads, waiting, then fight those of torch's products on the
    CPU (:class:`~skmtl.nn._linear.TorchDesignFit`: 25 times slower on 5000 x 5)."""
    return np.multiply(A, B).sum()


class Squared:
    """Squared loss ``1/2 (y - z)**2``."""

    name = "squared"
    curvature = 1.0
    quadratic = True

    def value(self, Z, Y, S, seg=None):
        return 0.5 * _inner(S, (Z - Y) ** 2)

    def gradient(self, Z, Y, S, seg=None):
        return S * (Z - Y)

    def conjugate(self, U, Y, S, seg=None):
        quad = np.divide(U**2, S, out=np.zeros_like(U), where=S > 0)
        return _inner(U, Y) + 0.5 * quad.sum()

    def diagonal_curvature(self, R, Y, S, seg=None):
        return S


class SquaredHinge:
    """Squared hinge ``1/2 max(0, 1 - y z)**2`` with ``y`` in {-1, +1} (one-vs-rest)."""

    name = "squared_hinge"
    curvature = 1.0
    quadratic = False  # piecewise: the curvature drops to zero past the margin

    def value(self, Z, Y, S, seg=None):
        return 0.5 * _inner(S, np.maximum(0.0, 1.0 - Y * Z) ** 2)

    def gradient(self, Z, Y, S, seg=None):
        return -S * Y * np.maximum(0.0, 1.0 - Y * Z)

    def conjugate(self, U, Y, S, seg=None):
        return Squared.conjugate(self, U, Y, S)

    def diagonal_curvature(self, R, Y, S, seg=None):
        return S * (R != 0)


class Logistic:
    """Logistic loss for binary tasks and multinomial loss for multiclass ones.

    A task is a segment of consecutive outputs (``seg = (starts, sizes)``, local to
    the block).  A one-output segment is a binary task: its logit ``z`` scores the
    positive class against an implicit zero logit, so the loss is
    ``log(1 + exp(z)) - y z`` with ``y`` in {0, 1}.  A K-output segment is a
    multinomial task with one-hot ``Y``: ``logsumexp(z) - y . z``.
    """

    name = "logistic"
    curvature = 0.5  # 1/4 for binary tasks, 1/2 for multinomial ones
    quadratic = False

    @staticmethod
    def _lse(Z, seg):
        """Log-sum-exp per segment (with the implicit zero logit of binary tasks)."""
        if seg is None:
            return np.logaddexp(0.0, Z)
        starts, sizes = seg
        single = sizes == 1
        mx = np.maximum.reduceat(Z, starts, axis=1)
        mx = np.where(single, np.maximum(mx, 0.0), mx)
        ex = np.exp(Z - np.repeat(mx, sizes, axis=1))
        total = np.add.reduceat(ex, starts, axis=1) + single * np.exp(-mx)
        return mx + np.log(total)

    def _probs(self, Z, seg):
        if seg is None:
            return 0.5 * (1.0 + np.tanh(0.5 * Z))  # stable sigmoid
        return np.exp(Z - np.repeat(self._lse(Z, seg), seg[1], axis=1))

    def value(self, Z, Y, S, seg=None):
        lse = self._lse(Z, seg)
        S_seg = S if seg is None else S[:, seg[0]]
        return _inner(S_seg, lse) - _inner(S * Y, Z)

    def gradient(self, Z, Y, S, seg=None):
        return S * (self._probs(Z, seg) - Y)

    def conjugate(self, U, Y, S, seg=None):
        P = np.divide(U, S, out=np.zeros_like(U), where=S > 0) + Y
        P = np.clip(P, 0.0, 1.0)
        ent = xlogy(P, P)
        if seg is None:
            rest = np.where(S > 0, xlogy(1.0 - P, 1.0 - P), 0.0)
            return _inner(S, ent + rest)
        starts, sizes = seg
        single = sizes == 1
        S_seg = S[:, starts]
        total = np.add.reduceat(S * ent, starts, axis=1).sum()
        p1 = np.add.reduceat(P, starts, axis=1)[:, single]
        return total + _inner(S_seg[:, single], xlogy(1.0 - p1, 1.0 - p1))

    def diagonal_curvature(self, R, Y, S, seg=None):
        """``S p (1 - p)``: the binary curvature, the multinomial Hessian's diagonal."""
        P = np.clip(np.divide(R, S, out=np.zeros_like(R), where=S > 0) + Y, 0.0, 1.0)
        return S * P * (1.0 - P)


LOSSES = {cls.name: cls for cls in (Squared, SquaredHinge, Logistic)}
