"""The one training loop: mini-batches of rows, per-task losses, a weighting, a step."""

import copy

import numpy as np
import torch

from ._callbacks import CheckFinite, EarlyStopping, Loop, PrintProgress, check_callbacks
from ._data import batch_index, task_losses
from ._rows import RowSource


def world():
    """``(rank, world size)`` inside an initialised ``torch.distributed`` group of
    several processes (e.g. launched by ``torchrun``), else None."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank(), dist.get_world_size()
    return None


def _all_reduce(tensors):
    """Sum ``tensors`` over the processes in place, in one flat call."""
    flat = torch.cat([t.reshape(-1) for t in tensors])
    torch.distributed.all_reduce(flat)
    start = 0
    for t in tensors:
        t.copy_(flat[start : start + t.numel()].view_as(t))
        start += t.numel()


def _weights(pt, rows, rows_t, n_tasks):
    """Each task's total weight in the batch ``rows``."""
    _, task, _, weight = pt.batch(rows, rows_t)
    if task is None:  # complete wide format: (rows, T) weights, None for ones
        return weight.sum(0) if weight is not None else torch.full(
            (n_tasks,), float(rows.size), device=pt.device)
    return torch.zeros(n_tasks, dtype=weight.dtype, device=weight.device).index_add(
        0, task, weight)


def _batches(rows, batch_size, rng):
    rows = rows[rng.permutation(rows.size)] if rng is not None else rows
    for start in range(0, rows.size, batch_size):
        yield rows[start : start + batch_size]


def _device_batches(rows, batch_size, rng, device):
    """``(b, b_t)``: each batch's rows as numpy indices and (views of one transfer
    an epoch) as an index tensor on ``device``."""
    rows = rows[rng.permutation(rows.size)] if rng is not None else rows
    rows_t = torch.as_tensor(rows, device=device)
    for start in range(0, rows.size, batch_size):
        yield rows[start : start + batch_size], rows_t[start : start + batch_size]


def evaluate(net, source, pt, layout, n_tasks, rows, batch_size):
    """Mean per-task losses over ``rows`` (no gradient), as a numpy array; ``pt``:
    the pairs on the device (:class:`_PairTensors`)."""
    device = source.device
    num = torch.zeros(n_tasks, dtype=torch.float64, device=device)
    den = torch.zeros(n_tasks, dtype=torch.float64, device=device)
    net.eval()
    shard = world()
    if shard is not None:
        rows = rows[shard[0] :: shard[1]]
    with torch.no_grad():
        for b, b_t in _device_batches(rows, batch_size, None, device):
            local, task, target, weight = pt.batch(b, b_t)
            _, Z = net(source.batch(b, b_t))
            losses, present = task_losses(Z, local, task, target, weight, layout, n_tasks)
            if task is None:
                w = torch.full((n_tasks,), float(b.size), dtype=torch.float64,
                               device=device) if weight is None else weight.double().sum(0)
            else:
                w = torch.zeros(n_tasks, dtype=torch.float64, device=device).index_add(
                    0, task, weight.double())
            num += losses.double() * w
            den += w
    if shard is not None:
        _all_reduce([num, den])
    return (num / den.clamp_min(1e-300)).cpu().numpy()


class _PairTensors:
    """The pairs on the device once per fit; a batch indexes them there.

    ``dense``: when every row has every task (the wide format without a missing
    label) and no task is multiclass, a batch is ``(None, None, target, weight)``
    with (rows, T) targets and weights, which :func:`task_losses` reads without any
    pair bookkeeping.
    """

    def __init__(self, pairs, device, dtype, dense=True):
        self.pairs, self.device = pairs, device
        self.task = torch.as_tensor(pairs.task, device=device)
        self.target = torch.as_tensor(pairs.target, dtype=dtype, device=device)
        self.weight = torch.as_tensor(pairs.weight, dtype=dtype, device=device)
        self.dense = dense and pairs.complete is not None
        if self.dense:
            shape = (-1, pairs.complete)
            self.target, self.weight = self.target.view(shape), self.weight.view(shape)
            self.unweighted = bool(np.all(pairs.weight == 1))  # no sample_weight
        elif pairs.one_per_row:  # a batch's positions: a slice of one arange
            self.positions = torch.arange(pairs.ptr.size - 1, device=device)

    @property
    def takes(self):
        """Whether :meth:`take` applies (one pair a row, or every task on every row)."""
        return self.dense or self.pairs.one_per_row

    def take(self, rows_t):
        """These pairs of the rows ``rows_t`` only, in that order (see :attr:`takes`):
        a batch of them is then ``batch(rows, slice)``."""
        out = copy.copy(self)
        names = ("target", "weight") if self.dense else ("task", "target", "weight")
        for name in names:
            setattr(out, name, getattr(self, name)[rows_t])
        return out

    def batch(self, rows, rows_t):
        if self.dense:
            weight = None if self.unweighted else self.weight[rows_t]
            return None, None, self.target[rows_t], weight
        if self.pairs.one_per_row:  # long format: the row index is the pair index
            local, offsets = self.positions[: rows.size], rows_t
        else:
            local, offsets = batch_index(self.pairs, rows)
            local = torch.as_tensor(local, device=self.device)
            offsets = torch.as_tensor(offsets, device=self.device)
        return local, self.task[offsets], self.target[offsets], self.weight[offsets]


