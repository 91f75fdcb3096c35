"""Meta-learners: meta-train on many tasks, adapt to a new one from a few rows.

``_MetaLearner`` holds what classification and regression share (the data, the
device, building the network, the meta-training loop, adaptation, pickling); the
two estimators say what an episode is (N classes, or rows of one task), how many
outputs the head has and which loss the gradient-based algorithms minimise.
"""

import copy
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..nn._backend import resolve_device
from ..base import refuse_unused
from ..nn._state import check_finite_outputs, cpu_state, seed_from
from ..nn._callbacks import CheckFinite, EarlyStopping, Loop, PrintProgress, check_callbacks
from ..nn._modules import output_size
from ._algorithms import GradientBased, ProtoNet, Reptile, freeze_support_statistics
from ._baseline import Baseline
from ._backbones import make_backbone
from ._validation import _Validation

LOSS_MESSAGE = ("The meta-training loss became {value} at episode {episode}: lower "
                "learning_rate or inner_lr, or scale X.")
GRADIENT_BASED = ("maml", "fomaml", "reptile", "anil", "metasgd")  # a head and a loss
BASELINES = ("baseline", "baseline++")  # pretrained on all classes, a new head a task
ALGORITHMS = ("protonet",) + GRADIENT_BASED + BASELINES
# Parameter entries both estimators' docstrings share: "    {key}\n" there.
_SHARED_DOC = {
    "meta_training": """\
    n_episodes : int, default=1000
        Meta-training episodes.
    meta_batch_size : int, default=4
        Episodes a meta-update.
    learning_rate : float, default=1e-3
        The meta-optimizer's step.
    learning_rate_schedule : {"constant", "linear"}, default="constant"
        ``"linear"``: the step decays linearly from ``learning_rate`` to 0 over the
        meta-updates (Reptile's annealed outer step, Nichol et al. 2018).
    meta_optimizer : {"adam", "sgd"}, default="adam"
""",
    "early_stopping": """\
    early_stopping : bool or "auto", default="auto"
        Stop meta-training when the score on the validation episodes (see
        ``validation_fraction``, which must then hold some out) has not improved
        for ``n_iter_no_change`` validation checks, and keep the network (and the
        algorithm's meta-learned parameters) of the best check.  The checks are
        the ten reports of fit: each ends a block of a tenth of the meta-updates.
        ``"auto"``: whenever there are validation episodes (on small data more
        meta-training made the new classes worse: see the user guide).
    n_iter_no_change : int, default=3
        Validation checks without improvement before ``early_stopping`` stops.
    callbacks : list of Callback, default=None
        :class:`skmtl.nn.Callback` objects notified by the meta-training loop
        (an epoch of it is one validation block, a step one meta-update); each fit
        notifies deep copies of them, kept in ``callbacks_``.
""",
    "transductive": """\
    transductive : bool, default=False
        Only for backbones with batch norm (``"conv4"``).  False: an adapted model
        normalises with the statistics of its support set, so that a prediction
        depends on its own row alone.  True: with those of the batch being
        predicted, as MAML's reference code (and the batch-norm layers in
        meta-training); evaluated on a whole query set at once this is mildly
        transductive.
""",
}


def shared_doc(doc):
    """``doc`` with the shared parameter entries filled in."""
    for key, text in _SHARED_DOC.items():
        doc = doc.replace(f"    {{{key}}}\n", text)
    return doc


def _make_algorithm(est, net, width, sampler):
    name, loss, head = est.algorithm, est._loss, est._head_init
    if name == "protonet":
        return ProtoNet()
    if name in BASELINES:
        return Baseline(width, sampler.n_classes, cosine=name == "baseline++")
    if name == "reptile":
        return Reptile(net, width, est.inner_lr, est.inner_steps, loss=loss, head_init=head)
    return GradientBased(net, width, est.inner_lr, est.inner_steps,
                         first_order=name == "fomaml", head_only=name == "anil",
                         learn_lr=name == "metasgd", loss=loss, head_init=head)


def _stacked(episodes):
    """The episodes of a meta-batch stacked into arrays, one group a shape (usually one:
    with ``tasks=`` a task with fewer classes than ``n_way`` gives smaller episodes)."""
    groups = {}
    for episode in episodes:
        groups.setdefault((len(episode[0]), len(episode[2])), []).append(episode)
    return [tuple(np.stack(part) for part in zip(*group)) for group in groups.values()]


