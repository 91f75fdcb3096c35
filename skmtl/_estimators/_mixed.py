"""MultiTaskEstimator: classification and regression tasks in one network."""

import warnings
from numbers import Real

import numpy as np
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import ClassifierTags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target

from .._tasks import is_missing, plain_label
from ..base import init_params
from ._base import _MultiTaskLinear
from ._classifier import class_scores
from ._params import LINEAR_CONSTRAINTS, TORCH_CONSTRAINTS


class MultiTaskEstimator(_MultiTaskLinear):
    """One network for tasks of different types: the e-commerce case.

    "Will this user buy?" (classification) and "how much will they spend?"
    (regression) from one X, with a shared trunk and a head per task: a
    classification task trains on the logistic / multinomial loss, a regression
    task on the squared error of its standardised target (each target's weighted
    mean and deviation are removed in fit and put back by ``predict``, so a target
    in dollars does not dominate the shared loss), each task's loss its mean over
    its rows.  The task formats, metadata routing and the network parameters are
    those of ``MultiTaskClassifier(backend="torch")``; a pandas DataFrame Y names
    the tasks by its columns and keeps each column's label dtype.

    Parameters
    ----------
    task_types : dict, list or None, default=None
        ``"classification"`` or ``"regression"`` for each task: a dict keyed by
        task label (long format), or by column name (a DataFrame Y) or index
        (wide format), or a list in task order.  ``None`` infers each task's type from its labels (continuous values
        make a regression task).
    Other parameters
        The torch-backend parameters of :class:`~skmtl.MultiTaskClassifier`
        (``hidden_layer_sizes``, ``loss_weighting``, ``max_epochs``, ...).

    Attributes
    ----------
    task_types_ : list of str
        The type of each task, in the order of ``tasks_`` (or of the columns of Y).
    task_names_ : list
        The tasks' names: Y's column names (a DataFrame), its column indices (a
        2-D array), or ``tasks_`` (long format); the keys of ``predict``'s dict.
    classes_ : list
        The classes of each classification task (``None`` for regression tasks).
    tasks_, n_tasks_, module_, loss_curve_, task_loss_curve_, n_iter_
        As in :class:`~skmtl.MultiTaskClassifier` with ``backend="torch"``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl import MultiTaskEstimator
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(400, 5)
    >>> buy = (X[:, 0] > 0).astype(int)
    >>> spend = 2 * X[:, 0] + X[:, 1]
    >>> Y = np.column_stack([buy, spend])
    >>> model = MultiTaskEstimator(max_epochs=50, random_state=0).fit(X, Y)
    >>> model.task_types_
    ['classification', 'regression']
    >>> pred = model.predict(X[:2])
    >>> list(pred), pred[0].dtype, pred[1].dtype
    ([0, 1], dtype('float64'), dtype('float64'))
    """

    _classifier = True  # labels may be strings
    _parameter_constraints = {
        **{k: v for k, v in TORCH_CONSTRAINTS.items() if k != "backend"},
        **{k: LINEAR_CONSTRAINTS[k] for k in ("tol", "warm_start", "verbose")},
        "task_types": [dict, list, None],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "learning_rate": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
    }
    _own_params = ("task_types",)
    __metadata_request__predict_proba = {"tasks": True}

    def __init__(self, task_types=None, *, hidden_layer_sizes=(64,), activation="tanh",
                 dropout=0.0, batch_norm=False, architecture="shared", n_experts=4,
                 module=None, loss_weighting="equal", learning_rate="auto",
                 weight_decay=0.1, batch_size="auto", max_epochs=200,
                 early_stopping="auto", validation_fraction=0.1, n_iter_no_change=10,
                 tol=1e-4, random_state=None, device="auto", dtype="float32",
                 warm_start=False, verbose=0, callbacks=None):
        init_params(self, locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # neither a classifier nor a regressor, but its predict_proba is a classifier's
        tags.classifier_tags = ClassifierTags()
        return tags

    def _backend(self):
        return "torch"

    def _engine_class(self, network=None):
        # hidden_layer_sizes=(): linear heads on X, trained as a network
        return super()._engine_class(network=True)

    # inferred task types: past this many distinct numbers, a column of integers is
    # a quantity (dollars, counts), not class labels
    _max_inferred_classes = 20

    def _tables(self, X, y, tasks, sample_weight, reset=True):
        # a DataFrame Y: task names from its columns, labels of each column's dtype
        self._frame = None  # read by _encode_targets
        if tasks is None and hasattr(y, "columns") and getattr(y, "ndim", 1) == 2:
            self._frame = ([np.asarray(y[c]) for c in y.columns],
                           [plain_label(c) for c in y.columns])
            y = np.empty(y.shape, dtype=object)
            for j, col in enumerate(self._frame[0]):
                y[:, j] = col
        try:
            table, targets, groups = super()._tables(X, y, tasks, sample_weight, reset)
            self.task_names_ = self._frame[1] if self._frame else table.names
        finally:
            del self._frame
        return table, targets, groups

    def _type_of(self, table, t, y, keys):
        if self.task_types is not None:
            if isinstance(self.task_types, list):
                if len(self.task_types) != table.n_tasks:
                    raise ValueError(
                        f"task_types lists {len(self.task_types)} types for "
                        f"{table.n_tasks} tasks; give one per task, in the order of "
                        "tasks_ (or of the columns of Y), or a dict keyed by task.")
                kind = self.task_types[t]
            else:
                found = [k for k in keys if k in self.task_types]
                if not found:
                    raise ValueError(
                        f"task_types has no entry for task {keys[0]!r} (its keys: "
                        f"{sorted(map(repr, self.task_types))}); key it by task label "
                        "(long format), by Y's column name (a DataFrame) or index.")
                kind = self.task_types[found[0]]
            if kind not in ("classification", "regression"):
                raise ValueError(f"task_types gives {kind!r} for task {keys[0]!r}; "
                                 "expected 'classification' or 'regression'.")
            return kind
        kind = type_of_target(y)
        if kind.startswith("continuous"):
            return "regression"
        n_values = np.unique(y).size
        if kind == "multiclass" and np.asarray(y).dtype.kind in "iuf" \
                and n_values > self._max_inferred_classes:
            warnings.warn(
                f"Task {keys[0]!r} has {n_values} distinct integer values: taken as a "
                "regression task (a quantity, not class labels).  Pass task_types to "
                "choose.", UserWarning)
            return "regression"
        return "classification"

    def _encode_targets(self, table):
        self._classes, self.task_types_, targets = [], [], []
        for t, y in enumerate(table.y):
            if self._frame is not None:  # the column's own dtype, not object
                y = self._frame[0][t][table.rows[t]]
                keys = (self._frame[1][t], t)
            else:
                keys = (t,) if table.labels is None else (plain_label(table.labels[t]),)
            kind = self._type_of(table, t, y, keys)
            self.task_types_.append(kind)
            if kind == "regression":
                targets.append(np.asarray(y, dtype=np.float64)[:, None])
                self._classes.append(None)
                continue
            classes, codes = np.unique(y, return_inverse=True)
            if classes.size < 2:
                raise ValueError(f"Task {table.name(t)} has one class "
                                 f"({plain_label(classes[0])!r}); a "
                                 "classification task needs at least 2.")
            self._classes.append(classes)
            E = (codes == 1)[:, None] if classes.size == 2 \
                else codes[:, None] == np.arange(classes.size)
            targets.append(E.astype(np.float64))
        self.classes_ = list(self._classes)
        return targets, np.zeros(sum(E.shape[1] for E in targets), dtype=int)

    def _regression_tasks(self, table):
        return [kind == "regression" for kind in self.task_types_]

    def _task_predict(self, X, t, rows):
        return self._task_labels(self._decision(X, t, rows), t)

    def _long_outputs(self, X, codes):
        """``per_task(t, rows) -> Z`` over one pass of the network (long format):
        each task's outputs sliced from every row's own, not a pass a task."""
        Z, _ = self._own_outputs(X, codes)
        widths = [s.stop - s.start for s in self._out_slices]
        return lambda t, rows: Z[rows, :widths[t]]

    def _task_labels(self, Z, t):
        if self._classes[t] is None:
            return Z[:, 0]
        idx = (Z[:, 0] > 0).astype(int) if Z.shape[1] == 1 else Z.argmax(axis=1)
        return self._classes[t][idx]

    def predict(self, X, tasks=None):
        """Predict every task: values for regression tasks, labels for the others.

        Returns
        -------
        y_pred : dict or ndarray
            Wide format (a 2-D Y in fit): a dict ``{task name: (n_samples,) array}``
            in task order, keyed by ``task_names_`` (Y's column names for a
            DataFrame, else the column indices), each array of its task's dtype
            (float values, or labels of the dtype of that task's classes);
            ``pandas.DataFrame(model.predict(X))`` makes a frame of it.  Long format
            (``tasks=``): one (n_samples,) array, of object dtype when both types'
            rows are asked for.  One task from a 1-D y: its (n_samples,) array.
        """
        X, codes = self._validate_predict(X, tasks)
        if codes is None:
            out = self._assemble(lambda t, rows: self._task_predict(X, t, rows), codes,
                                 X.shape[0])
        else:
            Z, kind = self._long_outputs(X, codes), len(set(self.task_types_)) > 1
            out = self._assemble(  # both types' rows: one array of object dtype
                lambda t, rows: self._task_labels(Z(t, rows), t).astype(object)
                if kind else self._task_labels(Z(t, rows), t), codes, X.shape[0])
        if codes is not None:
            return out
        return out[0] if self._squeeze else dict(zip(self.task_names_, out))

    def predict_proba(self, X, tasks=None):
        """Class probabilities of the classification tasks.

        Returns
        -------
        proba : dict or ndarray
            Wide format: a dict ``{task name: (n_samples, n_classes_t) array}`` over
            the classification tasks only (each over its ``classes_[t]``).  Long
            format (every row of a classification task): (n_samples, n_classes)
            over the union of those tasks' classes, zero for a class its row's task
            lacks.  One task from a 1-D y: its (n_samples, n_classes) array.
        """
        X, codes = self._validate_predict(X, tasks)
        if codes is None:
            out = {name: class_scores(self._decision(X, t, None), True)
                   for t, name in enumerate(self.task_names_)
                   if self._classes[t] is not None}
            if self._squeeze:
                if not out:
                    raise ValueError("The task is a regression task: it has no class "
                                     "probabilities.")
                return next(iter(out.values()))
            return out
        regression = [self.tasks_[t].item() if hasattr(self.tasks_[t], "item") else self.tasks_[t]
                      for t in np.unique(codes) if self._classes[t] is None]
        if regression:
            raise ValueError(f"Rows of regression task {regression[0]!r} have no class "
                             "probabilities; pass rows of classification tasks only.")
        union = np.unique(np.concatenate([self._classes[t] for t in np.unique(codes)]))
        Z = self._long_outputs(X, codes)

        def per_task(t, rows):
            scores = class_scores(Z(t, rows), True)
            full = np.zeros((scores.shape[0], union.size))
            full[:, np.searchsorted(union, self._classes[t])] = scores
            return full

        return self._assemble(per_task, codes, X.shape[0])

    def score(self, X, y, sample_weight=None, *, tasks=None):
        """Mean over tasks of the accuracy (classification) or R^2 (regression)."""
        pred = self.predict(X, tasks=tasks)
        if hasattr(y, "columns"):  # a DataFrame: each column as its own array
            y = np.column_stack([np.asarray(y[c], dtype=object) for c in y.columns])
        y = np.asarray(y, dtype=object if np.asarray(y).dtype.kind == "O" else None)
        scores = []
        for t in range(self.n_tasks_):
            if tasks is not None:
                rows = np.asarray(tasks) == self.tasks_[t]
                yt, pt = y[rows], pred[rows]
            else:
                yt = y if y.ndim == 1 else y[:, t]
                pt = pred[self.task_names_[t]] if isinstance(pred, dict) else pred
                keep = ~is_missing(yt)
                yt, pt = yt[keep], pt[keep]
            if yt.size == 0:
                continue
            if self.task_types_[t] == "regression":
                scores.append(r2_score(yt.astype(float), pt.astype(float)))
            else:
                scores.append(accuracy_score(yt.astype(str), pt.astype(str)))
        return float(np.mean(scores))

