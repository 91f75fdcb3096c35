"""Penalties: a value and a proximal operator, on W of shape (n_features, n_outputs).

The estimators minimise ``datafit(W) + alpha * penalty.value(V)`` where ``W =
penalty.coef(V)``; for every penalty but :class:`Dirty` the variable ``V`` is ``W``
itself.  ``prox(V, step)`` returns ``argmin_U 1/2 ||U - V||_F^2 + step * value(U)``.
Penalties that are norms also give ``dual_norm``, the others ``conjugate`` (the
Fenchel conjugate of ``value``): with either the solvers stop on the duality gap;
without (``has_dual`` False) on the relative size of a proximal-gradient step.

What a solver needs of a penalty is declared on the solver
(``penalty_required``, see :class:`~skmtl.linear._fista.Solver`): FISTA takes any
of these; block coordinate descent takes a norm that separates over the rows of W
and gives ``block_minimiser`` and ``block_dual_norms`` (:class:`L21`).

Penalties are small estimator-like objects (``get_params``/``set_params``), so a
``GridSearchCV`` can tune ``penalty__ridge`` and friends, and every one is reachable
by name (``penalty="trace"``) through :func:`get_penalty`.  The penalties that
couple tasks through a task structure (graph, mean, clusters) are in
``_coupling.py``.
"""

import copy
import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

__all__ = ["Penalty", "L21", "L1", "L2", "TraceNorm", "Dirty"]


class Penalty(BaseEstimator):
    """Base class: identity parametrisation, no structure, not a norm."""

    is_norm = False
    lipschitz_factor = 1.0

    @property
    def has_dual(self):
        """Whether the duality gap can be computed (norm or finite conjugate)."""
        return self.is_norm or hasattr(self, "conjugate")

    def coef(self, V):
        return V

    def variable(self, W):
        """The variable that represents ``W`` (warm starts)."""
        return W

    def var_gradient(self, G):
        return G

    def bind(self, out_task, out_group):
        """Return a copy adapted to the outputs (graph and mean penalties override).

        ``out_task[j]`` is the task of output column ``j``; ``out_group[j]`` tells
        which outputs are comparable across tasks (the same class of a multiclass
        task, or 0 for regression and binary tasks).
        """
        return self

    def dual_norm(self, G):  # pragma: no cover - only norms define it
        raise NotImplementedError


def _row_norms(V):
    return np.sqrt(np.einsum("ij,ij->i", V, V))


def _group_shrink(V, step):
    norms = _row_norms(V)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # zero rows
        scale = np.where(norms > step, 1.0 - step / norms, 0.0)
    return V * scale[:, None]


def _group_minimiser(u, d, alpha):
    """``argmin_w sum_t (d_t w_t^2 / 2 - u_t w_t) + alpha ||w||_2`` for varied ``d_t``.

    ``w_t = u_t r / (d_t r + alpha)`` with ``r = ||w||`` the root of ``sum_t u_t^2 /
    (d_t r + alpha)^2 = 1``, found by Newton's method on the near-linear ``h(r) =
    (sum ...)^(-1/2)`` (exact in one step when all ``d_t`` are equal).
    """
    r = 0.0
    for _ in range(50):
        den = d * r + alpha
        q = u / den
        s2 = np.dot(q, q)
        h = 1.0 / np.sqrt(s2)
        step = (1.0 - h) / (np.dot(q * q, d / den) * h**3)
        r += step
        if abs(step) <= 1e-14 * r:
            break
    return u * r / (d * r + alpha)


def _soft(V, step):
    return np.sign(V) * np.maximum(np.abs(V) - step, 0.0)


class L21(Penalty):
    r"""Joint feature selection: :math:`\Omega(W) = \sum_j \|W_{j,:}\|_2`.

    The group lasso on the rows of W (one row a feature, one column a task): a
    feature is used by every task or by none.  With the squared loss and all labels
    present this is sklearn's ``MultiTaskLasso``.
    """

    is_norm = True

    def value(self, V):
        return _row_norms(V).sum()

    def prox(self, V, step):
        return _group_shrink(V, step)

    def dual_norm(self, G):
        return _row_norms(G).max(initial=0.0)

    def block_dual_norms(self, G):
        """The dual norm of each row of ``G``: ``dual_norm`` is their maximum."""
        return _row_norms(G)

    def block_minimiser(self, u, d, alpha):
        """``argmin_w sum_t (d_t w_t^2 / 2 - u_t w_t) + alpha ||w||_2`` for one row.

        ``d`` (the curvature per output) a scalar: the group soft-thresholding of
        ``u / d``; an array: the exact step for curvatures that differ.
        """
        norm = np.sqrt(np.dot(u, u))
        if norm <= alpha:
            return 0.0 * u
        if np.ndim(d) == 0:
            return u * ((1.0 - alpha / norm) / d)
        return _group_minimiser(u, d, alpha)


