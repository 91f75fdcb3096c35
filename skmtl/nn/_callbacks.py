"""The skeleton of a training loop and its callbacks, in the style of skorch.

:class:`Loop` runs "epochs" and calls five hooks of its callbacks, each as
``hook(loop, **kwargs)`` (a hook ignores the keywords it does not use):
``on_train_begin`` (once, ``max_epochs=``), ``on_epoch_begin`` (``epoch=``),
``on_step`` (after each optimizer step, with its values), ``on_epoch_end``
(``epoch=`` and what the epoch measured) and ``on_train_end`` (once, after the last
epoch; not when an error ends training).  A callback stops training after the
current epoch by setting ``loop.stop = True``.

The network :class:`~skmtl.nn._training.Trainer`'s epoch is one pass over the
training rows, its step one mini-batch (``batch=``, ``losses=``, ``present=``); its
epochs end with ``loss=``, ``task_losses=`` and, with validation rows,
``valid_loss=``.  A meta-learner's epoch is one validation block, the meta-updates
between two reports (a tenth of them), its step one meta-update (``loss=``,
``episode=``); its epochs end with ``loss=``, ``episode=`` and, with validation
episodes, ``val_score=``.
"""

import time

import numpy as np

HOOKS = ("on_train_begin", "on_epoch_begin", "on_step", "on_epoch_end", "on_train_end")


class Callback:
    """Base class of the callbacks: every hook is a no-op; a subclass overrides
    the hooks it needs (each takes the running :class:`Loop` and keywords)."""

    def on_train_begin(self, loop, **kwargs):
        """Called once before the first epoch."""

    def on_epoch_begin(self, loop, **kwargs):
        """Called before each epoch."""

    def on_step(self, loop, **kwargs):
        """Called after each optimizer step."""

    def on_epoch_end(self, loop, **kwargs):
        """Called after each epoch with what it measured."""

    def on_train_end(self, loop, **kwargs):
        """Called once after the last epoch."""


