"""The long format with all its tasks at once: flat arrays, one product per pass.

In the long format each task has its own rows (X sorted by task) and its own
outputs.  :class:`LongLayout` holds every task's targets and weights as flat
arrays, entry ``e`` being one (row, output) pair, block after block (each block's
``(n_t, k_t)`` targets in row-major order: the concatenation the per-block
data-fit term uses).  The products with X of every task are then one
sparse-dense product each way with the *expanded design* ``X_e`` (``N x (p m)``,
row ``e`` holding ``X[row(e)]`` in the columns of output ``out(e)``), which shares
its values with X when X is dense and every task has one output.

:class:`Blocks` is the list of per-task :class:`~skmtl.linear._datafit.Block` views
over the layout, for code that goes block by block (the torch data-fit term).
:func:`size_groups` batches the tasks of equal size, with which the per-task Gram
matrices and factorizations are computed by batched products (``_grams.py``).
"""

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

__all__ = ["LongLayout", "Blocks", "size_groups"]


def _index_dtype(*sizes):
    return np.int32 if max(sizes) < np.iinfo(np.int32).max else np.int64


class LongLayout:
    """Every task's rows, targets and weights of the long format, flat.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n, p)
        Rows grouped by task: task ``t`` has rows ``row_bounds[t]:row_bounds[t+1]``.
    row_bounds, out_bounds : ndarray of shape (T + 1,)
        The rows and the outputs of each task.
    Y, S : ndarray of shape (N,)
        Targets and weights of the entries, ``N = sum_t n_t k_t``.
    segmented : bool
        Whether the outputs of a task form a multinomial segment (logistic loss).
    """

    def __init__(self, X, row_bounds, out_bounds, Y, S, segmented=False):
        self.X, self.Y, self.S = X, Y, S
        self.row_bounds = np.asarray(row_bounds, dtype=np.int64)
        self.out_bounds = np.asarray(out_bounds, dtype=np.int64)
        self.n_rows = np.diff(self.row_bounds)
        self.n_out = np.diff(self.out_bounds)
        self.n_tasks = self.n_rows.size
        self.n_outputs = int(self.out_bounds[-1])
        sizes = self.n_rows * self.n_out
        self.entry_bounds = np.concatenate([[0], np.cumsum(sizes)])
        self.single = bool(np.all(self.n_out == 1))
        if self.single:  # entry e is row e of task out(e)
            self.row = np.arange(Y.size)
            self.out = np.repeat(np.arange(self.n_tasks), self.n_rows)
        else:
            task = np.repeat(np.arange(self.n_tasks), sizes)
            local = np.arange(Y.size) - self.entry_bounds[task]
            k = self.n_out[task]
            self.row = self.row_bounds[task] + local // k
            self.out = self.out_bounds[task] + local % k
        self.seg = None
        if segmented and not self.single:  # one segment per row of a task
            task_of_row = np.repeat(np.arange(self.n_tasks), self.n_rows)
            k_row = self.n_out[task_of_row]
            starts = np.concatenate([[0], np.cumsum(k_row)[:-1]])
            self.seg = (starts, k_row)
        self._design = None

    @property
    def design(self):
        """The expanded design ``X_e`` (CSR, ``N x (p m)``), built on first use."""
        if self._design is None:
            self._design = self._expand()
        return self._design

    def _expand(self):
        X, p, N = self.X, self.X.shape[1], self.Y.size
        shape = (N, p * self.n_outputs)
        if sp.issparse(X):
            X = X.tocsr()
            lengths = np.diff(X.indptr)[self.row]
            dtype = _index_dtype(lengths.sum() + 1, shape[1])
            indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(dtype)
            shift = np.repeat(X.indptr[self.row] - indptr[:-1], lengths)
            gather = np.arange(indptr[-1]) + shift
            data = X.data[gather].astype(np.float64, copy=False)
            indices = (X.indices[gather] + np.repeat(self.out * p, lengths)).astype(dtype)
            return sp.csr_matrix((data, indices, indptr), shape=shape)
        dtype = _index_dtype(N * p + 1, shape[1])
        if self.single:  # the values of X itself, no copy
            data = np.ascontiguousarray(X, dtype=np.float64).reshape(-1)
        else:
            data = np.asarray(X, dtype=np.float64)[self.row].reshape(-1)
        indices = (self.out.astype(dtype)[:, None] * p + np.arange(p, dtype=dtype))
        indptr = np.arange(0, N * p + 1, p, dtype=dtype)
        return sp.csr_matrix((data, indices.reshape(-1), indptr), shape=shape)

    def forward(self, W):
        """``Z[e] = X[row(e)] . W[:, out(e)]`` for every entry: one product."""
        return self.design @ np.ascontiguousarray(W.T).reshape(-1)

    def backward(self, R):
        """``G[:, o] = sum_{out(e) = o} R[e] X[row(e)]``: one product."""
        return (self.design.T @ R).reshape(self.n_outputs, -1).T

    def block(self, t, segmented):
        """Task ``t``'s :class:`~skmtl.linear._datafit.Block` (views)."""
        from ._datafit import Block

        r0, r1 = self.row_bounds[t], self.row_bounds[t + 1]
        e0, e1 = self.entry_bounds[t], self.entry_bounds[t + 1]
        c0, c1 = int(self.out_bounds[t]), int(self.out_bounds[t + 1])
        k = c1 - c0
        seg = (np.array([0]), np.array([k])) if segmented and k > 1 else None
        return Block(self.X[r0:r1], self.Y[e0:e1].reshape(-1, k),
                     self.S[e0:e1].reshape(-1, k), slice(c0, c1), seg)


class Blocks(Sequence):
    """The per-task blocks of a :class:`LongLayout`, made on access (views)."""

    def __init__(self, layout, segmented=False):
        self.layout, self.segmented = layout, segmented

    def __len__(self):
        return self.layout.n_tasks

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.layout.block(k, self.segmented)


def size_groups(row_bounds, chunk=2**20, width=1):
    """Tasks of equal row count, in chunks: yields ``(tasks, rows)``.

    ``rows[i]`` are the row indices of task ``tasks[i]`` (shape ``(len(tasks), s)``);
    a chunk holds at most about ``chunk / width`` rows (``width``: the floats kept
    per row), so the batched arrays stay small.
    """
    sizes = np.diff(row_bounds)
    order = np.argsort(sizes, kind="stable")
    bounds = np.flatnonzero(np.diff(sizes[order])) + 1
    for group in np.split(order, bounds):
        if group.size == 0:
            continue
        s = int(sizes[group[0]])
        step = max(1, chunk // max(1, s * width))
        for i in range(0, group.size, step):
            tasks = group[i:i + step]
            yield tasks, row_bounds[tasks][:, None] + np.arange(s)