class L1(Penalty):
    r"""Independent lasso per task: :math:`\Omega(W) = \sum_{j,t} |W_{jt}|`."""

    is_norm = True

    def value(self, V):
        return np.abs(V).sum()

    def prox(self, V, step):
        return _soft(V, step)

    def dual_norm(self, G):
        return np.abs(G).max(initial=0.0)


class L2(Penalty):
    r"""Independent ridge per task: :math:`\Omega(W) = \tfrac12 \|W\|_F^2`."""

    def value(self, V):
        return 0.5 * np.vdot(V, V)

    def prox(self, V, step):
        return V / (1.0 + step)

    def conjugate(self, V):
        return 0.5 * np.vdot(V, V)


class TraceNorm(Penalty):
    r"""Low rank: the nuclear norm :math:`\Omega(W) = \sum_i \sigma_i(W)`.

    Its prox soft-thresholds the singular values, so W is pushed towards a few
    shared directions in feature space (Argyriou, Evgeniou & Pontil 2008).
    """

    is_norm = True

    def value(self, V):
        return np.linalg.svd(V, compute_uv=False).sum()

    def prox(self, V, step):
        U, s, Vt = np.linalg.svd(V, full_matrices=False)
        s = np.maximum(s - step, 0.0)
        keep = s > 0
        return (U[:, keep] * s[keep]) @ Vt[keep]

    def dual_norm(self, G):
        return np.linalg.norm(G, 2) if G.size else 0.0


class Dirty(Penalty):
    r"""Dirty model (Jalali et al. 2010): W = P + Q, shared rows plus exceptions.

    .. math:: \Omega(P, Q) = (1 - r) \|P\|_{2,1} + r \|Q\|_1

    ``P`` holds features shared by all tasks (group lasso on rows), ``Q`` the
    task-specific ones (lasso).  The fitted estimator exposes both.

    Only ``r`` strictly between :math:`1 / (1 + \sqrt{m})` and :math:`1/2` (``m``
    outputs, one a task for regression) mixes the two parts: at ``r >= 1/2`` a row
    never costs less in ``Q`` (its l2 norm is at most its l1 norm), so ``Q`` stays
    zero and the model is ``"l21"``; below :math:`1 / (1 + \sqrt{m})` even a row
    shared by every task is cheaper in ``Q`` and the model is ``"l1"``.

    Parameters
    ----------
    l1_ratio : float, default=None
        ``r`` in (0, 1): the weight of the elementwise part.  None: the geometric
        middle of the mixing range, :math:`r = 1 / (1 + m^{1/4})`.
    """

    is_norm = True
    lipschitz_factor = 2.0
    _parameter_constraints = {
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="neither"), None],
    }

    def __init__(self, l1_ratio=None):
        self.l1_ratio = l1_ratio

    def bind(self, out_task, out_group):
        bound = copy.copy(self)
        bound.ratio_ = self.l1_ratio if self.l1_ratio is not None else \
            1.0 / (1.0 + len(out_task) ** 0.25)
        return bound

    def _split(self, V):
        m = V.shape[1] // 2
        return V[:, :m], V[:, m:]

    def coef(self, V):
        P, Q = self._split(V)
        return P + Q

    def variable(self, W):
        return np.hstack([W, np.zeros_like(W)])

    def var_gradient(self, G):
        return np.hstack([G, G])

    def value(self, V):
        P, Q = self._split(V)
        r = self.ratio_
        return (1 - r) * _row_norms(P).sum() + r * np.abs(Q).sum()

    def prox(self, V, step):
        P, Q = self._split(V)
        r = self.ratio_
        return np.hstack([_group_shrink(P, step * (1 - r)), _soft(Q, step * r)])

    def dual_norm(self, G):
        r = self.ratio_
        return max(_row_norms(G).max(initial=0.0) / (1 - r), np.abs(G).max(initial=0.0) / r)
