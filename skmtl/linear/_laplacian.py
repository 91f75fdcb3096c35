"""The quadratic couplings over the outputs: ``1/2 tr(W K W^T)``, ``K = ridge I + Lap``.

A quadratic penalty (``"l2"``, ``"mean"``, ``"graph"``) is described by one of these
operators, never by a dense ``n_outputs x n_outputs`` matrix unless it is small:

* :class:`Complete`: ``Lap = sum_g c_g (I - 11^T / m_g)`` on each group ``g`` of
  outputs (``m_g`` of them), so ``W K`` is a ridge plus a pull towards the group
  means: the mean-regularized penalty (``c_g = m_g / n_tasks``) and the graph
  penalty on the complete graph (``c_g = m_g``).  ``ridge`` alone (no groups) is
  the independent ridge of ``"l2"``.
* :class:`Graph`: a sparse Laplacian (any task graph), with a dense
  eigendecomposition when the outputs are few (``dense_limit``) and sparse LU
  factorizations of ``I + s K`` (cached by ``s``) otherwise.

Each gives ``apply(W) = W K``, ``value(W)``, ``shifted_solve(V, s) = V (I + s K)^-1``
(the proximal operator of ``s`` times the penalty), ``inverse_value(V) = 1/2 tr(V
K^-1 V^T)`` (the Fenchel conjugate) and ``has_inverse``.  The exact solvers of
``_exact.py`` read their structure (``groups``, ``coef`` / ``laplacian``).
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

__all__ = ["Complete", "Graph", "output_adjacency"]


class Complete:
    """``K = ridge I + sum_g c_g (I - P_g)``, ``P_g`` the mean over group ``g``.

    Parameters
    ----------
    ridge : float
    groups : ndarray of shape (n_outputs,) of int, default=None
        The group of each output (codes ``0..G-1``); None: no coupling (a ridge).
    coef : ndarray of shape (G,), default=None
        ``c_g``, the weight of the pull towards group ``g``'s mean.
    """

    def __init__(self, ridge, groups=None, coef=None):
        self.ridge = float(ridge)
        self.groups = None if groups is None else np.asarray(groups, dtype=np.intp)
        if self.groups is not None:
            self.n_groups = int(self.groups.max(initial=-1)) + 1
            self.sizes = np.bincount(self.groups, minlength=self.n_groups)
            self.coef = np.asarray(coef, dtype=np.float64)
            self.col_coef = self.coef[self.groups]  # c_g of each output

    @property
    def has_inverse(self):
        return self.ridge > 0

    def means(self, W):
        """Each output's group mean of the columns of ``W``, shape of ``W``."""
        if self.n_groups == 1:
            return np.broadcast_to(W.mean(axis=1, keepdims=True), W.shape)
        m = W.shape[1]
        E = sp.csr_matrix((np.ones(m), (np.arange(m), self.groups)),
                          shape=(m, self.n_groups))
        sums = np.asarray(E.T @ W.T).T  # (p, G)
        return (sums / self.sizes)[:, self.groups]

    def split(self, W):
        """``(M, P)``: the group means and the rest, ``W = M + P``."""
        if self.groups is None:
            return np.zeros_like(W), W
        M = self.means(W)
        return M, W - M

    def apply(self, W):
        if self.groups is None:
            return self.ridge * W
        M, P = self.split(W)
        return self.ridge * W + P * self.col_coef

    def value(self, W):
        return 0.5 * np.vdot(W, self.apply(W))

    def shifted_solve(self, V, s):
        M, P = self.split(V)
        if self.groups is None:
            return V / (1.0 + s * self.ridge)
        return M / (1.0 + s * self.ridge) + P / (1.0 + s * (self.col_coef + self.ridge))

    def inverse_value(self, V):
        M, P = self.split(V)
        if self.groups is None:
            return 0.5 * np.vdot(V, V) / self.ridge
        mean_part = np.vdot(M, M) / self.ridge if M.any() else 0.0
        return 0.5 * (mean_part + np.sum(P**2 / (self.col_coef + self.ridge)))


class Graph:
    """``K = ridge I + L`` for a sparse graph Laplacian ``L`` over the outputs.

    Parameters
    ----------
    laplacian : sparse matrix of shape (n_outputs, n_outputs)
    ridge : float
    dense_limit : int, default=2000
        Up to this many outputs, one dense eigendecomposition of ``L`` serves every
        solve; beyond, sparse LU factorizations.
    """

    def __init__(self, laplacian, ridge, dense_limit=2000):
        self.laplacian = sp.csr_matrix(laplacian, dtype=np.float64)
        self.ridge = float(ridge)
        self._eig = None
        if self.laplacian.shape[0] <= dense_limit:
            self._eig = np.linalg.eigh(self.laplacian.toarray())
        self._lu = {}

    @property
    def has_inverse(self):
        return self.ridge > 0

    def apply(self, W):
        return self.ridge * W + np.asarray(self.laplacian @ W.T).T  # L symmetric

    def value(self, W):
        return 0.5 * np.vdot(W, self.apply(W))

    def _solve(self, V, diag, s):
        """``V (diag I + s L)^-1``."""
        if self._eig is not None:
            lam, U = self._eig
            return ((V @ U) / (diag + s * lam)) @ U.T
        key = (diag, s)
        lu = self._lu.get(key)
        if lu is None:
            m = self.laplacian.shape[0]
            A = (diag * sp.identity(m, format="csc") + s * self.laplacian).tocsc()
            if len(self._lu) > 4:  # the backtracking of FISTA: a few steps at most
                self._lu.clear()
            lu = self._lu[key] = splu(A)
        return lu.solve(np.ascontiguousarray(V.T)).T

    def shifted_solve(self, V, s):
        return self._solve(V, 1.0 + s * self.ridge, s)

    def inverse_value(self, V):
        return 0.5 * np.vdot(V, self._solve(V, self.ridge, 1.0))


def output_adjacency(adjacency, out_task, out_group):
    """The adjacency between outputs, sparse: ``A[task_i, task_j]`` where outputs
    ``i`` and ``j`` are in the same group (and are not the same output)."""
    A = sp.csr_matrix(adjacency, dtype=np.float64)
    if out_task.size != A.shape[0] or np.any(out_task != np.arange(out_task.size)):
        A = A[out_task][:, out_task]
    A = A.tocoo()
    keep = (out_group[A.row] == out_group[A.col]) & (A.row != A.col) & (A.data != 0)
    m = out_task.size
    return sp.csr_matrix((A.data[keep], (A.row[keep], A.col[keep])), shape=(m, m))


def laplacian(A):
    """``diag(A 1) - A`` for a sparse symmetric adjacency."""
    degree = np.asarray(A.sum(axis=1)).ravel()
    return (sp.diags(degree) - A).tocsr()
