"""MetaLearnerClassifier: few-shot classification, and the classifier adapt returns."""

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..base import init_params
from ._base import ALGORITHMS, BASELINES, _Adapted, _MetaLearner, shared_doc
from ._episodes import BatchSampler, EpisodeSampler


class MetaLearnerClassifier(ClassifierMixin, _MetaLearner):
    """Few-shot classification by meta-learning.

    ``fit`` meta-trains on N-way K-shot episodes drawn from the classes of ``y`` (or
    from explicit tasks); :meth:`adapt` then turns a handful of labelled rows of a
    brand-new task into a fitted classifier.  After ``fit``, ``predict`` works on
    the classes seen in fit (adapting on up to ``n_support`` rows of each).

    Parameters
    ----------
    algorithm : {"protonet", "maml", "fomaml", "reptile", "anil", "metasgd", \
"baseline", "baseline++"}, default="protonet"
        Prototypical networks; MAML (second order, through ``torch.func``); its
        first-order variant; Reptile; ANIL (inner loop on the head only);
        Meta-SGD (learned per-parameter inner step sizes); the few-shot baselines
        (Chen et al. 2019; Tian et al. 2020): the backbone pretrained as one
        classifier over all the training classes (mini-batches of
        ``n_way * (k_shot + n_query)`` rows, ``meta_batch_size`` of them an update),
        then a logistic regression on the normalised support features
        (``"baseline"``) or cosine heads (``"baseline++"``).
    backbone : {"mlp", "conv4"} or torch.nn.Module, default="mlp"
        ``"conv4"``: the standard 4 x [conv 3x3, 64, BN, ReLU, max-pool] for images
        given as (n, C, H, W), or flat with ``input_shape``; H and W at least 16.
    input_shape : tuple of int, default=None
        (C, H, W) of flat image rows for ``"conv4"`` or a custom backbone.
    hidden_layer_sizes : tuple of int, default=(256,)
        Widths of the ``"mlp"`` backbone (one wide layer: on sklearn's digits it
        did better than (64, 64), see the user guide).
    n_way, k_shot, n_query : int, default=5, 1, 5
        Classes an episode, support and query rows a class in meta-training
        (``n_way`` is capped at the number of classes available).
    {meta_training}
    inner_lr : float, default=0.4
        Inner-loop step of the gradient-based algorithms.
    inner_steps : int, default=1
    adapt_steps : int, default=None
        Inner steps at adaptation (``inner_steps`` when None).
    head_init : {"zero", "prototypes"}, default="zero"
        The gradient-based algorithms' head of a task before its inner steps.
        ``"zero"``: the first inner step moves the head alone (the backbone's
        gradient is the head's weight times the loss's, zero there), so MAML with
        ``inner_steps=1`` is ANIL.  ``"prototypes"``: the linear form of ProtoNet's
        scores on the support set (Proto-MAML, Triantafillou et al. 2020), from
        which the first step moves the backbone too.
    n_support : int, default=20
        Rows a class used as support for ``predict`` after ``fit``.
    {transductive}
    validation_fraction : float or "auto", default="auto"
        Fraction of the classes (of the tasks, with ``tasks=``) held out of
        meta-training; when positive, the mean accuracy over 20 fixed episodes on
        them is measured ten times in fit (``validation_scores_``), shown with
        ``verbose``, compared with a logistic regression's on the same episodes
        (a warning when it is higher) and used by ``early_stopping``.
        ``"auto"``: 0.2 (at least 2 classes) when there are at least 6, else 0.
    {early_stopping}
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
        Episodes run (fewer than ``n_episodes`` when early stopping stopped).
    validation_scores_ : list of float
        Episodic accuracy on the held-out classes at each report (empty when
        ``validation_fraction=0``).
    plain_validation_score_ : float or None
        The mean accuracy on the same validation episodes of a
        ``LogisticRegression`` fitted on each support set's raw features (None
        without validation episodes); fit warns when the meta-learner it keeps
        scores lower.
    callbacks_ : list of Callback
        The copies of ``callbacks`` that the last fit notified.
    classifier_ : AdaptedClassifier
        What ``predict`` uses: the meta-learner adapted on up to ``n_support`` rows
        of every class of the fit data.  Made at its first use, not in ``fit``
        (on thousands of classes that adaptation outlasted a short meta-training),
        then cached.

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

    __doc__ = shared_doc(__doc__)
    _images = True
    _loss = staticmethod(F.cross_entropy)
    _parameter_constraints = {
        **_MetaLearner._parameter_constraints,
        "algorithm": [StrOptions(set(ALGORITHMS))],
        "backbone": [StrOptions({"mlp", "conv4"}), torch.nn.Module],
        "input_shape": [tuple, list, None],
        "n_way": [Interval(numbers.Integral, 2, None, closed="left")],
        "head_init": [StrOptions({"zero", "prototypes"})],
    }

    @property
    def _head_init(self):
        return self.head_init

    def __init__(self, algorithm="protonet", backbone="mlp", *, input_shape=None,
                 hidden_layer_sizes=(256,), n_way=5, k_shot=1, n_query=5,
                 n_episodes=1000, meta_batch_size=4, learning_rate=1e-3,
                 learning_rate_schedule="constant", meta_optimizer="adam", inner_lr=0.4,
                 inner_steps=1, adapt_steps=None, head_init="zero", n_support=20,
                 transductive=False,
                 validation_fraction="auto", early_stopping="auto", n_iter_no_change=3,
                 callbacks=None, random_state=None, device="auto", verbose=0):
        init_params(self, locals())

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
        self._check_settings()
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
        train, val = self._validation(codes, tasks, seed)
        sampler = self._sampler(keys[train], codes[train],
                                None if tasks is None else tasks[train], seed)
        self.validation_scores_ = self._fit_network(X, shape, seed, sampler,
                                                    np.arange(len(X))[train], val)
        sup = self._support_rows(codes, seed)
        self._defer_fit_model(X[sup], y[sup])
        return self

    @property
    def classifier_(self):
        """The :class:`AdaptedClassifier` behind ``predict``: adapted on up to
        ``n_support`` rows of every class of the fit data at its first use (the
        first ``predict``, ``predict_proba`` or ``score``), not in ``fit``, then
        cached; an estimator pickled before that use adapts after loading."""
        return self._fit_model()

    def _sampler(self, keys, codes, tasks, seed):
        """The meta-training episodes; for the baselines, mini-batches of
        ``n_way * (k_shot + n_query)`` rows (an episode's) labelled among all the
        training classes (``keys``: a class within its task)."""
        if self.algorithm in BASELINES:
            return BatchSampler(np.unique(keys, return_inverse=True)[1],
                                self.n_way * (self.k_shot + self.n_query), seed)
        return EpisodeSampler(codes, self.n_way, self.k_shot, self.n_query, groups=tasks,
                              random_state=seed)

    def _validation(self, codes, tasks, seed):
        """Rows of meta-training and fixed validation episodes on held-out classes
        (tasks, with ``tasks=``)."""
        units = codes if tasks is None else tasks

        def make_sampler(rows, rng):
            return EpisodeSampler(codes[rows], self.n_way, self.k_shot, self.n_query,
                                  groups=None if tasks is None else units[rows],
                                  random_state=rng)

        def enough(held):
            return np.unique(codes[~held]).size >= 2 and np.unique(codes[held]).size >= 2

        return self._split_validation(units, seed, make_sampler, enough,
                                      "classes" if tasks is None else "tasks")

    _advice = 'algorithm="baseline" or fewer n_episodes'

    @staticmethod
    def _plain_model():
        return LogisticRegression(max_iter=1000)

    @staticmethod
    def _plain_score(pred, yq):
        return float(np.mean(pred == yq))

    @staticmethod
    def _episode_score(logits, yq):
        return float((logits.argmax(1).cpu().numpy() == yq).mean())

    @staticmethod
    def _score_text(score):
        return f"val acc {score:.3f}"

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
        check_is_fitted(self, "module_")
        return self.classifier_.predict_proba(X)

    def predict(self, X):
        """Predict among the classes seen in fit."""
        check_is_fitted(self, "module_")
        return self.classifier_.predict(X)


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
