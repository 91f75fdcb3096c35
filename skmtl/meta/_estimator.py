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
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..nn._backend import resolve_device
from ..nn._modules import output_size
from ._algorithms import GradientBased, ProtoNet, Reptile, squared_error
from ._backbones import make_backbone
from ._episodes import EpisodeSampler

ALGORITHMS = ("protonet", "maml", "fomaml", "reptile", "anil", "metasgd")
GRADIENT_BASED = ALGORITHMS[1:]  # the ones with a head and a loss: regression too


def _make_algorithm(est, net, width):
    name, loss = est.algorithm, est._loss
    if name == "protonet":
        return ProtoNet()
    if name == "reptile":
        return Reptile(net, width, est.inner_lr, est.inner_steps, loss=loss)
    return GradientBased(net, width, est.inner_lr, est.inner_steps,
                         first_order=name == "fomaml", head_only=name == "anil",
                         learn_lr=name == "metasgd", loss=loss)


class _MetaLearner(BaseEstimator):
    """The data, device, network, meta-training loop, adaptation and pickling.

    A subclass sets ``_loss`` (the gradient-based algorithms' loss), ``_images``
    (whether X may hold images), ``_n_out`` (the head's outputs for an episode's
    support labels) and draws its episodes with an :class:`EpisodeSampler`.
    """

    _images = False

    _parameter_constraints = {
        "hidden_layer_sizes": [tuple, list],
        "k_shot": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_query": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_episodes": [Interval(numbers.Integral, 1, None, closed="left")],
        "meta_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "meta_optimizer": [StrOptions({"adam", "sgd"})],
        "inner_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "inner_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "adapt_steps": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_support": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "device": [str],
        "verbose": ["verbose"],
    }
    __metadata_request__fit = {"tasks": True}

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
        return np.random.RandomState(self.random_state).randint(np.iinfo(np.int32).max)

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
            self.algorithm_ = _make_algorithm(self, net, width).to(self.device_)
            scores = self._meta_train(net, X, sampler, rows, val)
        self.module_ = net
        self._input_shape = shape
        return scores

    def _meta_train(self, net, X, sampler, rows, val):
        params = list(net.parameters()) + list(self.algorithm_.parameters())
        opt = torch.optim.Adam(params, lr=self.learning_rate) \
            if self.meta_optimizer == "adam" else torch.optim.SGD(params, lr=self.learning_rate)
        Xt = self._tensor(X)  # once (zero-copy on the CPU); episodes index it there
        n_updates = -(-self.n_episodes // self.meta_batch_size)
        self.loss_curve_, scores = [], []
        for update in range(1, n_updates + 1):
            opt.zero_grad(set_to_none=True)
            loss = 0.0
            for _ in range(self.meta_batch_size):
                s, ys, q, yq = sampler.sample()
                s, q = self._tensor(rows[s]), self._tensor(rows[q])
                loss += self.algorithm_.meta_backward(
                    net, Xt[s], self._tensor(ys), Xt[q], self._tensor(yq), self._n_out(ys))
            for p in params:
                if p.grad is not None:
                    p.grad /= self.meta_batch_size
            opt.step()
            self.loss_curve_.append(float(loss) / self.meta_batch_size)
            if not np.isfinite(self.loss_curve_[-1]):
                raise ValueError(
                    f"The meta-training loss became {self.loss_curve_[-1]} at episode "
                    f"{update * self.meta_batch_size}: lower learning_rate or inner_lr, "
                    "or scale X.")
            if update % max(1, n_updates // 10) and update != n_updates:
                continue
            if val:
                scores.append(self._validation_score(net, X, val))
            if self.verbose:
                shown = f"  val acc {scores[-1]:.3f}" if val else ""
                print(f"[skmtl] episode {update * self.meta_batch_size:6d}/"
                      f"{n_updates * self.meta_batch_size}  loss {self.loss_curve_[-1]:.4f}"
                      f"{shown}", flush=True)
        self.n_iter_ = n_updates * self.meta_batch_size
        return scores

    # ----------------------------------------------------------------- adapt
    def _adapt_state(self, X, targets, n_out):
        """A copy of the network and its state adapted on (X, targets)."""
        net = copy.deepcopy(self.module_)
        kwargs = {} if self.adapt_steps is None or isinstance(self.algorithm_, ProtoNet) \
            else {"steps": self.adapt_steps}
        return net, self.algorithm_.adapt(net, self._tensor(X), self._tensor(targets),
                                          n_out, **kwargs)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the default is self.__dict__
        for key in ("module_", "algorithm_"):
            if key in state:
                state[key] = copy.deepcopy(state[key]).cpu()
        if "device_" in state:
            state["device_"] = torch.device("cpu")
        return state


class MetaLearnerClassifier(ClassifierMixin, _MetaLearner):
    """Few-shot classification by meta-learning.

    ``fit`` meta-trains on N-way K-shot episodes drawn from the classes of ``y`` (or
    from explicit tasks); :meth:`adapt` then turns a handful of labelled rows of a
    brand-new task into a fitted classifier.  After ``fit``, ``predict`` works on
    the classes seen in fit (adapting on up to ``n_support`` rows of each).

    Parameters
    ----------
    algorithm : {"protonet", "maml", "fomaml", "reptile", "anil", "metasgd"}, \
default="protonet"
        Prototypical networks; MAML (second order, through ``torch.func``); its
        first-order variant; Reptile; ANIL (inner loop on the head only);
        Meta-SGD (learned per-parameter inner step sizes).
    backbone : {"mlp", "conv4"} or torch.nn.Module, default="mlp"
        ``"conv4"``: the standard 4 x [conv 3x3, 64, BN, ReLU, max-pool] for images
        given as (n, C, H, W), or flat with ``input_shape``.
    input_shape : tuple of int, default=None
        (C, H, W) of flat image rows for ``"conv4"`` or a custom backbone.
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Widths of the ``"mlp"`` backbone.
    n_way, k_shot, n_query : int, default=5, 1, 5
        Classes an episode, support and query rows a class in meta-training
        (``n_way`` is capped at the number of classes available).
    n_episodes : int, default=1000
        Meta-training episodes.
    meta_batch_size : int, default=4
        Episodes a meta-update.
    learning_rate : float, default=1e-3
        The meta-optimizer's step.
    meta_optimizer : {"adam", "sgd"}, default="adam"
    inner_lr : float, default=0.4
        Inner-loop step of the gradient-based algorithms.
    inner_steps : int, default=1
    adapt_steps : int, default=None
        Inner steps at adaptation (``inner_steps`` when None).
    n_support : int, default=20
        Rows a class used as support for ``predict`` after ``fit``.
    validation_fraction : float, default=0.0
        Fraction of the classes (of the tasks, with ``tasks=``) held out of
        meta-training; when positive, the mean accuracy over 20 fixed episodes on
        them is measured ten times in fit (``validation_scores_``) and shown with
        ``verbose``.
    random_state : int, RandomState instance or None, default=None
    device : str, default="auto"
    verbose : int, default=0
        Print the episode count, the query loss and (with ``validation_fraction``)
        the validation accuracy ten times in fit.

    Attributes
    ----------
    classes_ : ndarray
    module_ : torch.nn.Module
        The meta-trained backbone.
    loss_curve_ : list of float
        Query loss of each meta-update.
    n_iter_ : int
        Episodes run.
    validation_scores_ : list of float
        Episodic accuracy on the held-out classes at each report (empty when
        ``validation_fraction=0``).

    See Also
    --------
    MetaLearnerRegressor : The same algorithms for few-shot regression.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.meta import MetaLearnerClassifier
    >>> rng = np.random.RandomState(0)
    >>> centers = 3 * rng.randn(30, 8)
    >>> y = np.repeat(np.arange(30), 10)
    >>> X = centers[y] + rng.randn(300, 8)
    >>> meta = MetaLearnerClassifier(n_episodes=100, random_state=0).fit(X, y)
    >>> new = 3 * rng.randn(3, 8)  # three classes never seen in fit
    >>> clf = meta.adapt(new + rng.randn(3, 8), ["a", "b", "c"])  # one shot each
    >>> clf.predict(new[[2, 0]] + rng.randn(2, 8)).tolist()
    ['c', 'a']
    """

    _images = True
    _loss = staticmethod(F.cross_entropy)
    _parameter_constraints = {
        **_MetaLearner._parameter_constraints,
        "algorithm": [StrOptions(set(ALGORITHMS))],
        "backbone": [StrOptions({"mlp", "conv4"}), torch.nn.Module],
        "input_shape": [tuple, list, None],
        "n_way": [Interval(numbers.Integral, 2, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
    }

    def __init__(self, algorithm="protonet", backbone="mlp", *, input_shape=None,
                 hidden_layer_sizes=(64, 64), n_way=5, k_shot=1, n_query=5,
                 n_episodes=1000, meta_batch_size=4, learning_rate=1e-3,
                 meta_optimizer="adam", inner_lr=0.4, inner_steps=1, adapt_steps=None,
                 n_support=20, validation_fraction=0.0, random_state=None, device="auto",
                 verbose=0):
        for name, value in list(locals().items()):
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    @staticmethod
    def _n_out(ys):
        return int(ys.max()) + 1

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, tasks=None):
        """Meta-train on episodes drawn from the classes of ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,)
        tasks : array-like of shape (n_samples,), default=None
            Explicit tasks, each with its own label space: an episode then draws
            its classes within one task.

        Returns
        -------
        self : object
        """
        X, shape = self._inputs(X, reset=True)
        if y is None:
            raise ValueError(
                "This estimator requires y to be passed, but the target y is None.")
        y = column_or_1d(y, warn=True)
        if y.shape[0] != X.shape[0]:
            raise ValueError("X and y have inconsistent numbers of samples: "
                             f"{X.shape[0]} and {y.shape[0]}.")
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError("Meta-training needs at least 2 classes; y has one class.")
        tasks = self._check_tasks(tasks, X.shape[0])
        need = self.k_shot + self.n_query
        keys = codes if tasks is None else np.char.add(tasks.astype(str),
                                                       "\x00" + codes.astype(str))
        labels, counts = np.unique(keys, return_counts=True)
        if counts.min() < need:
            bad = labels[counts.argmin()]
            name = self.classes_[int(bad)] if tasks is None else str(bad).replace("\x00", "/")
            raise ValueError(
                f"Class {name!r} has {counts.min()} examples; meta-training needs at least "
                f"k_shot + n_query = {need} of every class.")
        seed = self._seed()
        train, val = self._split_validation(codes, tasks, seed)
        sampler = EpisodeSampler(codes[train], self.n_way, self.k_shot, self.n_query,
                                 groups=None if tasks is None else tasks[train],
                                 random_state=seed)
        self.validation_scores_ = self._fit_network(X, shape, seed, sampler,
                                                    np.arange(len(X))[train], val)
        sup = self._support_rows(codes, seed)
        self.classifier_ = self._adapt(X[sup], y[sup])
        return self

    def _split_validation(self, codes, tasks, seed):
        """Rows of meta-training, and the held-out episodes (fixed) for validation."""
        if not self.validation_fraction:
            return slice(None), []
        units = codes if tasks is None else np.asarray(tasks)
        names = np.unique(units)
        n_val = int(round(self.validation_fraction * names.size))
        rng = np.random.RandomState(seed)
        held = np.isin(units, rng.choice(names, max(n_val, 1), replace=False))
        if n_val < 1 or np.unique(codes[~held]).size < 2 or np.unique(codes[held]).size < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves too few classes "
                f"on one side ({names.size} {'classes' if tasks is None else 'tasks'}).")
        rows = np.flatnonzero(held)
        sampler = EpisodeSampler(codes[rows], self.n_way, self.k_shot, self.n_query,
                                 groups=None if tasks is None else units[rows],
                                 random_state=rng)
        episodes = []
        for _ in range(20):
            s, ys, q, yq = sampler.sample()
            episodes.append((rows[s], ys, rows[q], yq))
        return np.flatnonzero(~held), episodes

    def _validation_score(self, net, X, episodes):
        correct = []
        for s, ys, q, yq in episodes:
            state = self.algorithm_.adapt(net, self._tensor(X[s]), self._tensor(ys),
                                          int(ys.max()) + 1)
            with torch.no_grad():
                pred = self.algorithm_.logits(net, state, self._tensor(X[q])).argmax(1)
            correct.append(float((pred.cpu().numpy() == yq).mean()))
        return float(np.mean(correct))

    def _support_rows(self, codes, seed):
        rng = np.random.RandomState(seed)
        return np.concatenate([
            rng.permutation(np.flatnonzero(codes == c))[: self.n_support]
            for c in range(self.classes_.size)])

    # ----------------------------------------------------------------- adapt
    def adapt(self, X_support, y_support):
        """A classifier for a new task from a few labelled rows.

        Any number of ways and shots; the meta-learner is left untouched.

        Returns
        -------
        AdaptedClassifier
            Fitted: ``classes_``, ``predict``, ``predict_proba``, ``score``.
        """
        check_is_fitted(self, "module_")
        X, _ = self._inputs(X_support, reset=False)
        return self._adapt(X, y_support)

    def _adapt(self, X, y_support):
        y = np.asarray(y_support)
        classes, codes = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"The support set has {classes.size} class; adapt needs at least 2.")
        net, state = self._adapt_state(X, codes, classes.size)
        return AdaptedClassifier(self, net, state, classes)

    # --------------------------------------------------------------- predict
    def predict_proba(self, X):
        """Class probabilities over ``classes_`` (adapted on the fit data)."""
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict_proba(X)

    def predict(self, X):
        """Predict among the classes seen in fit."""
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict(X)


class MetaLearnerRegressor(RegressorMixin, _MetaLearner):
    """Few-shot regression by meta-learning.

    ``fit`` meta-trains on episodes of ``k_shot`` support and ``n_query`` query
    rows, each drawn within one task (the MAML sinusoid benchmark: every task a
    sinusoid, a few points of it to fit); :meth:`adapt` then turns a handful of
    rows of a brand-new task into a fitted regressor.  Each task starts from a
    zero one-output head and the inner loop minimises the mean squared error.
    Targets are standardised with the mean and standard deviation of ``y`` in fit
    (``inner_lr`` is for targets of unit scale); predictions are in the units of
    ``y``.

    Parameters
    ----------
    algorithm : {"maml", "fomaml", "reptile", "anil", "metasgd"}, default="maml"
        MAML (second order, through ``torch.func``); its first-order variant;
        Reptile; ANIL (inner loop on the head only); Meta-SGD (learned
        per-parameter inner step sizes).  Prototypical networks are for
        classification only.
    backbone : "mlp" or torch.nn.Module, default="mlp"
        A module maps rows (n, n_features) to embeddings (n, width).
    hidden_layer_sizes : tuple of int, default=(40, 40)
        Widths of the ``"mlp"`` backbone.
    k_shot, n_query : int, default=10, 10
        Support and query rows an episode, of one task.
    n_episodes : int, default=1000
        Meta-training episodes.
    meta_batch_size : int, default=4
        Episodes a meta-update.
    learning_rate : float, default=1e-3
        The meta-optimizer's step.
    meta_optimizer : {"adam", "sgd"}, default="adam"
    inner_lr : float, default=0.02
        Inner-loop step.
    inner_steps : int, default=5
    adapt_steps : int, default=None
        Inner steps at adaptation (``inner_steps`` when None).
    n_support : int, default=20
        Rows of the fit data (drawn from all tasks together) that ``predict``
        adapts on after ``fit``.
    random_state : int, RandomState instance or None, default=None
    device : str, default="auto"
    verbose : int, default=0
        Print the episode count and the query loss ten times in fit.

    Attributes
    ----------
    module_ : torch.nn.Module
        The meta-trained backbone.
    loss_curve_ : list of float
        Query loss (mean squared error of the standardised targets) of each
        meta-update.
    n_iter_ : int
        Episodes run.

    See Also
    --------
    MetaLearnerClassifier : The same algorithms, and prototypical networks, for
        few-shot classification.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.meta import MetaLearnerRegressor
    >>> rng = np.random.RandomState(0)
    >>> amplitude, phase = rng.uniform(0.1, 5, 100), rng.uniform(0, np.pi, 100)
    >>> tasks = np.repeat(np.arange(100), 20)  # 100 sinusoids, 20 points each
    >>> X = rng.uniform(-5, 5, (2000, 1))
    >>> y = amplitude[tasks] * np.sin(X[:, 0] - phase[tasks])
    >>> meta = MetaLearnerRegressor(n_episodes=600, learning_rate=1e-2, random_state=0)
    >>> meta = meta.fit(X, y, tasks=tasks)
    >>> x = rng.uniform(-5, 5, (10, 1))  # ten points of a new sinusoid
    >>> reg = meta.adapt(x, 3 * np.sin(x[:, 0] - 1))
    >>> grid = np.linspace(-5, 5, 50)[:, None]
    >>> bool(reg.score(grid, 3 * np.sin(grid[:, 0] - 1)) > 0.5)  # R², 0.05 untrained
    True
    """

    _loss = staticmethod(squared_error)
    _parameter_constraints = {
        **_MetaLearner._parameter_constraints,
        "algorithm": [StrOptions(set(GRADIENT_BASED))],
        "backbone": [StrOptions({"mlp"}), torch.nn.Module],
    }

    def __init__(self, algorithm="maml", backbone="mlp", *, hidden_layer_sizes=(40, 40),
                 k_shot=10, n_query=10, n_episodes=1000, meta_batch_size=4,
                 learning_rate=1e-3, meta_optimizer="adam", inner_lr=0.02, inner_steps=5,
                 adapt_steps=None, n_support=20, random_state=None, device="auto",
                 verbose=0):
        for name, value in list(locals().items()):
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # predict after fit adapts on n_support rows in a few gradient steps
        tags.regressor_tags.poor_score = True
        return tags

    @staticmethod
    def _n_out(ys):
        return 1

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, tasks=None):
        """Meta-train on episodes drawn within the tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        tasks : array-like of shape (n_samples,), default=None
            The task of each row; an episode draws its rows within one task.
            None: all rows are one task.

        Returns
        -------
        self : object
        """
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=True)
        tasks = self._check_tasks(tasks, X.shape[0])
        names, counts = np.unique(np.zeros(len(X)) if tasks is None else tasks,
                                  return_counts=True)
        need, few = self.k_shot + self.n_query, int(counts.argmin())
        if counts[few] < need:
            where = "X (one task: no tasks given)" if tasks is None else \
                f"Task {names[few].tolist()!r}"
            raise ValueError(
                f"{where} has {counts[few]} sample{'' if counts[few] == 1 else 's'}; "
                f"meta-training needs at least k_shot + n_query = {need} of every task.")
        y = y.astype(np.float64)
        self._y_mean, self._y_scale = float(y.mean()), float(y.std()) or 1.0
        seed = self._seed()
        sampler = EpisodeSampler(self._standardize(y), None, self.k_shot, self.n_query,
                                 groups=tasks, random_state=seed)
        self._fit_network(X, (X.shape[1],), seed, sampler, np.arange(len(X)))
        support = np.random.RandomState(seed).permutation(len(X))[: self.n_support]
        self.regressor_ = self._adapt(X[support], y[support])
        return self

    def _standardize(self, y):
        return ((y - self._y_mean) / self._y_scale).astype(np.float32)

    def adapt(self, X_support, y_support):
        """A regressor for a new task from a few rows; the meta-learner is left untouched.

        Parameters
        ----------
        X_support : array-like of shape (n_shots, n_features)
        y_support : array-like of shape (n_shots,)

        Returns
        -------
        AdaptedRegressor
            Fitted: ``predict``, ``score`` (R²).
        """
        check_is_fitted(self, "module_")
        X, _ = self._inputs(X_support, reset=False)
        y = column_or_1d(check_array(y_support, ensure_2d=False, dtype=np.float64,
                                     input_name="y_support"))
        check_consistent_length(X, y)
        return self._adapt(X, y)

    def _adapt(self, X, y):
        net, state = self._adapt_state(X, self._standardize(y), 1)
        return AdaptedRegressor(self, net, state, self._y_mean, self._y_scale)

    def predict(self, X):
        """Predict with the network adapted on ``n_support`` rows of the fit data."""
        check_is_fitted(self, "regressor_")
        return self.regressor_.predict(X)


