"""MultiTaskClassifier: the linear core with classification losses."""

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
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
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
                 warm_start=False, verbose=0, backend="numpy", hidden_layer_sizes=(100,),
                 activation="relu", dropout=0.0, batch_norm=False,
                 architecture="shared", n_experts=4, module=None,
                 loss_weighting="equal", learning_rate=1e-3, weight_decay=1e-4,
                 batch_size="auto", max_epochs=200, early_stopping=False,
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
        self._classes, targets, groups = [], [], []
        for t, y in enumerate(table.y):
            check_classification_targets(y)
            classes, codes = np.unique(y, return_inverse=True)
            given = getattr(self, "_given_classes", None)
            if given is not None:  # partial_fit(classes=...): the full label set
                if not np.isin(classes, given).all():
                    raise ValueError(
                        f"Task {table.name(t)} has labels "
                        f"{classes[~np.isin(classes, given)].tolist()} outside classes="
                        f"{given.tolist()} given to the first partial_fit.")
                classes, codes = given, np.searchsorted(given, y)
            if classes.size < 2:
                raise ValueError(
                    f"Task {table.name(t)} has one class ({plain_label(classes[0])!r}); a "
                    "classifier needs at least 2 classes in every task."
                )
            self._classes.append(classes)
            if self.class_weight is not None:
                weights = table.weights[t] * self._class_weights(classes, codes)[codes]
                table.weights[t] = weights / weights.sum()
            if classes.size == 2:
                E = (codes == 1).astype(np.float64)[:, None]
                groups.append("binary")
            else:
                E = (codes[:, None] == np.arange(classes.size)).astype(np.float64)
                groups.extend(f"class {c!r}" for c in classes)
            targets.append(2.0 * E - 1.0 if self.loss == "squared_hinge" else E)
        self._check_class_weight_keys()
        if table.squeeze:
            self.classes_ = self._classes[0]
        elif table.wide:
            self.classes_ = list(self._classes)
        else:
            self.classes_ = np.unique(np.concatenate(self._classes))
        return targets, np.unique(groups, return_inverse=True)[1]

    def _class_weights(self, classes, codes):
        """The weight of each of a task's classes: ``class_weight``'s, or with
        ``"balanced"`` ``n_t / (n_classes_t * count)`` within the task."""
        if self.class_weight == "balanced":
            counts = np.bincount(codes, minlength=classes.size)
            return codes.size / (classes.size * np.maximum(counts, 1))
        return np.array([float(self.class_weight.get(plain_label(c), 1.0))
                         for c in classes])

    def _check_class_weight_keys(self):
        if not isinstance(self.class_weight, dict):
            return
        seen = {plain_label(c) for classes in self._classes for c in classes}
        unknown = [k for k in self.class_weight if k not in seen]
        if unknown:
            raise ValueError(
                f"class_weight has labels {unknown!r} that no task has; the tasks' "
                f"classes are {sorted(seen, key=str)!r}.")

    def _scores(self, X, t, rows, proba):
        """Per-class scores of task ``t``: decisions or probabilities, (n, K_t)."""
        return class_scores(self._decision(X, t, rows), proba)

    def _collect(self, X, tasks, proba, fill):
        X, codes = self._validate_predict(X, tasks)
        if codes is None:
            out = [self._scores(X, t, None, proba) for t in range(self.n_tasks_)]
            return out[0] if self._squeeze else out
        union = self.classes_

        def per_task(t, rows):
            scores = self._scores(X, t, rows, proba)
            full = np.full((scores.shape[0], union.size), fill)
            full[:, np.searchsorted(union, self._classes[t])] = scores
            return full

        return self._assemble(per_task, codes, X.shape[0])

    @predict_doc
    def predict(self, X, tasks=None):
        """Predict class labels with each row's task model.

        {X_tasks}

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
        """
        X, codes = self._validate_predict(X, tasks)

        def labels(t, rows):  # each row's label among its own task's classes only
            return self._classes[t][self._scores(X, t, rows, proba=False).argmax(axis=1)]

        out = self._assemble(labels, codes, X.shape[0])
        if codes is not None:
            return out
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
