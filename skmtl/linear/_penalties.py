"""Penalties: a value and a proximal operator, on W of shape (n_features, n_outputs).

The estimators minimise ``datafit(W) + alpha * penalty.value(V)`` where ``W =
penalty.coef(V)``; for every penalty but :class:`Dirty` the variable ``V`` is ``W``
itself.  :class:`~skmtl.linear._elastic.ElasticMix` adds a ridge to any of the
others (scikit-learn's elastic net).  ``prox(V, step)`` returns ``argmin_U 1/2
||U - V||_F^2 + step * value(U)``.
Penalties that are norms also give ``dual_norm``, the others ``conjugate`` (the
Fenchel conjugate of ``value``): with either the solvers stop on the duality gap;
without (``has_dual`` False) on the relative size of a proximal-gradient step.

What a solver needs is declared on the solver (``penalty_required``, see
:class:`~skmtl.linear._fista.Solver`) and met by what a penalty declares: coordinate
descent's ``block_minimiser`` and ``block_dual_norms`` (l21, l1 and their elastic
mixes), the exact solve's quadratic ``coupling`` (l2, ``_coupling.py``); a
``sign_invariant`` penalty (a function of ``|W|``) takes ``positive=True``
(``_problem.py``).

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
from sklearn.utils._param_validation import Interval, StrOptions

from ._laplacian import Complete

__all__ = ["Penalty", "L21", "L1", "L2", "TraceNorm", "Dirty", "ElasticMix"]


class Penalty(BaseEstimator):
    """Base class: identity parametrisation, no structure, not a norm."""

    is_norm = False
    lipschitz_factor = 1.0
    sign_invariant = False  # a function of |W| that W >= 0 may constrain

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

    def fitted_attributes(self, V):
        """Fitted attributes the estimator gets from this penalty at the solution
        ``V`` (name -> value; e.g. task clusters): none by default."""
        return {}

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
    (sum ...)^(-1/2)`` (exact in one step when all ``d_t`` are equal).  Solved for
    ``u / c`` and ``alpha / c`` (``c = max |u_t|``; ``r`` scales with ``c``), from
    ``r = (||u|| - alpha) / max(d)``, a lower bound of the root (there ``h <= 1``)
    where ``q = u / (d r + alpha)`` is of order one: from ``r = 0`` with
    ``alpha << ||u||`` (targets of 1e108), ``h**3`` underflowed to 0.
    """
    c = float(np.abs(u).max())
    u, alpha = u / c, alpha / c
    r = max((np.sqrt(np.dot(u, u)) - alpha) / np.max(d), 0.0)
    for _ in range(50):
        den = d * r + alpha
        q = u / den
        s2 = np.dot(q, q)
        h = 1.0 / np.sqrt(s2)
        step = (1.0 - h) / (np.dot(q * q, d / den) * h**3)
        r += step
        if abs(step) <= 1e-14 * r:
            break
    return c * (u * r / (d * r + alpha))


def _soft(V, step):
    return np.sign(V) * np.maximum(np.abs(V) - step, 0.0)


def _scalar_soft(u, d, alpha):
    """``argmin_w d w^2 / 2 - u w + alpha |w|`` for Python floats (``d > 0``): one
    coefficient's step, without a numpy call."""
    if u > alpha:
        return (u - alpha) / d
    if u < -alpha:
        return (u + alpha) / d
    return 0.0


def _l1_minimiser(u, d, alpha):
    """``argmin_w sum_t (d_t w_t^2 / 2 - u_t w_t) + alpha |w_t|``: soft-thresholding
    (zero where ``d_t = 0``: a feature constant in the task, ``u_t = 0``)."""
    shrunk = _soft(u, alpha)
    if np.ndim(d) == 0:
        return shrunk / d
    return np.divide(shrunk, d, out=np.zeros_like(shrunk), where=d > 0)


class L21(Penalty):
    r"""Joint feature selection: :math:`\Omega(W) = \sum_j \|W_{j,:}\|_2`.

    The group lasso on the rows of W (one row a feature, one column a task): a
    feature is used by every task or by none.  With the squared loss and all labels
    present this is sklearn's ``MultiTaskLasso``.
    """

    is_norm = True
    sign_invariant = True

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

    @staticmethod
    def scalar_minimiser(u, d, alpha):
        """:meth:`block_minimiser` for a row of one output, in Python floats (the
        same arithmetic, to the last bit)."""
        norm = abs(u)
        if norm <= alpha:
            return 0.0
        return u * ((1.0 - alpha / norm) / d)


class L1(Penalty):
    r"""Independent lasso per task: :math:`\Omega(W) = \sum_{j,t} |W_{jt}|`."""

    is_norm = True
    sign_invariant = True

    def value(self, V):
        return np.abs(V).sum()

    def prox(self, V, step):
        return _soft(V, step)

    def dual_norm(self, G):
        return np.abs(G).max(initial=0.0)

    def block_dual_norms(self, G):
        """The dual norm of each row of ``G`` (the l-infinity norm)."""
        return np.abs(G).max(axis=1, initial=0.0)

    def block_minimiser(self, u, d, alpha):
        """One row's exact step: soft-thresholding (elementwise, any curvatures)."""
        return _l1_minimiser(u, d, alpha)

    scalar_minimiser = staticmethod(_scalar_soft)  # one coefficient, Python floats


