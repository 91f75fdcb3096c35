"""MultiTaskClassifier: the linear core with classification losses."""

import warnings

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.extmath import softmax
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from .._tasks import plain_label
from ..base import init_params
from ..linear._losses import LOSSES
from ..metrics import task_average
from ._base import _MultiTaskLinear, _is_torch
from ._docs import predict_doc, shared_doc


def class_scores(Z, proba):
    """Per-class scores from a task's outputs ``Z``: decisions or probabilities."""
    if Z.shape[1] == 1:
        if proba:
            p = 0.5 * (1.0 + np.tanh(0.5 * Z))
            return np.hstack([1.0 - p, p])
        return np.hstack([np.zeros_like(Z), Z])
    return softmax(Z, copy=False) if proba else Z


def check_targets(table, y, first):
    """``check_classification_targets`` on every task's labels, run once on all of
    them ``y`` (``first``: each task's first row in ``y``); a bad task raises its
    own error, the first in task order (as a check per task would)."""
    try:
        if y.dtype == object and not all(isinstance(v, str) for v in y[first]):
            raise ValueError("a task's labels are objects")  # 'unknown' for that task
        with warnings.catch_warnings():  # raised per task below
            warnings.filterwarnings("ignore", "The number of unique classes")
            check_classification_targets(y)
    except ValueError:
        for yt in table.y:
            check_classification_targets(yt)
        raise