def _adamw(groups, weight_decay, device):
    """AdamW over ``groups`` (``(params, lr)`` pairs), fused (one kernel for all
    parameters: on small networks the per-parameter steps cost more than the
    backward pass) where torch has it."""
    groups = [dict(params=params, lr=lr) for params, lr in groups if params]
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.AdamW(groups, weight_decay=weight_decay, fused=True)
        except (RuntimeError, ValueError):  # a dtype or device it does not fuse
            pass
    return torch.optim.AdamW(groups, weight_decay=weight_decay)


LOSS_MESSAGE = ("The loss of task {name!r} became {value} at epoch {epoch}: lower "
                "learning_rate, or scale X and y.")


def _epoch_line(epoch, loss, elapsed, valid_loss=None, **_):
    extra = "" if valid_loss is None else f"  validation loss {valid_loss:.5f}"
    return f"[skmtl] epoch {epoch:4d}  loss {loss:.5f}{extra}  {elapsed:7.1f}s"


class Trainer:
    """Runs epochs of mini-batch training of ``net`` and keeps the history.

    ``state`` (optimizer, epoch count, curves) persists between calls, which is
    what ``warm_start`` and ``partial_fit`` continue from.  :meth:`run` is a
    :class:`~skmtl.nn._callbacks.Loop` of epochs; the finite-loss check, early
    stopping (with the best weights restored when there are validation rows) and
    the progress lines are callbacks, followed by the caller's.
    """

    def __init__(self, net, weighting, shared_params, *, lr, weight_decay, device, dtype):
        self.net, self.weighting, self.shared = net, weighting, list(shared_params)
        params = list(net.parameters()) + list(weighting.parameters())
        shared_lr, head_lr = (lr, lr) if np.isscalar(lr) else lr
        if shared_lr == head_lr:
            groups = [(params, shared_lr)]
        else:  # the shared layers' steps, and the heads' (and the weighting's)
            ids = {id(p) for p in self.shared}
            groups = [([p for p in params if id(p) in ids], shared_lr),
                      ([p for p in params if id(p) not in ids], head_lr)]
        self.optimizer = _adamw(groups, weight_decay, device)
        self.params = params
        self.device, self.dtype = device, dtype
        self.loss_curve, self.task_loss_curve, self.validation_scores = [], [], []
        self.epochs = 0
        self.world = world()
        if self.world is not None:  # every process starts from rank 0's weights
            for v in net.state_dict().values():
                torch.distributed.broadcast(v, 0)

    def run(self, X, pairs, layout, n_tasks, *, max_epochs, batch_size, rng,
            val_rows=None, n_iter_no_change=10, tol=1e-4, verbose=0, task_names=None,
            callbacks=()):
        """Train for up to ``max_epochs`` epochs; returns self.

        Without ``val_rows`` training stops when the training loss has not improved
        by ``tol`` times its best value for ``n_iter_no_change`` epochs; with them, their loss, and the
        weights of the best epoch are restored.  ``callbacks`` (a list of
        :class:`~skmtl.nn._callbacks.Callback`) are notified after the built-in ones.
        """
        train_rows = np.setdiff1d(np.arange(X.shape[0]), val_rows) \
            if val_rows is not None else np.arange(X.shape[0])
        source = RowSource(X, self.device, self.dtype)
        pt = _PairTensors(pairs, self.device, self.dtype, dense=not layout.multiclass)
        monitor = "loss" if val_rows is None else "valid_loss"
        # no gradient: large batches, unless each batch is read from disk
        val_batch = batch_size if source.streamed else max(batch_size, 4096)
        builtin = [CheckFinite("task_losses", LOSS_MESSAGE, task_names),
                   EarlyStopping(monitor, n_iter_no_change, tol,
                                 restore_best=val_rows is not None, relative=True)]
        # verbose=1: a line a tenth of max_epochs (and the last); 2: a line an epoch
        every = 1 if verbose >= 2 else max(1, max_epochs // 10)
        builtin += [PrintProgress(_epoch_line, every)] if verbose else []
        loop = Loop(builtin + check_callbacks(callbacks), modules=(self.net,), owner=self,
                    epoch=self.epochs)

        def epoch(loop):
            self.epochs = loop.epoch
            totals = self._epoch(loop, source, pt, layout, n_tasks, train_rows, batch_size,
                                 rng)
            self.task_loss_curve.append(totals)
            self.loss_curve.append(float(totals.sum()))
            self.weighting.end_epoch()
            measured = dict(loss=self.loss_curve[-1], task_losses=totals)
            if val_rows is not None:
                val = evaluate(self.net, source, pt, layout, n_tasks, val_rows,
                               val_batch)
                measured["valid_loss"] = float(val.sum())
                self.validation_scores.append(-measured["valid_loss"])
            return measured

        loop.run(epoch, max_epochs)
        return self

    def _epoch(self, loop, source, pt, layout, n_tasks, rows, batch_size, rng):
        """One pass over ``rows``: the mean loss of each task (the processes' together)."""
        self.net.train()
        batch_norm = any(isinstance(m, torch.nn.BatchNorm1d) for m in self.net.modules())
        steps = []  # each step's (losses, present), added up once at the end
        order = rows[rng.permutation(rows.size)] if rng is not None else rows
        order_t = torch.as_tensor(order, device=self.device)
        if self.world is None and source.takes and pt.takes:
            # the epoch's rows gathered once, in their order: a batch is a slice (a view)
            source, pt, order_t = source.take(order_t), pt.take(order_t), None
        for start in range(0, order.size, batch_size):
            stop = start + batch_size
            b = order[start:stop]
            b_t = slice(start, stop) if order_t is None else order_t[start:stop]
            if b.size < 2 and batch_norm:
                continue  # batch norm cannot train on a single row
            step = self._train_step(source, pt, layout, n_tasks, b, b_t)
            if step is None:
                continue
            steps.append(step)
            loop.notify("on_step", batch=b, losses=step[0], present=step[1])
        if not steps:
            sums = counts = torch.zeros(n_tasks, dtype=torch.float64, device=self.device)
        else:
            losses, present = (torch.stack(v) for v in zip(*steps))
            sums = torch.where(present, losses, 0.0).double().sum(0)
            counts = present.double().sum(0)
        if self.world is not None:
            _all_reduce([sums])
        return (sums / counts.clamp_min(1)).cpu().numpy()  # one sync an epoch, not a batch

    def _train_step(self, source, pt, layout, n_tasks, b, b_t):
        """Forward, backward and step on the batch ``b`` (``b_t``: its index tensor):
        its per-task losses (detached) and which tasks it has, or None for a batch
        without pairs."""
        den = None
        if self.world is not None:  # this process's share of the batch
            den = _weights(pt, b, b_t, n_tasks)
            b, b_t = b[self.world[0] :: self.world[1]], b_t[self.world[0] :: self.world[1]]
        local, task, target, weight = pt.batch(b, b_t)
        if target.numel() == 0 and den is None:
            return None
        features, Z = self.net(source.batch(b, b_t))
        losses, present = task_losses(Z, local, task, target, weight, layout, n_tasks, den)
        for p in self.params:  # zero_grad(set_to_none=True), without its profiler hooks
            p.grad = None
        self.weighting.backward(losses, present, features, self.shared)
        if self.world is not None:  # the shares' gradients add up to the batch's
            params = self.params
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            _all_reduce([p.grad for p in params])
        self.optimizer.step()
        self.weighting.after_step(lambda: self._losses(source, pt, layout, n_tasks, b, b_t))
        return losses.detach(), present

    def _losses(self, source, pt, layout, n_tasks, b, b_t):
        """The batch ``b``'s per-task losses now, without a gradient."""
        with torch.no_grad():
            local, task, target, weight = pt.batch(b, b_t)
            return task_losses(self.net(source.batch(b, b_t))[1], local, task, target,
                               weight, layout, n_tasks)