class L2(Penalty):
    r"""Independent ridge per task: :math:`\Omega(W) = \tfrac12 \|W\|_F^2`."""

    sign_invariant = True
    coupling = Complete(1.0)  # the quadratic structure ``K = I`` (exact solves)

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
        """Soft-thresholded singular values; for V far from square, from the eigh of
        its small Gram matrix (one gemm, no SVD): the kept singular values come to
        ``~eps s_max^2 / s``, so only where none is below ``1e-4 s_max``."""
        A = V.T if V.shape[0] > V.shape[1] else V  # (k, n), k <= n
        if 4 * A.shape[0] <= A.shape[1] and step > 0:
            lam, U = np.linalg.eigh(A @ A.T)
            s = np.sqrt(np.maximum(lam, 0.0))
            keep = s > step
            if not keep.any() or s[keep].min() >= 1e-4 * s[-1]:
                Uk = U[:, keep]
                out = (Uk * (1.0 - step / s[keep])) @ (Uk.T @ A)
                return out if A is V else out.T
        U, s, Vt = np.linalg.svd(V, full_matrices=False)
        s = np.maximum(s - step, 0.0)
        keep = s > 0
        return (U[:, keep] * s[keep]) @ Vt[keep]

    def dual_norm(self, G):
        return np.linalg.norm(G, 2) if G.size else 0.0


def _linf_shrink(V, step):
    """Row-wise prox of ``step * ||row||_inf``: each row minus its projection on the
    l1 ball of radius ``step`` (Moreau), i.e. its entries clipped at the level
    ``theta`` that leaves ``step`` of l1 mass above it (0 where ``||row||_1 <=
    step``).  The projection is Duchi et al.'s (2008) sort."""
    if step <= 0 or V.shape[1] == 0:
        return V.copy()
    a = np.abs(V)
    u = -np.sort(-a, axis=1)  # each row decreasing
    k = np.arange(1, V.shape[1] + 1)
    css = np.cumsum(u, axis=1) - step
    rho = np.sum(u * k > css, axis=1)  # the condition holds for k = 1..rho
    theta = np.maximum(css[np.arange(V.shape[0]), rho - 1] / rho, 0.0)
    return np.sign(V) * np.minimum(a, theta[:, None])


class Dirty(Penalty):
    r"""Dirty model (Jalali et al. 2010): W = P + Q, shared rows plus exceptions.

    .. math:: \Omega(P, Q) = (1 - r) \sum_j \|P_{j,:}\| + r \|Q\|_1

    ``P`` holds features shared by all tasks (a block norm on its rows), ``Q`` the
    task-specific ones (lasso).  The fitted estimator exposes both.  The row norm
    is ``shared_norm``: ``"linf"``, the largest ``|entry|`` of the row (block
    l1/l-infinity), is the paper's and MALSAR's ``Least_Dirty``; ``"l2"`` (the
    default), the group lasso's l2 norm, shrinks a row's entries together rather
    than levelling them.

    Only ``r`` inside a range mixes the two parts (``m`` outputs, one a task for
    regression): at ``r >= 1/2`` a row never costs less in ``Q`` (its l2 or
    l-infinity norm is at most its l1 norm), so ``Q`` stays zero and the model is
    the block norm alone; below :math:`1 / (1 + \sqrt{m})` (``"l2"``) or
    :math:`1 / (1 + m)` (``"linf"``) even a row shared equally by every task is
    cheaper in ``Q`` and the model is ``"l1"``.

    Parameters
    ----------
    l1_ratio : float, default=None
        ``r`` in (0, 1): the weight of the elementwise part.  None: the geometric
        middle of the mixing range in the odds ``r / (1 - r)``: :math:`r = 1 / (1 +
        m^{1/4})` for ``"l2"``, :math:`r = 1 / (1 + \sqrt{m})` for ``"linf"``.
    shared_norm : {"l2", "linf"}, default="l2"
        The norm of each row of ``P``.
    """

    is_norm = True
    lipschitz_factor = 2.0
    _parameter_constraints = {
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "shared_norm": [StrOptions({"l2", "linf"})],
    }

    def __init__(self, l1_ratio=None, shared_norm="l2"):
        self.l1_ratio = l1_ratio
        self.shared_norm = shared_norm

    def bind(self, out_task, out_group):
        self._validate_params()
        bound = copy.copy(self)
        power = 0.5 if self.shared_norm == "linf" else 0.25
        bound.ratio_ = self.l1_ratio if self.l1_ratio is not None else \
            1.0 / (1.0 + len(out_task) ** power)
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

    def _shared_norms(self, P):
        """The shared part's norm of each row."""
        if self.shared_norm == "linf":
            return np.abs(P).max(axis=1, initial=0.0)
        return _row_norms(P)

    def value(self, V):
        P, Q = self._split(V)
        r = self.ratio_
        return (1 - r) * self._shared_norms(P).sum() + r * np.abs(Q).sum()

    def prox(self, V, step):
        P, Q = self._split(V)
        r = self.ratio_
        shrink = _linf_shrink if self.shared_norm == "linf" else _group_shrink
        return np.hstack([shrink(P, step * (1 - r)), _soft(Q, step * r)])

    def dual_norm(self, G):
        """The dual norm of W -> min over P + Q = W of Omega(P, Q): the larger of
        the two parts' dual norms, each over its weight (the row norm's dual is l1
        for ``"linf"``, l2 for ``"l2"``)."""
        r = self.ratio_
        rows = np.abs(G).sum(axis=1) if self.shared_norm == "linf" else _row_norms(G)
        return max(rows.max(initial=0.0) / (1 - r), np.abs(G).max(initial=0.0) / r)


# the elastic mix of any of these with a ridge (defined on top of them)
from ._elastic import ElasticMix  # noqa: E402