class MultiTaskClassifier(ClassifierMixin, _MultiTaskLinear):
    r"""Regularized multi-task linear classification.

    One linear classifier per task, coupled by a penalty on the coefficient matrix:

    .. math::
        \min_{W, b}\ \sum_{t=1}^T \frac{1}{\sum_{i \in t} s_i} \sum_{i \in t}
        s_i\, \ell(y_i, x_i^\top W_t + b_t) + \alpha\, \Omega(W)

    with the logistic loss for binary tasks and the multinomial loss for multiclass
    ones (``loss="logistic"``), or the one-vs-rest squared hinge
    (``loss="squared_hinge"``: the regularized multi-task SVM of Evgeniou & Pontil
    2004).  Each task has its own classes.

    Parameters
    ----------
    {shared}
    loss : {"logistic", "squared_hinge"}, default="logistic"
        ``predict_proba`` is available with the logistic loss only.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as in ``LogisticRegression``: a dict label ->
        weight (for every task that has the label), or ``"balanced"``: each task's
        classes weighed ``n_t / (n_classes_t * count)`` by their counts in that task.
        They multiply ``sample_weight``.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Single task: its classes.  Wide format: one array per column of Y.  Long
        format: the union of the tasks' classes (``predict_proba`` has one column
        each, zero where a class does not occur in the row's task).
    coef_ : ndarray of shape (n_outputs, n_features)
        One row per binary task, ``n_classes`` rows per multiclass task (rows of
        task ``t`` in the order of its classes); the linear configurations.
    intercept_ : ndarray of shape (n_outputs,)
        (The linear configurations.)
    tasks_ : ndarray or None
        Task labels seen in fit (long format), sorted; ``None`` in wide format.
    n_tasks_ : int
    n_iter_ : int
        Iterations of the solver, or epochs of the network.
    dual_gap_ : float
        Final duality gap (the linear configurations).
    task_similarity_ : ndarray of shape (n_tasks, n_tasks)
        Cosine similarity of the tasks' coefficient vectors (a multiclass task's
        rows flattened in the order of its classes; for a network, its task
        heads' weights); the tasks must have the same number of outputs.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
    {structure_attributes}
    {network_attributes}

    See Also
    --------
    MultiTaskRegressor : The same penalties with the squared loss.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl import MultiTaskClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(300, 5)
    >>> tasks = np.repeat([0, 1, 2], 100)
    >>> y = (X[:, 0] + 0.3 * tasks * X[:, 1] > 0).astype(int)
    >>> clf = MultiTaskClassifier(penalty="l21", alpha=0.01).fit(X, y, tasks=tasks)
    >>> clf.score(X, y, tasks=tasks) > 0.9
    True
    >>> clf.predict_proba(X[:2], tasks=[0, 2]).shape
    (2, 2)
    """

    __doc__ = shared_doc(__doc__, precompute=False)
    _classifier = True
    _parameter_constraints = {  # precompute: the squared loss's Gram form only
        **{k: v for k, v in _MultiTaskLinear._parameter_constraints.items()
           if k != "precompute"},
        "loss": [StrOptions({"logistic", "squared_hinge"})],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    _own_params = ("class_weight",)  # it weighs the rows, for every configuration
    # every method that takes tasks requests them (a scorer on probabilities too)
    __metadata_request__predict_proba = {"tasks": True}
    __metadata_request__predict_log_proba = {"tasks": True}
    __metadata_request__decision_function = {"tasks": True}

    def __init__(self, penalty="l21", alpha="auto", *, loss="logistic", fit_intercept=True,
                 positive=False, solver="auto", max_iter=1000, tol=1e-4,
                 warm_start=False, verbose=0, backend="numpy", hidden_layer_sizes=(64,),
                 activation="tanh", dropout=0.0, batch_norm=False,
                 architecture="shared", n_experts=4, module=None,
                 loss_weighting="equal", learning_rate="auto", weight_decay=0.1,
                 batch_size="auto", max_epochs=200, early_stopping="auto",
                 validation_fraction=0.1, n_iter_no_change=10, random_state=None,
                 device="auto", dtype="float32", callbacks=None, class_weight=None,
                 unknown_task="error"):
        init_params(self, locals())

    def _loss(self):
        return LOSSES[self.loss]()

    def _fitted_coef(self, coef, intercept):
        """As the base's, with each multinomial task's intercepts centred (as
        ``LogisticRegression``'s: the softmax does not change)."""
        intercept = intercept.copy()
        for s in self._out_slices:
            if s.stop - s.start > 1:
                intercept[s] -= intercept[s].mean()
        return super()._fitted_coef(coef, intercept)

    def _encode_targets(self, table):
        """Each task's classes and targets, for all tasks at once (no loop over them
        but to hand each its own array)."""
        sizes = np.array([y.size for y in table.y])
        ends = np.cumsum(sizes)
        y = np.concatenate(table.y)
        check_targets(table, y, ends - sizes)
        task = np.repeat(np.arange(table.n_tasks), sizes)
        flat, counts, codes = self._task_classes(table, y, task)
        start = np.cumsum(counts) - counts
        if np.any(counts < 2):
            t = int(np.argmax(counts < 2))
            raise ValueError(
                f"Task {table.name(t)} has one class ({plain_label(flat[start[t]])!r}); a "
                "classifier needs at least 2 classes in every task."
            )
        many = (sizes > 20) & (counts > np.round(0.5 * sizes))
        if many.any():  # check_classification_targets' warning, for those tasks
            warnings.warn(
                "The number of unique classes is greater than 50% of the number of "
                "samples. `y` could represent a regression problem, not a "
                f"classification problem (task {table.name(int(np.argmax(many)))}).",
                UserWarning, stacklevel=3)
        self._class_flat, self._class_start = flat, start  # task t's: flat[start[t]:]
        self._classes = np.split(flat, start[1:])
        if self.class_weight is not None:
            index = start[task] + codes  # each row's class among all tasks' classes
            w = np.concatenate(table.weights) * self._class_weights(flat, counts, index, task)
            table.weights = np.split(w / np.bincount(task, w)[task], ends[:-1])
        self._check_class_weight_keys()
        if table.squeeze:
            self.classes_ = self._classes[0]
        elif table.wide:
            self.classes_ = list(self._classes)
        else:
            self.classes_ = np.unique(flat)
        return self._targets(codes, counts, ends), self._out_groups(flat, counts)

    def _task_classes(self, table, y, task):
        """All tasks' classes ``flat`` (task by task, each sorted), their numbers
        ``counts``, and each row's class index within its task."""
        given = getattr(self, "_given_classes", None)
        if given is not None:  # partial_fit(classes=...): the full label set
            outside = ~np.isin(y, given)
            if outside.any():
                t = int(task[np.argmax(outside)])
                classes = np.unique(table.y[t])
                raise ValueError(
                    f"Task {table.name(t)} has labels "
                    f"{classes[~np.isin(classes, given)].tolist()} outside classes="
                    f"{given.tolist()} given to the first partial_fit.")
            T = table.n_tasks
            return np.tile(given, T), np.full(T, given.size), np.searchsorted(given, y)
        labels, inverse = np.unique(y, return_inverse=True)
        pairs, pair = np.unique(task * labels.size + inverse, return_inverse=True)
        counts = np.bincount(pairs // labels.size, minlength=table.n_tasks)
        return labels[pairs % labels.size], counts, pair - (np.cumsum(counts) - counts)[task]

    def _targets(self, codes, counts, ends):
        """The encoded targets of each task: a column for a binary task, one a class
        for a multiclass one (+-1 for the squared hinge, else 0/1)."""
        if np.all(counts == 2):
            E = (codes == 1).astype(np.float64)[:, None]
            targets = np.split(2.0 * E - 1.0 if self.loss == "squared_hinge" else E,
                               ends[:-1])
            return targets
        targets = []
        for c, k in zip(np.split(codes, ends[:-1]), counts):
            E = (c == 1)[:, None] if k == 2 else c[:, None] == np.arange(k)
            E = E.astype(np.float64)
            targets.append(2.0 * E - 1.0 if self.loss == "squared_hinge" else E)
        return targets

    @staticmethod
    def _out_groups(flat, counts):
        """The group of each output: one for every binary task, one a class label for
        the multiclass tasks' outputs."""
        binary = np.repeat(counts == 2, counts)
        first = np.zeros(flat.size, dtype=bool)
        first[np.cumsum(counts) - counts] = True
        labels, inverse = np.unique(flat, return_inverse=True)
        names = np.array(["binary"] + [f"class {c!r}" for c in labels])
        groups = names[np.where(binary, 0, inverse + 1)[~binary | first]]
        return np.unique(groups, return_inverse=True)[1]

    def _class_weights(self, flat, counts, index, task):
        """The class weight of each row: ``class_weight``'s, or with ``"balanced"``
        ``n_t / (n_classes_t * count)`` within its task (``index``: each row's
        class in ``flat``, all tasks' classes)."""
        if self.class_weight == "balanced":
            n_t = np.bincount(task)
            return n_t[task] / (counts[task] * np.bincount(index, minlength=flat.size)[index])
        labels, inverse = np.unique(flat, return_inverse=True)
        weight = np.array([float(self.class_weight.get(plain_label(c), 1.0))
                           for c in labels])  # a loop over the labels, not the tasks
        return weight[inverse[index]]

    def _check_class_weight_keys(self):
        if not isinstance(self.class_weight, dict):
            return
        seen = {plain_label(c) for c in np.unique(self._class_flat)}
        unknown = [k for k in self.class_weight if k not in seen]
        if unknown:
            raise ValueError(
                f"class_weight has labels {unknown!r} that no task has; the tasks' "
                f"classes are {sorted(seen, key=str)!r}.")

    def _scores(self, X, t, rows, proba):
        """Per-class scores of task ``t``: decisions or probabilities, (n, K_t)."""
        return class_scores(self._decision(X, t, rows), proba)

    def _row_scores(self, X, codes, proba):
        """Long format: each row's scores over its own task's classes, with no loop
        over tasks.  Yields ``(rows, scores, first)`` for each group of rows whose
        tasks have the same number of classes ``k``: ``scores`` (n_rows, k), and
        ``first`` each row's first class in ``_class_flat``."""
        Z, width = self._own_outputs(X, codes)
        start = self._class_start
        if np.any(codes == self.n_tasks_):  # the shared model: the tasks' classes
            start = np.append(start, 0)
        groups = np.unique(width)
        for k in groups:
            rows = np.flatnonzero(width == k) if groups.size > 1 else np.arange(width.size)
            yield rows, class_scores(Z[rows, :k], proba), start[codes[rows]]

    def _collect(self, X, tasks, proba, fill):
        X, codes = self._validate_predict(X, tasks)
        if codes is None:
            out = [self._scores(X, t, None, proba) for t in range(self.n_tasks_)]
            return out[0] if self._squeeze else out
        column = np.searchsorted(self.classes_, self._class_flat)  # in the union
        out = np.full((X.shape[0], self.classes_.size), fill)
        for rows, scores, first in self._row_scores(X, codes, proba):
            out[rows[:, None], column[first[:, None] + np.arange(scores.shape[1])]] = scores
        return out

    @predict_doc
    def predict(self, X, tasks=None):
        """Predict class labels with each row's task model.

        {X_tasks}

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
        """
        X, codes = self._validate_predict(X, tasks)
        if codes is not None:  # each row's label among its own task's classes only
            out = np.empty(X.shape[0], dtype=self._class_flat.dtype)
            for rows, scores, first in self._row_scores(X, codes, proba=False):
                out[rows] = self._class_flat[first + scores.argmax(axis=1)]
            return out
        out = [self._classes[t][self._scores(X, t, None, proba=False).argmax(axis=1)]
               for t in range(self.n_tasks_)]
        return out[0] if self._squeeze else np.column_stack(out)

    def decision_function(self, X, tasks=None):
        """Decision scores.

        Returns
        -------
        scores : ndarray or list of ndarray
            A binary task gives one score per row (positive: ``classes[1]``), a
            multiclass task one per class.  Wide format: an (n_samples, n_tasks) array
            when every task is binary, else a list over tasks.  Long format: one
            score per row when every task is binary with the same two classes, else
            an (n_samples, n_classes) array over ``classes_`` (``-inf`` for classes
            outside the row's task).
        """
        scores = self._collect(X, tasks, proba=False, fill=-np.inf)
        if isinstance(scores, list):
            if all(s.shape[1] == 2 for s in scores):
                return np.column_stack([s[:, 1] for s in scores])
            return [s[:, 1] if s.shape[1] == 2 else s for s in scores]
        return scores[:, 1] if scores.shape[1] == 2 else scores

    @available_if(_is_torch)
    def partial_fit(self, X, y, classes=None, sample_weight=None, *, tasks=None):
        """One more epoch of training on this data (``backend="torch"`` only).

        Parameters
        ----------
        X, y, tasks, sample_weight
            As in :meth:`fit`.
        classes : array-like, default=None
            All the labels every task can have, needed on the first call when a
            batch may miss some of them (as in scikit-learn's ``partial_fit``).

        Returns
        -------
        self : object
        """
        if not hasattr(self, "module_"):
            self._given_classes = None if classes is None else np.unique(classes)
        return super().partial_fit(X, y, tasks=tasks, sample_weight=sample_weight)

    def _has_proba(self):
        return self.loss == "logistic"

    @available_if(_has_proba)
    def predict_proba(self, X, tasks=None):
        """Class probabilities (logistic loss only).

        Returns
        -------
        proba : ndarray or list of ndarray
            Single task or long format: (n_samples, n_classes) over ``classes_``;
            wide format: a list with one (n_samples, n_classes_t) array per task,
            as sklearn's multi-output classifiers do.
        """
        return self._collect(X, tasks, proba=True, fill=0.0)

    @available_if(_has_proba)
    def predict_log_proba(self, X, tasks=None):
        """Logarithm of :meth:`predict_proba`."""
        proba = self.predict_proba(X, tasks=tasks)
        with np.errstate(divide="ignore"):
            if isinstance(proba, list):
                return [np.log(p) for p in proba]
            return np.log(proba)

    def score(self, X, y, sample_weight=None, *, tasks=None):
        """Mean over tasks of each task's accuracy (missing labels skipped)."""
        pred = self.predict(X, tasks=tasks)
        return task_average(accuracy_score, y, pred, tasks=tasks,
                            sample_weight=sample_weight)
