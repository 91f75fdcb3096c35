"""Penalties that couple the tasks through a structure over them.

Graph- and mean-regularized MTL are quadratic in W (``1/2 tr(W (Lap + ridge I)
W^T)`` for a Laplacian over the outputs); the clustered norm is a spectral function
of W.  See ``_penalties.py`` for the interface.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils._param_validation import Interval

from ._laplacian import Complete, Graph, laplacian, output_adjacency
from ._penalties import Penalty
from ._relationship import task_embedding

__all__ = ["GraphRegularized", "MeanRegularized", "ClusteredNorm"]


class _Quadratic(Penalty):
    """``1/2 tr(W (Lap + ridge I) W^T)`` for a Laplacian over the outputs.

    ``bind`` sets ``coupling``, the operator of ``_laplacian.py`` that holds the
    structure (no dense outputs x outputs matrix unless the outputs are few): the
    exact solvers read it, and the value, prox and conjugate below go through it.
    """

    def bind(self, out_task, out_group):
        bound = clone(self)
        out_task, out_group = np.asarray(out_task), np.asarray(out_group)
        bound.coupling = self._coupling(int(out_task.max()) + 1, out_task, out_group)
        return bound

    def value(self, V):
        return self.coupling.value(V)

    def prox(self, V, step):
        return self.coupling.shifted_solve(V, step)

    @property
    def has_dual(self):
        return self.ridge > 0  # else the conjugate is infinite off the mean direction

    def conjugate(self, V):
        return self.coupling.inverse_value(V)


def _complete(ridge, out_group, weight):
    """The complete graph over each group of outputs, edge weight ``weight``:
    ``Lap = m_g (I - P_g) weight`` on group ``g`` of ``m_g`` outputs."""
    groups = np.unique(out_group, return_inverse=True)[1]
    sizes = np.bincount(groups)
    return Complete(ridge, groups, sizes * weight)


class GraphRegularized(_Quadratic):
    r"""Graph-regularized MTL (SRMTL): related tasks get similar weights.

    .. math:: \Omega(W) = \tfrac12 \sum_{s<t} A_{st} \|w_s - w_t\|_2^2
              + \tfrac{\mathrm{ridge}}{2} \|W\|_F^2

    Parameters
    ----------
    adjacency : {array-like, sparse matrix} of shape (n_tasks, n_tasks), default=None
        Symmetric non-negative task graph, tasks in the order of ``tasks_`` (long
        format) or of the columns of Y; ``None`` links every pair of tasks.  It is
        held sparse: a graph over many tasks needs no dense matrix.
    ridge : float, default=0.1
        Weight of the ridge term, which keeps the problem strongly convex.
    """

    _parameter_constraints = {
        "adjacency": ["array-like", "sparse matrix", None],
        "ridge": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, adjacency=None, ridge=0.1):
        self.adjacency = adjacency
        self.ridge = ridge

    def _coupling(self, n_tasks, out_task, out_group):
        if self.adjacency is None:  # every pair of tasks, weight 1
            return _complete(self.ridge, out_group, 1.0)
        A = self._adjacency(n_tasks)
        return Graph(laplacian(output_adjacency(A, out_task, out_group)), self.ridge)

    def _adjacency(self, n_tasks):
        """The validated adjacency, sparse (a dense one is converted)."""
        A = self.adjacency
        A = A.tocsr() if sp.issparse(A) else sp.csr_matrix(np.asarray(A, dtype=np.float64))
        A = A.astype(np.float64)
        if A.shape != (n_tasks, n_tasks):
            raise ValueError(
                f"adjacency has shape {A.shape}; expected ({n_tasks}, {n_tasks}), "
                "one row and column per task."
            )
        data = A.data
        asym = abs(A - A.T)
        scale = np.abs(data).max(initial=0.0)
        if (not np.isfinite(data).all() or (data < 0).any()
                or asym.max() > 1e-8 + 1e-5 * scale):
            raise ValueError("adjacency must be symmetric, finite and non-negative.")
        return A


class MeanRegularized(GraphRegularized):
    r"""Mean-regularized MTL (Evgeniou & Pontil 2004): tasks shrink to their mean.

    .. math:: \Omega(W) = \tfrac12 \sum_t \|w_t - \bar w\|_2^2
              + \tfrac{\mathrm{ridge}}{2} \|W\|_F^2

    It is the graph penalty on the complete graph with weights ``1/n_tasks``.

    Parameters
    ----------
    ridge : float, default=0.1
        Weight of the ridge term on every task's weights.
    """

    _parameter_constraints = {"ridge": [Interval(numbers.Real, 0, None, closed="left")]}

    def __init__(self, ridge=0.1):
        self.ridge = ridge

    def _coupling(self, n_tasks, out_task, out_group):
        return _complete(self.ridge, out_group, 1.0 / n_tasks)


def _cluster_weights(sigma, offset, k):
    """``mu`` in [0, 1]^m with sum k, minimising ``sum(sigma**2 / (offset + mu))``.

    The optimum is ``mu_i = clip(tau * sigma_i - offset, 0, 1)``, ``tau`` found by
    bisection on the increasing constraint; directions with ``sigma_i = 0`` cost
    nothing and take whatever trace the others leave.  A singular value below the
    rounding of the largest counts as zero (a subnormal one overflowed the bisection's
    bracket to inf, and the weights to NaN).
    """
    pos = sigma > np.finfo(np.float64).eps * sigma.max(initial=0.0)
    if pos.sum() <= k:
        mu = np.where(pos, 1.0, 0.0)
        if (~pos).any():
            mu[~pos] = (k - pos.sum()) / (~pos).sum()
        return mu
    lo, hi = 0.0, (offset + 1.0) / sigma[pos].min()
    for _ in range(100):
        tau = 0.5 * (lo + hi)
        if np.clip(tau * sigma - offset, 0.0, 1.0).sum() < k:
            lo = tau
        else:
            hi = tau
    return np.clip(hi * sigma - offset, 0.0, 1.0)


def _kmeans(F, k, max_iter=100):
    """Lloyd's k-means of the rows of ``F`` from a farthest-first start (Gonzalez
    1985: the row of largest norm, then each time the row farthest from the centres
    so far), so deterministic; labels in the order of the rows' first appearance.
    """
    sq = np.einsum("ij,ij->i", F, F)
    centres = [int(np.argmax(sq))]
    dist = np.full(F.shape[0], np.inf)
    for _ in range(1, min(k, F.shape[0])):  # k steps, each vectorized over the tasks
        dist = np.minimum(dist, sq - 2 * F @ F[centres[-1]] + sq[centres[-1]])
        if not dist.max() > 0:
            break  # fewer distinct rows than clusters
        centres.append(int(np.argmax(dist)))
    C = F[centres]
    labels = None
    for _ in range(max_iter):
        new = np.argmin(sq[:, None] - 2 * F @ C.T + np.einsum("ij,ij->i", C, C), axis=1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        onehot = labels[:, None] == np.arange(C.shape[0])
        counts = onehot.sum(axis=0)
        filled = counts > 0
        C[filled] = (onehot.T @ F)[filled] / counts[filled, None]
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse]


class ClusteredNorm(Penalty):
    r"""Convex clustered MTL (Jacob, Bach & Vert 2008; Zhou, Chen & Ye 2011).

    .. math:: \Omega(W) = \eta (1 + \eta) \min_{M} \operatorname{tr}\big(
              W (\eta I + M)^{-1} W^\top\big),\quad
              \operatorname{tr} M = k,\ 0 \preceq M \preceq I

    the convex relaxation of k-means clustering of the task weight vectors
    (``alpha`` plays the role of MALSAR's ``rho1`` and ``eta = rho2 / rho1``).
    The optimal M shares the right singular vectors of W, so the penalty and its
    prox act on the singular values alone.

    The fitted estimator exposes ``labels_``, the tasks' clusters: k-means
    (deterministic) of the tasks embedded by the optimal M, the rows of
    :math:`V \operatorname{diag}(\mu)^{1/2}` for :math:`M = V \operatorname{diag}
    (\mu) V^\top` (the relaxation's cluster-indicator matrix: tasks of one
    cluster share a row when M is exactly one).

    Parameters
    ----------
    n_clusters : int, default=2
        Number of task clusters ``k``; with fewer outputs than ``k``, each output
        is its own cluster (the penalty is then a ridge).
    eta : float, default=1.0
        Ratio of the within-cluster to the global regularization.
    """

    _parameter_constraints = {
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "eta": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(self, n_clusters=2, eta=1.0):
        self.n_clusters = n_clusters
        self.eta = eta

    def bind(self, out_task, out_group):
        bound = clone(self)
        bound._k = min(self.n_clusters, out_task.size)
        bound._out_task, bound._out_group = np.asarray(out_task), np.asarray(out_group)
        return bound

    def _sigma(self, V):
        s = np.linalg.svd(V, compute_uv=False)
        return np.concatenate([s, np.zeros(max(V.shape[1] - s.size, 0))])

    def value(self, V):
        s = self._sigma(V)
        mu = _cluster_weights(s, self.eta, self._k)
        return self.eta * (1 + self.eta) * np.sum(s**2 / (self.eta + mu))

    def conjugate(self, V):
        """``(eta ||V||^2 + sum of the k largest sigma_i(V)^2) / (4 eta (1 + eta))``."""
        s2 = np.sort(self._sigma(V) ** 2)[::-1]
        top = s2[: self._k].sum()
        return (self.eta * s2.sum() + top) / (4 * self.eta * (1 + self.eta))

    def fitted_attributes(self, V):
        """``labels_``: the tasks' clusters, 0 to ``n_clusters - 1`` in the order of
        the tasks' first appearance."""
        _, s, Vt = np.linalg.svd(V, full_matrices=False)
        mu = _cluster_weights(self._sigma(V), self.eta, self._k)[: s.size]
        F = task_embedding(Vt.T * np.sqrt(mu), self._out_task, self._out_group)
        return {"labels_": _kmeans(F, self._k)}

    def prox(self, V, step):
        U, s, Vt = np.linalg.svd(V, full_matrices=False)
        c = step * self.eta * (1 + self.eta)
        full = np.concatenate([s, np.zeros(max(V.shape[1] - s.size, 0))])
        mu = _cluster_weights(full, self.eta + 2 * c, self._k)[: s.size]
        shrunk = s * (self.eta + mu) / (self.eta + mu + 2 * c)
        return (U * shrunk) @ Vt
