r"""Multi-task relationship learning (Zhang & Yeung 2010) as a convex penalty.

MTRL learns a task covariance ``Omega`` beside W:

.. math:: \min_{\Omega \succeq 0,\ \operatorname{tr} \Omega = 1}
          \tfrac12 \operatorname{tr}(W \Omega^{-1} W^\top)
          = \tfrac12 \|W\|_*^2,
          \qquad \Omega^\star = \frac{(W^\top W)^{1/2}}
          {\operatorname{tr} (W^\top W)^{1/2}}

(Cauchy-Schwarz on the singular values), so the alternating W-step / covariance
step of the paper converges to the minimiser of a convex problem in W alone whose
penalty, half the squared trace norm, has a closed-form prox: the prox of half the
squared l1 norm on the singular values (one sort).  The solvers take that problem
and its exact solution; the covariance is read off it after the fit.
"""

import numbers

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import Interval

from ._penalties import Penalty

__all__ = ["TaskRelationship", "task_embedding"]


def _squared_l1_prox(s, step):
    """``argmin_x 1/2 ||x - s||^2 + step/2 ||x||_1^2`` for ``s >= 0``.

    ``x_i = max(s_i - step S_k / (1 + k step), 0)`` with ``S_k`` the sum of the ``k``
    largest ``s_i``, ``k`` the largest index whose ``s_(k)`` exceeds its threshold.
    """
    if s.size == 0 or step <= 0:
        return s.copy()
    u = np.sort(s)[::-1]
    k = np.arange(1, u.size + 1)
    theta = step * np.cumsum(u) / (1.0 + step * k)
    active = np.nonzero(u > theta)[0]
    if active.size == 0:
        return np.zeros_like(s)
    return np.maximum(s - theta[active[-1]], 0.0)


def _squared_trace_prox(V, step):
    """``argmin_U 1/2 ||U - V||_F^2 + step/2 ||U||_*^2``: on the singular values."""
    U, s, Vt = np.linalg.svd(V, full_matrices=False)
    s = _squared_l1_prox(s, step)
    keep = s > 0
    return (U[:, keep] * s[keep]) @ Vt[keep]


def task_embedding(E, out_task, out_group):
    """The tasks' rows ``F`` from an embedding ``E`` of the outputs (one row each).

    Output ``j`` of task ``out_task[j]`` in the comparable group ``out_group[j]``
    (a class of multiclass tasks; 0 otherwise) puts its row of ``E`` in its task's
    block for that group: with one output a task, ``F`` is ``E`` in the order of
    the tasks; with multiclass tasks, ``F F^T`` is the sum over the classes of each
    class's Gram matrix.  Shape (n_tasks, n_groups * rank).
    """
    groups = np.unique(out_group, return_inverse=True)[1]
    n_tasks, n_groups = int(out_task.max()) + 1, int(groups.max()) + 1
    if n_groups == 1 and out_task.size == n_tasks:
        F = np.empty_like(E)
        F[out_task] = E
        return F
    F = np.zeros((n_tasks, n_groups, E.shape[1]))
    np.add.at(F, (out_task, groups), E)
    return F.reshape(n_tasks, -1)


class TaskRelationship(Penalty):
    r"""Multi-task relationship learning (Zhang & Yeung 2010): a learned task
    covariance.

    .. math:: \Omega(W) = \min_{\Omega \succeq 0,\ \operatorname{tr}\Omega = 1}
              \tfrac12 \operatorname{tr}(W \Omega^{-1} W^\top)
              + \tfrac{\mathrm{ridge}}{2} \|W\|_F^2
              = \tfrac12 \|W\|_*^2 + \tfrac{\mathrm{ridge}}{2} \|W\|_F^2

    Tasks that the covariance finds correlated borrow strength from each other;
    the minimising covariance is :math:`(W^\top W)^{1/2}` over its trace, which
    the fitted estimator exposes as ``task_covariance_`` (one row and column a
    task).  Minimised over the covariance in closed form, the penalty is half the
    squared trace norm of W, whose prox is exact: the solvers reach the limit of
    the paper's alternating W- and covariance steps without alternating.

    With the paper's objective (each task's mean squared error without the 1/2,
    :math:`\tfrac{\lambda_1}{2} \|W\|_F^2 + \tfrac{\lambda_2}{2}
    \operatorname{tr}(W \Omega^{-1} W^\top)`), ``alpha`` maps as
    :math:`\lambda_2 = 2\,\alpha` and :math:`\lambda_1 = 2\,\alpha\,\mathrm{ridge}`.

    Parameters
    ----------
    ridge : float, default=0.1
        Weight of the ridge term (the paper's :math:`\lambda_1 / \lambda_2`).

    Notes
    -----
    With multiclass tasks (one output a class), the covariance of the outputs is
    summed over the classes into one matrix over the tasks.
    """

    _parameter_constraints = {"ridge": [Interval(numbers.Real, 0, None, closed="left")]}

    def __init__(self, ridge=0.1):
        self.ridge = ridge

    def bind(self, out_task, out_group):
        self._validate_params()
        bound = clone(self)
        bound._out_task, bound._out_group = np.asarray(out_task), np.asarray(out_group)
        return bound

    def value(self, V):
        s = np.linalg.svd(V, compute_uv=False)
        return 0.5 * s.sum() ** 2 + 0.5 * self.ridge * np.vdot(V, V)

    def prox(self, V, step):
        """The ridge folds into the quadratic term: the prox of half the squared
        trace norm at ``V / c`` and ``step / c``, ``c = 1 + step ridge``."""
        c = 1.0 + step * self.ridge
        return _squared_trace_prox(V / c, step / c)

    def conjugate(self, G):
        """``1/2 ||G||_2^2`` (spectral norm) without ridge; with one, ``<G, U> -
        value(U)`` at the maximiser ``U``: the prox of half the squared trace
        norm at ``G / ridge`` and ``1 / ridge``."""
        if self.ridge == 0:
            return 0.5 * np.linalg.norm(G, 2) ** 2 if G.size else 0.0
        U = _squared_trace_prox(G / self.ridge, 1.0 / self.ridge)
        return np.vdot(G, U) - self.value(U)

    def fitted_attributes(self, V):
        r"""``task_covariance_``: :math:`(W^\top W)^{1/2}` over its trace, tasks
        by tasks; ``I / n_tasks`` (every covariance is optimal) at ``W = 0``."""
        _, s, Vt = np.linalg.svd(V, full_matrices=False)
        F = task_embedding(Vt.T * np.sqrt(s), self._out_task, self._out_group)
        C = F @ F.T
        total = np.trace(C)
        if not total > 0:
            C = np.eye(C.shape[0])
            total = C.shape[0]
        return {"task_covariance_": C / total}
