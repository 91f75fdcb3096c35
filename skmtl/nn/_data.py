"""Training pairs (row, task, target, weight) and the per-task losses of a batch.

Both task formats become pairs sorted by row: the long format has one pair a row,
the wide format one per present label.  A batch of rows takes its pairs with
:func:`batch_pairs`; :func:`task_losses` turns the network outputs into one
weighted mean loss per task (squared error, binary or multinomial cross-entropy,
whatever each task is), so tasks of different types train together.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F

REGRESSION, BINARY, MULTICLASS = 0, 1, 2


@dataclass
class Pairs:
    ptr: np.ndarray  # (n_rows + 1,) offsets of each row's pairs
    task: np.ndarray  # (n_pairs,) task index
    target: np.ndarray  # (n_pairs,) value (regression) or class code
    weight: np.ndarray  # (n_pairs,) sample weight

    @cached_property
    def one_per_row(self):
        return self.ptr.size == self.task.size + 1 and bool(np.all(np.diff(self.ptr) == 1))

    @cached_property
    def complete(self):
        """T when every row has one pair of each of the T tasks, in task order (the
        wide format without missing labels), else None."""
        n = self.ptr.size - 1
        T = self.task.size // n if n else 0
        if T < 2 or T * n != self.task.size:
            return None
        ok = np.array_equal(self.task.reshape(n, T), np.broadcast_to(np.arange(T), (n, T)))
        return T if ok else None


@dataclass
class TaskLayout:
    out_start: torch.Tensor  # (T,) first output column of each task
    n_out: torch.Tensor  # (T,) outputs of each task (1 for regression and binary)
    kind: torch.Tensor  # (T,) REGRESSION, BINARY or MULTICLASS

    def __post_init__(self):
        kinds = set(self.kind.tolist())
        # one single-output kind for every task: the loss needs no masks
        self.multiclass = MULTICLASS in kinds
        self.uniform = kinds.pop() if len(kinds) == 1 and not self.multiclass else None

    def to(self, device):
        return TaskLayout(*(v.to(device) for v in (self.out_start, self.n_out, self.kind)))


def _row_indices(sel):
    """The row indices of a task's selector (a slice or a boolean mask), in an
    array of their own: a view of one ``np.arange(n)`` a task would keep n
    indices alive per task, n x T in all."""
    if isinstance(sel, slice):
        return np.arange(sel.start, sel.stop, sel.step or 1)
    return np.flatnonzero(sel)


def make_pairs(table, codes):
    """Pairs from a TaskTable and per-task target codes (values or class codes)."""
    n = table.X.shape[0]
    rows, tasks, targets, weights = [], [], [], []
    for t, (sel, code, w) in enumerate(zip(table.rows, codes, table.weights)):
        r = _row_indices(sel)
        rows.append(r)
        tasks.append(np.full(r.size, t))
        targets.append(code)
        weights.append(w * r.size)  # mean 1 within a task
    rows, tasks = np.concatenate(rows), np.concatenate(tasks)
    order = np.argsort(rows, kind="stable")
    ptr = np.searchsorted(rows[order], np.arange(n + 1))
    return Pairs(ptr, tasks[order], np.concatenate(targets)[order].astype(np.float32),
                 np.concatenate(weights)[order].astype(np.float32))


def batch_index(pairs, rows):
    """Pairs of the batch ``rows``: (their position in the batch, their index)."""
    if pairs.one_per_row:  # long format
        return np.arange(rows.size), rows
    starts, counts = pairs.ptr[rows], pairs.ptr[rows + 1] - pairs.ptr[rows]
    local = np.repeat(np.arange(rows.size), counts)
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    return local, offsets


def batch_pairs(pairs, rows):
    """Pairs of the batch ``rows``: (position in the batch, task, target, weight)."""
    local, offsets = batch_index(pairs, rows)
    return local, pairs.task[offsets], pairs.target[offsets], pairs.weight[offsets]


def pair_losses(Z, local, task, target, layout):
    """Loss of each pair from the outputs ``Z`` of the batch."""
    if layout.uniform is not None:  # fast path: one kind of single-output task
        z = Z[local, layout.out_start[task]]
        if layout.uniform == REGRESSION:
            return 0.5 * (z - target) ** 2
        return F.binary_cross_entropy_with_logits(z, target, reduction="none")
    kind = layout.kind[task]
    start = layout.out_start[task]
    if not layout.multiclass:  # regression and binary tasks: one output each, no masks
        z = Z[local, start]
        return torch.where(kind == REGRESSION, 0.5 * (z - target) ** 2,
                           F.softplus(z) - target * z)
    loss = torch.zeros(task.shape[0], dtype=Z.dtype, device=Z.device)
    single = kind != MULTICLASS
    if single.any():
        z = Z[local[single], start[single]]
        y = target[single]
        reg = kind[single] == REGRESSION
        loss[single] = torch.where(reg, 0.5 * (z - y) ** 2, F.softplus(z) - y * z)
    multi = ~single
    if multi.any():
        k_max = int(layout.n_out.max())
        cols = start[multi, None] + torch.arange(k_max, device=Z.device)
        valid = torch.arange(k_max, device=Z.device) < layout.n_out[task[multi], None]
        logits = Z[local[multi, None], cols.clamp(max=Z.shape[1] - 1)]
        logits = logits.masked_fill(~valid, float("-inf"))
        loss[multi] = F.cross_entropy(logits, target[multi].long(), reduction="none")
    return loss


def _dense_losses(Z, target, layout):
    """Each (row, task) loss from (rows, T) targets (single-output tasks only)."""
    z = Z if Z.shape[1] == target.shape[1] else Z[:, layout.out_start]
    if layout.uniform == REGRESSION:
        return 0.5 * (z - target) ** 2
    if layout.uniform == BINARY:
        return F.binary_cross_entropy_with_logits(z, target, reduction="none")
    return torch.where(layout.kind == REGRESSION, 0.5 * (z - target) ** 2,
                       F.softplus(z) - target * z)


def task_losses(Z, local, task, target, weight, layout, n_tasks, den=None):
    """Weighted mean loss of each task over its pairs in the batch.

    ``local`` and ``task`` None: ``target`` and ``weight`` are (rows, T), every task
    on every row, ``weight`` None for weights of one (see
    :class:`~skmtl.nn._training._PairTensors`).

    Returns ``(losses, present)``: a (n_tasks,) tensor (zero for absent tasks) and
    the mask of tasks with at least one pair in the batch.  ``den``: each task's
    total weight in the whole batch when ``Z`` holds only this process's share of
    it (distributed training: the shares' losses then add up to the batch's).
    """
    if task is None:
        loss = _dense_losses(Z, target, layout)
        if weight is None and den is None:  # every pair weighs one: the mean
            return loss.mean(0), torch.ones(n_tasks, dtype=torch.bool, device=Z.device)
        num = (loss if weight is None else weight * loss).sum(0)
        if den is None:
            den = weight.sum(0)
        present = den > 0
        return num / den.clamp_min(torch.finfo(Z.dtype).tiny), present
    loss = pair_losses(Z, local, task, target, layout)
    num = torch.zeros(n_tasks, dtype=Z.dtype, device=Z.device).index_add(0, task, weight * loss)
    if den is None:
        den = torch.zeros(n_tasks, dtype=Z.dtype, device=Z.device).index_add(0, task, weight)
    present = den > 0
    return num / den.clamp_min(torch.finfo(Z.dtype).tiny), present