def check_callbacks(callbacks, name="callbacks"):
    """``callbacks`` as a list, after checking that each is a :class:`Callback`."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"{name} must be a list of Callback objects, got {callbacks!r}.")
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(
                f"{name}[{i}] is {callback!r}, not a Callback: subclass "
                "skmtl.nn.Callback (its on_* hooks are no-ops) and override the hooks "
                "you need.")
    return list(callbacks)


class Loop:
    """Runs epochs, notifying the callbacks, until ``max_epochs`` or a stop request.

    Parameters
    ----------
    callbacks : list of Callback
        Notified in this order.
    modules : sequence of torch.nn.Module, default=()
        The trained state (what :class:`EarlyStopping` keeps and restores).
    owner : object, default=None
        What runs the loop (the Trainer, the meta-learner).
    epoch : int, default=0
        Epochs run before (the count continues from there).

    Attributes
    ----------
    epoch : int
        Epochs run so far.
    stop : bool
        Set by a callback to end training after the current epoch.
    history : list of dict
        What each epoch of this run measured.
    """

    def __init__(self, callbacks, *, modules=(), owner=None, epoch=0):
        self.callbacks, self.modules = check_callbacks(callbacks), tuple(modules)
        self.owner, self.epoch, self.stop, self.history = owner, epoch, False, []

    def notify(self, hook, **kwargs):
        """Call ``hook`` of every callback with this loop and ``kwargs``."""
        for callback in self.callbacks:
            getattr(callback, hook)(self, **kwargs)

    def run(self, run_epoch, max_epochs):
        """``run_epoch(loop)`` (which returns a dict of what it measured) up to
        ``max_epochs`` times, or until a callback sets ``stop``; returns self."""
        self.notify("on_train_begin", max_epochs=max_epochs)
        for _ in range(max_epochs):
            self.epoch += 1
            self.notify("on_epoch_begin", epoch=self.epoch)
            measured = run_epoch(self)
            self.history.append(measured)
            self.notify("on_epoch_end", epoch=self.epoch, **measured)
            if self.stop:
                break
        self.notify("on_train_end")
        return self


class EarlyStopping(Callback):
    """Stop when a value has not improved for ``n_iter_no_change`` epochs.

    Parameters
    ----------
    monitor : str
        The ``on_epoch_end`` keyword watched (e.g. ``"valid_loss"``).
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    tol : float, default=0.0
        An improvement is by more than ``tol`` (``relative``: ``tol`` times the
        best value's magnitude).
    lower_is_better : bool, default=True
    restore_best : bool, default=False
        Keep the loop's ``modules``' state of the best epoch; restore it at the end.
    relative : bool, default=False
        Whether ``tol`` is relative to the best value (a loss in dollars squared and
        one of probabilities stop alike).

    Attributes
    ----------
    best : float
        The best value seen in the run.
    best_epoch : int or None
    stopped_epoch : int or None
        The epoch that stopped training (None: it ran to ``max_epochs``).
    """

    def __init__(self, monitor, n_iter_no_change=10, tol=0.0, *, lower_is_better=True,
                 restore_best=False, relative=False):
        self.monitor, self.n_iter_no_change, self.tol = monitor, n_iter_no_change, tol
        self.lower_is_better, self.restore_best = lower_is_better, restore_best
        self.relative = relative

    def on_train_begin(self, loop, **kwargs):
        self.best, self.best_epoch, self.stopped_epoch = np.nan, None, None
        self._best, self._stalled, self._state = np.inf, 0, None

    def on_epoch_end(self, loop, **kwargs):
        if self.monitor not in kwargs:
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, which this loop's "
                           f"epochs do not report (they report {sorted(kwargs)}).")
        value = float(kwargs[self.monitor])
        loss = value if self.lower_is_better else -value
        margin = self.tol * abs(self._best) if self.relative else self.tol
        if self._best == np.inf or loss < self._best - margin:
            self._best, self.best, self.best_epoch, self._stalled = loss, value, loop.epoch, 0
            if self.restore_best:
                self._state = [{k: v.detach().clone() for k, v in m.state_dict().items()}
                               for m in loop.modules]
            return
        self._stalled += 1
        if self._stalled >= self.n_iter_no_change:
            loop.stop, self.stopped_epoch = True, loop.epoch

    def on_train_end(self, loop, **kwargs):
        if self._state is not None:
            for module, state in zip(loop.modules, self._state):
                module.load_state_dict(state)


class PrintProgress(Callback):
    """Print ``line(**values)`` (flushed) at the end of every ``every``-th epoch and
    of the last one; ``values`` are the ``on_epoch_end`` keywords, with ``epoch``
    and ``elapsed`` (seconds since the run began).

    Parameters
    ----------
    line : callable
        Maps the keywords to the text of the line.
    every : int, default=1
    """

    def __init__(self, line, every=1):
        self.line, self.every = line, every

    def on_train_begin(self, loop, **kwargs):
        self._start, self._pending = time.perf_counter(), None

    def on_epoch_end(self, loop, **kwargs):
        self._pending = dict(kwargs, elapsed=time.perf_counter() - self._start)
        if kwargs["epoch"] % self.every == 0:
            self._print()

    def on_train_end(self, loop, **kwargs):
        if self._pending is not None:
            self._print()

    def _print(self):
        print(self.line(**self._pending), flush=True)
        self._pending = None


class CheckFinite(Callback):
    """Raise a ValueError when a value given to a step or an epoch's end (a scalar,
    or one a task) is not finite.

    Parameters
    ----------
    monitor : str
        The keyword checked, in ``on_step`` and ``on_epoch_end`` where present.
    message : str
        Formatted with the hook's keywords, ``value`` (the first value that is not
        finite) and ``name`` (its position, or ``names[position]``).
    names : sequence, default=None
    """

    def __init__(self, monitor, message, names=None):
        self.monitor, self.message, self.names = monitor, message, names

    def on_step(self, loop, **kwargs):
        self._check(kwargs)

    def on_epoch_end(self, loop, **kwargs):
        self._check(kwargs)

    def _check(self, values):
        if self.monitor not in values:
            return
        flat = np.ravel(np.asarray(values[self.monitor], dtype=float))
        bad = np.flatnonzero(~np.isfinite(flat))
        if bad.size:
            i = int(bad[0])
            name = self.names[i] if self.names is not None else i
            raise ValueError(self.message.format(**{**values, "value": flat[i],
                                                    "name": name}))


class Timer(Callback):
    """Wall-clock seconds (``time.perf_counter``) of the runs, epochs and steps it
    takes part in (on a GPU a step may end before its work does; an epoch waits).

    Attributes
    ----------
    train_times : list of float
        Each run, from ``on_train_begin`` to ``on_train_end``.
    epoch_times : list of float
        Each epoch, from ``on_epoch_begin`` to ``on_epoch_end``.
    step_times : list of float
        Each step, since the previous step (or the epoch's begin).
    """

    def __init__(self):
        self.train_times, self.epoch_times, self.step_times = [], [], []

    def on_train_begin(self, loop, **kwargs):
        self._train = time.perf_counter()

    def on_epoch_begin(self, loop, **kwargs):
        self._epoch = self._last = time.perf_counter()

    def on_step(self, loop, **kwargs):
        now = time.perf_counter()
        self.step_times.append(now - self._last)
        self._last = now

    def on_epoch_end(self, loop, **kwargs):
        self.epoch_times.append(time.perf_counter() - self._epoch)

    def on_train_end(self, loop, **kwargs):
        self.train_times.append(time.perf_counter() - self._train)