class _Adapted:
    """A copy of the meta-learned network and the state adapted to one task."""

    def __init__(self, meta, net, state):
        self._meta, self._net, self._state = meta, net, state

    def __sklearn_tags__(self):
        return BaseEstimator.__sklearn_tags__(self)

    def __getstate__(self):  # tensors travel on the CPU: loads on a machine without a GPU
        state = dict(self.__dict__)
        state["_net"] = copy.deepcopy(self._net).cpu()
        state["_state"] = torch.utils._pytree.tree_map(
            lambda v: v.detach().cpu() if isinstance(v, torch.Tensor) else v, self._state)
        return state

    def _outputs(self, X, transform):
        """``transform`` of the head's outputs, 1024 rows at a time, concatenated."""
        X, _ = self._meta._inputs(X, reset=False)
        out = []
        with torch.no_grad():
            for start in range(0, len(X), 1024):
                xb = self._meta._tensor(X[start : start + 1024])
                logits = self._meta.algorithm_.logits(self._net, self._state, xb)
                if not torch.isfinite(logits).all():
                    raise ValueError(
                        "The network's outputs overflow float32 on this X; scale X (e.g. "
                        "with StandardScaler) to the range it was meta-trained on.")
                out.append(transform(logits))
        return np.concatenate(out)


