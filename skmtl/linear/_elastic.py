"""The elastic-net mix of a penalty with a ridge (scikit-learn's ``ElasticNet``)."""

import copy
import numbers

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import Interval

from ._penalties import Penalty

__all__ = ["ElasticMix"]


class ElasticMix(Penalty):
    r"""Elastic-net mix of a penalty with a ridge, as scikit-learn's ``ElasticNet``.

    .. math:: \Omega(W) = r\, \Omega_0(W) + \tfrac{1 - r}{2} \|W\|_F^2

    with :math:`\Omega_0` the ``penalty`` and ``r`` the ``l1_ratio``.  With the
    squared loss, all labels present and shared X, ``ElasticMix("l21", l1_ratio=r)``
    at ``alpha`` is :class:`sklearn.linear_model.MultiTaskElasticNet` ``(alpha,
    l1_ratio=r)`` and ``ElasticMix("l1", l1_ratio=r)`` is ``ElasticNet(alpha,
    l1_ratio=r)`` per task.  The ridge makes the problem strongly convex (a unique
    solution among correlated features) and gives a duality gap to any
    ``penalty`` with a prox.

    A mix of a norm with row rules (``"l21"``, ``"l1"``) and ``0 < r < 1`` is solved
    by coordinate descent (:func:`~skmtl.linear._bcd.bcd`) as scikit-learn's
    ``enet_coordinate_descent`` solves it: as the lasso of ``r \Omega_0`` on the
    data-fit term plus the ridge (:meth:`split_ridge`).

    Parameters
    ----------
    penalty : str or Penalty, default="l21"
        :math:`\Omega_0`, by name or as an object, on W itself (not ``"dirty"``,
        whose variable is ``[P | Q]``, unless ``l1_ratio=1``).
    l1_ratio : float in [0, 1], default=0.5
        ``r``: 1 is ``penalty`` alone, 0 the ridge alone (``"l2"``).
    """

    _parameter_constraints = {
        "penalty": [str, Penalty],
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(self, penalty="l21", l1_ratio=0.5):
        self.penalty = penalty
        self.l1_ratio = l1_ratio

    def bind(self, out_task, out_group):
        """The bound mix; at ``l1_ratio=1``, the bound ``penalty`` itself."""
        from ._registry import get_penalty  # the registry imports this module

        self._validate_params()
        base = clone(get_penalty(self.penalty)).bind(out_task, out_group)
        if self.l1_ratio == 1:
            return base
        if type(base).coef is not Penalty.coef:
            raise ValueError(
                f"ElasticMix needs a penalty on W itself; {type(base).__name__} "
                "penalizes another variable (use l1_ratio=1 for it alone).")
        bound = copy.copy(self)
        bound.base_ = base
        return bound

    sign_invariant = property(lambda self: self.base_.sign_invariant)  # the ridge is

    def value(self, V):
        r = self.l1_ratio
        return r * self.base_.value(V) + 0.5 * (1 - r) * np.vdot(V, V)

    def prox(self, V, step):
        """``prox(V / c, step r / c)`` of the penalty, ``c = 1 + step (1 - r)``: the
        ridge folds into the quadratic term."""
        c = 1.0 + step * (1.0 - self.l1_ratio)
        return self.base_.prox(V / c, step * self.l1_ratio / c)

    def fitted_attributes(self, V):
        """The mixed norm's (e.g. a cluster mix's ``labels_``)."""
        return self.base_.fitted_attributes(V)

    def conjugate(self, G):
        """``<G, U> - value(U)`` at the maximiser ``U = prox(G / (1 - r), r / (1 -
        r))`` of the penalty (the ridge makes the supremum finite and attained)."""
        r = self.l1_ratio
        U = self.base_.prox(G / (1.0 - r), r / (1.0 - r))
        return np.vdot(G, U) - self.value(U)

    # coordinate descent: declared only for a norm with row rules and 0 < r < 1
    # (at r = 0 there is no norm to screen with); hasattr reads the AttributeError
    def _row_rule(self, name):
        if not 0 < self.l1_ratio < 1 or getattr(self, "base_", None) is None \
                or not self.base_.is_norm:
            raise AttributeError(name)
        return getattr(self.base_, name)

    @property
    def block_minimiser(self):
        """``argmin_w sum_t (d_t w_t^2 / 2 - u_t w_t) + alpha (r Omega_0(w) + (1 - r)
        / 2 ||w||^2)`` for one row: the ridge adds ``alpha (1 - r)`` to each
        curvature, so it is the norm's step at ``(u, d + alpha (1 - r), alpha r)``
        (for the l21 norm and one curvature ``d``, the group soft-thresholding of
        ``u / d`` at ``alpha r / d``, divided by ``1 + alpha (1 - r) / d``)."""
        step, r = self._row_rule("block_minimiser"), self.l1_ratio
        return lambda u, d, alpha: step(u, d + alpha * (1.0 - r), alpha * r)

    @property
    def block_dual_norms(self):
        """The norm's ``block_dual_norms``, which coordinate descent applies to the
        gradient of the lasso form (:meth:`split_ridge`)."""
        return self._row_rule("block_dual_norms")

    def split_ridge(self):
        """``(norm, r)`` with ``value = r norm.value + (1 - r) / 2 ||W||_F^2``: at
        ``alpha``, the lasso of ``norm`` at ``alpha r`` on the data-fit term plus
        the ridge ``alpha (1 - r) / 2 ||W||_F^2``, a problem with the same
        objective whose duality gap (of the lasso's dual, with the residuals of
        the ridge's rows) and Gap Safe screening are the lasso's (Ndiaye et al.
        2017, the elastic net as a lasso on augmented data)."""
        self._row_rule("block_minimiser"), self._row_rule("block_dual_norms")
        return self.base_, self.l1_ratio