class _MetaLearner(_Validation, BaseEstimator):
    """The data, device, network, meta-training loop, adaptation and pickling.

    A subclass sets ``_loss`` (the gradient-based algorithms' loss), ``_images``
    (whether X may hold images), ``_n_out`` (the head's outputs for an episode's
    support labels) and draws its episodes with an :class:`EpisodeSampler`.
    """

    _images = False
    _head_init = "zero"  # a task's head before the inner loop (regression: always zero)

    _parameter_constraints = {
        "hidden_layer_sizes": [tuple, list],
        "k_shot": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_query": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_episodes": [Interval(numbers.Integral, 1, None, closed="left")],
        "meta_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "learning_rate_schedule": [StrOptions({"constant", "linear"})],
        "meta_optimizer": [StrOptions({"adam", "sgd"})],
        "inner_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "inner_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "adapt_steps": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_support": [Interval(numbers.Integral, 1, None, closed="left")],
        "transductive": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left"),
                                StrOptions({"auto"})],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "callbacks": [list, tuple, None],
        "random_state": ["random_state"],
        "device": [str],
        "verbose": ["verbose"],
    }
    __metadata_request__fit = {"tasks": True}

    # parameters read only under another setting: name -> (test, that setting)
    _conditions = {
        **{name: (lambda est: est.algorithm in GRADIENT_BASED,
                  'a gradient-based algorithm (not "protonet" or the baselines: they '
                  'take no inner steps)')
           for name in ("inner_lr", "inner_steps", "adapt_steps", "head_init")},
        "hidden_layer_sizes": (lambda est: est.backbone == "mlp", 'backbone="mlp"'),
        **{name: (lambda est: est.backbone != "mlp",
                  'an image backbone (backbone="conv4" or a torch module)')
           for name in ("input_shape", "transductive")},
        "n_iter_no_change": (lambda est: est.early_stopping, "early_stopping=True"),
    }

    def _check_settings(self):
        """Refuse a parameter set away from its default that these settings ignore."""
        used = {name for name in self.get_params(deep=False)
                if name not in self._conditions or self._conditions[name][0](self)}
        backbone = self.backbone if isinstance(self.backbone, str) else "a module"
        refuse_unused(self, used, f"algorithm={self.algorithm!r} with backbone="
                      f"{backbone!r}", lambda name: self._conditions[name][1])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ data
    def _inputs(self, X, reset):
        X = validate_data(self, X, reset=reset, dtype=np.float32, allow_nd=self._images)
        shape = X.shape[1:] if X.ndim > 2 else None
        if self.backbone == "mlp" or not self._images:
            return X.reshape(len(X), -1), (int(np.prod(X.shape[1:])),)
        shape = tuple(self.input_shape) if self.input_shape is not None else shape
        if shape is None or int(np.prod(shape)) != int(np.prod(X.shape[1:])):
            raise ValueError(
                f"The backbone needs images: give X as (n, C, H, W) or flat rows with "
                f"input_shape=(C, H, W); got X of shape {X.shape} and input_shape="
                f"{self.input_shape}.")
        return X.reshape((len(X),) + shape), shape

    def _tensor(self, X):
        return torch.as_tensor(np.ascontiguousarray(X), device=self.device_)

    @staticmethod
    def _check_tasks(tasks, n_samples):
        if tasks is None:
            return None
        tasks = np.asarray(tasks)
        if tasks.ndim != 1 or tasks.shape[0] != n_samples:
            raise ValueError("X and tasks have inconsistent numbers of samples: "
                             f"{n_samples} and {tasks.shape[0] if tasks.ndim else 0}.")
        return tasks

    def _seed(self):
        return seed_from(self.random_state)

    # ------------------------------------------------------------------- fit
    def _fit_network(self, X, shape, seed, sampler, rows, val=()):
        """Build the backbone and the algorithm and meta-train them on ``sampler``'s
        episodes (its indices pick rows of X through ``rows``); the validation scores."""
        self.device_ = resolve_device(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = make_backbone(self.backbone, shape, self.hidden_layer_sizes)
            net = copy.deepcopy(net) if isinstance(self.backbone, torch.nn.Module) else net
            width = output_size(net, int(np.prod(shape))) if len(shape) == 1 else \
                net.eval()(torch.zeros((2,) + shape)).shape[1]
            net = net.train().to(self.device_)
            self.algorithm_ = _make_algorithm(self, net, width, sampler).to(self.device_)
            scores = self._meta_train(net, X, sampler, rows, val)
        self._compare_with_plain(X, val, scores)
        self.module_ = net
        self._input_shape = shape
        return scores

    def _meta_train(self, net, X, sampler, rows, val):
        """Meta-train ``net`` as a :class:`~skmtl.nn._callbacks.Loop` of validation
        blocks (a tenth of the meta-updates each); the validation scores."""
        params = list(net.parameters()) + list(self.algorithm_.parameters())
        opt = torch.optim.Adam(params, lr=self.learning_rate) \
            if self.meta_optimizer == "adam" else torch.optim.SGD(params, lr=self.learning_rate)
        Xt = self._tensor(X)  # once (zero-copy on the CPU); episodes index it there
        n_updates = -(-self.n_episodes // self.meta_batch_size)
        schedule = torch.optim.lr_scheduler.LambdaLR(  # 1 at the first update, 1/n at the last
            opt, lambda done: (n_updates - done) / n_updates) \
            if self.learning_rate_schedule == "linear" else None
        every = max(1, n_updates // 10)
        self.loss_curve_, scores = [], []

        def block(loop):
            for update in range((loop.epoch - 1) * every + 1,
                                min(loop.epoch * every, n_updates) + 1):
                self._meta_update(net, Xt, sampler, rows, params, opt, schedule)
                loop.notify("on_step", loss=self.loss_curve_[-1],
                            episode=update * self.meta_batch_size)
            measured = dict(loss=self.loss_curve_[-1], episode=update * self.meta_batch_size)
            if val:
                scores.append(self._validation_score(net, X, val))
                measured["val_score"] = scores[-1]
            return measured

        loop = Loop(self._callbacks(n_updates * self.meta_batch_size, bool(val)),
                    modules=(net, self.algorithm_), owner=self)
        loop.run(block, -(-n_updates // every))
        self.n_iter_ = len(self.loss_curve_) * self.meta_batch_size
        return scores

    def _meta_update(self, net, Xt, sampler, rows, params, opt, schedule):
        """One meta-update on a meta-batch of episodes; its mean query loss is
        appended to ``loss_curve_``."""
        opt.zero_grad(set_to_none=True)
        loss = 0.0
        for s, ys, q, yq in _stacked([sampler.sample() for _ in range(self.meta_batch_size)]):
            s, q = self._tensor(rows[s]), self._tensor(rows[q])
            loss += self.algorithm_.meta_backward(
                net, Xt[s], self._tensor(ys), Xt[q], self._tensor(yq), self._n_out(ys[0]))
        for p in params:
            if p.grad is not None:
                p.grad /= self.meta_batch_size
        opt.step()
        if schedule is not None:
            schedule.step()
        self.loss_curve_.append(float(loss) / self.meta_batch_size)

    def _callbacks(self, total, validated):
        """The loop's callbacks: the finite-loss check, early stopping, the progress
        lines, then deep copies of ``callbacks`` (kept in ``callbacks_``)."""
        self.callbacks_ = copy.deepcopy(check_callbacks(self.callbacks))
        builtin = [CheckFinite("loss", LOSS_MESSAGE)]
        if self._stops_early:
            builtin.append(EarlyStopping("val_score", self.n_iter_no_change,
                                         lower_is_better=False, restore_best=True))
        if self.verbose:
            def line(episode, loss, val_score=None, **_):
                shown = f"  {self._score_text(val_score)}" if validated else ""
                return f"[skmtl] episode {episode:6d}/{total}  loss {loss:.4f}{shown}"

            builtin.append(PrintProgress(line))
        return builtin + self.callbacks_

    # ------------------------------------------------ the fit data's model
    def _defer_fit_model(self, X, targets):
        """Keep the support rows that ``predict`` adapts on; the adaptation waits for
        the first call that needs it (:meth:`_fit_model`), so that ``fit`` ends with
        meta-training (adapting on every class of a large training set took longer
        than a short meta-training)."""
        self._fit_model_cache = {"support": (X, targets)}

    def _fit_model(self):
        """The model adapted on the fit data's support rows, made at the first call
        and cached (with the parameters of that moment, e.g. ``adapt_steps``).

        The cache is a dict made by fit and filled in place: a memo of a
        deterministic function of the fitted state, so predicting leaves the
        estimator's ``__dict__`` as it was (scikit-learn's ``check_dict_unchanged``).
        """
        check_is_fitted(self, "module_")
        cache = self._fit_model_cache
        if "model" not in cache:
            cache["model"] = self._adapt(*cache["support"])
            del cache["support"]  # the rows are no longer needed
        return cache["model"]

    # ----------------------------------------------------------------- adapt
    def _adapt_state(self, X, targets, n_out, net=None):
        """A copy of the network (of ``module_`` by default) and its state adapted on
        (X, targets); unless ``transductive``, its batch norm then keeps the support
        set's statistics."""
        net = copy.deepcopy(self.module_ if net is None else net)
        kwargs = {} if self.adapt_steps is None or self.algorithm not in GRADIENT_BASED \
            else {"steps": self.adapt_steps}
        xs = self._tensor(X)
        state = self.algorithm_.adapt(net, xs, self._tensor(targets), n_out, **kwargs)
        if not self.transductive:
            freeze_support_statistics(
                net, lambda x: self.algorithm_.logits(net, state, x), xs)
        return net, state

    def __getstate__(self):  # a copy (the default is self.__dict__), on the CPU
        return cpu_state(dict(super().__getstate__()), ("module_", "algorithm_"))


class _Adapted:
    """A copy of the meta-learned network and the state adapted to one task."""

    def __init__(self, meta, net, state):
        self._meta, self._net, self._state = meta, net, state

    def __sklearn_tags__(self):
        return BaseEstimator.__sklearn_tags__(self)

    def __getstate__(self):  # tensors travel on the CPU: loads on a machine without a GPU
        return cpu_state(dict(self.__dict__), ("_net", "_state"))

    def _outputs(self, X, transform):
        """``transform`` of the head's outputs, 1024 rows at a time, concatenated."""
        X, _ = self._meta._inputs(X, reset=False)
        out = []
        with torch.no_grad():
            for start in range(0, len(X), 1024):
                xb = self._meta._tensor(X[start : start + 1024])
                logits = self._meta.algorithm_.logits(self._net, self._state, xb)
                check_finite_outputs(logits, "float32", "on this X; scale X (e.g. with "
                                     "StandardScaler) to the range it was meta-trained on.")
                out.append(transform(logits))
        return np.concatenate(out)