class AdaptedClassifier(ClassifierMixin, _Adapted):
    """A fitted classifier for one task, made by :meth:`MetaLearnerClassifier.adapt`.

    It holds the task's adapted state (prototypes, or fast weights and a head) next
    to a copy of the meta-learned network; the meta-learner itself is untouched.
    It is already fitted and is not meant to be cloned or refitted: adapt the
    meta-learner again for another support set.

    Attributes
    ----------
    classes_ : ndarray
        The labels of the support set, sorted.
    """

    def __init__(self, meta, net, state, classes):
        super().__init__(meta, net, state)
        self.classes_ = classes

    def predict_proba(self, X):
        """Probabilities of the task's classes, in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return self._outputs(
            X, lambda logits: torch.softmax(logits, dim=1).double().cpu().numpy())

    def predict(self, X):
        """The most probable of the task's classes for each row of ``X``."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class AdaptedRegressor(RegressorMixin, _Adapted):
    """A fitted regressor for one task, made by :meth:`MetaLearnerRegressor.adapt`.

    It holds the task's fast weights and head next to a copy of the meta-learned
    network; the meta-learner itself is untouched.  It is already fitted and is
    not meant to be cloned or refitted: adapt the meta-learner again for another
    support set.
    """

    def __init__(self, meta, net, state, y_mean, y_scale):
        super().__init__(meta, net, state)
        self._y_mean, self._y_scale = y_mean, y_scale

    def predict(self, X):
        """Predictions for the task.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        out = self._outputs(X, lambda out: out[:, 0].double().cpu().numpy())
        return out * self._y_scale + self._y_mean
