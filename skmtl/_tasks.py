"""The one place that turns ``(X, Y)`` or ``(X, y, tasks)`` into per-task row sets.

Two input formats reach every estimator:

* **wide**: shared ``X`` and a 2-D ``Y`` of shape (n_samples, n_tasks), one column a
  task, a missing label (``NaN`` or ``None``) leaving that row out of that task only;
* **long**: ``X``, a 1-D ``y`` and ``tasks``, one task label per row.

A 1-D ``y`` without ``tasks`` is a single task (so every estimator can stand in for a
single-task one).  Both formats become a :class:`TaskTable`; the long format never
builds an (n_samples, n_tasks) array.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _check_sample_weight, check_array

__all__ = ["TaskTable", "split_tasks", "encode_tasks", "is_missing"]


def _missing_scalar(v):
    # None, a float NaN (numpy's included), pandas' NA and NaT; never `v != v` on
    # pandas' NA, whose truth value raises
    return (v is None or (isinstance(v, float) and v != v)
            or type(v).__name__ in ("NAType", "NaTType"))


def is_missing(y):
    """Boolean mask of missing labels: NaN in float arrays; None, NaN or pandas'
    ``NA`` / ``NaT`` in object ones."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype.kind == "O":
        flat = [_missing_scalar(v) for v in y.ravel()]
        return np.asarray(flat, dtype=bool).reshape(y.shape)
    return np.zeros(y.shape, dtype=bool)


def plain_label(label):
    """A task label as a plain Python value (``'a'``, not ``np.str_('a')``)."""
    return label.item() if isinstance(label, np.generic) else label


def _name(label):
    """How a message names a task: ``'a'`` or ``3``."""
    return repr(plain_label(label))


def _rows_text(mask):
    rows = np.flatnonzero(mask)
    more = f" and {rows.size - 5} more" if rows.size > 5 else ""
    return f"row{'s' if rows.size > 1 else ''} {', '.join(map(str, rows[:5]))}{more}"


def _check_task_labels(tasks, when, fitted=None):
    """``tasks`` validated, with a message naming the rows of any missing label.

    ``when``: "fit" or "predict"; ``fitted``: the labels seen in fit, listed in the
    message at predict time.
    """
    tasks = np.asarray(tasks)
    if tasks.ndim == 1 and tasks.dtype.kind in "fO":
        missing = is_missing(tasks)
        if missing.any():
            if when == "fit":
                advice = "drop those rows, or give them a task label"
            else:
                seen = ", ".join(_name(v) for v in fitted[:5]) + ", ..." * (len(fitted) > 5)
                advice = f"predict needs one of the fitted tasks (tasks_: {seen}) for every row"
            raise ValueError(
                f"tasks has a missing task label (None, NaN or <NA>) at "
                f"{_rows_text(missing)} of {tasks.size}: {advice}.")
    return check_array(tasks, ensure_2d=False, dtype=None, input_name="tasks")


@dataclass
class TaskTable:
    """Per-task views of a data set.

    Attributes
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
        The design; in long format its rows are sorted by task (a copy is made only
        when the input is not already grouped by task).
    rows : list
        One row selector into ``X`` per task: a slice (long format) or a boolean
        mask (wide format).
    y : list of ndarray
        The labels present for each task.
    weights : list of ndarray
        Sample weights of each task's rows, normalised to sum to one per task.
    labels : ndarray or None
        Task labels (long format), ``None`` in wide format.
    squeeze : bool
        True when ``y`` was 1-D without tasks (outputs are returned 1-D).
    totals : ndarray of shape (n_tasks,) or None
        Each task's total raw sample weight (its row count when unweighted): the
        ``n`` of data-relative defaults, so that integer weights and repeated rows
        give the same fit.
    """

    X: object
    rows: list
    y: list
    weights: list
    labels: object
    squeeze: bool
    totals: object = None

    @property
    def wide(self):
        return self.labels is None

    @property
    def n_tasks(self):
        return len(self.y)

    @property
    def names(self):
        """Each task's label as a plain Python value (its column in wide format)."""
        if self.labels is None:
            return list(range(self.n_tasks))
        return [plain_label(v) for v in self.labels]

    def name(self, t):
        """How a message names task ``t``: ``'a'``, ``3``, ``column 2`` or ``0``."""
        if self.labels is not None:
            return _name(self.labels[t])
        return f"column {t}" if not self.squeeze else "0"


def _check_y(y, n_samples, classifier):
    y = check_array(
        y,
        ensure_2d=False,
        dtype=None if classifier else np.float64,
        ensure_all_finite="allow-nan" if not classifier else False,
        input_name="y",
    )
    if y.ndim > 2:
        raise ValueError(f"y must be 1-D or 2-D, got an array of shape {y.shape}.")
    if y.shape[0] != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {n_samples} and {y.shape[0]}."
        )
    if classifier and y.dtype.kind == "f" and np.isinf(y).any():
        raise ValueError("Input y contains infinity.")
    return y


def _normalise(w, name):
    total = w.sum()
    if not total > 0:
        raise ValueError(f"Task {name} has zero total sample weight.")
    return w / total


def _check_rows(n_rows, name):
    if n_rows < 2:
        raise ValueError(
            f"Task {name} has {n_rows} sample(s) with a label; at least 2 are needed "
            f"(n_samples = {n_rows})."
        )


def split_tasks(X, y, tasks=None, sample_weight=None, *, classifier=False):
    """Validate ``y``/``tasks``/``sample_weight`` against a validated ``X``.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
        Already validated by ``validate_data``.
    y : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Targets; a 2-D ``y`` is the wide format.
    tasks : array-like of shape (n_samples,), default=None
        Task label of each row (long format).
    sample_weight : array-like of shape (n_samples,), default=None
    classifier : bool, default=False
        Whether labels may be strings.

    Returns
    -------
    TaskTable
    """
    n = X.shape[0]
    if y is None:
        raise ValueError("This estimator requires y to be passed, but the target y is None.")
    y = _check_y(y, n, classifier)
    sw = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
    if tasks is not None:
        if y.ndim == 2 and y.shape[1] != 1:
            raise ValueError(
                "tasks= is for the long format with a 1-D y; got a 2-D y of shape "
                f"{y.shape}. Give either a 2-D Y (one column a task) or tasks=, not both."
            )
        return _split_long(X, y.reshape(-1), tasks, sw)
    squeeze = y.ndim == 1
    Y = y.reshape(n, -1)
    missing = is_missing(Y)
    rows, ys, ws, totals = [], [], [], []
    for t in range(Y.shape[1]):
        present = ~missing[:, t] & (sw > 0)  # a zero weight is a missing label
        name = f"column {t}" if not squeeze else "0"
        if not present.any():
            raise ValueError(
                f"Task {name} of Y has no label: every value is missing (or weighs 0)."
            )
        _check_rows(int(present.sum()), name)
        rows.append(present)
        yt = Y[present, t]
        ys.append(yt.astype(np.float64) if not classifier else yt)
        ws.append(_normalise(sw[present], name))
        totals.append(float(sw[present].sum()))
    return TaskTable(X, rows, ys, ws, None, squeeze, totals=np.array(totals))


def _split_long(X, y, tasks, sw):
    tasks = _check_task_labels(tasks, "fit")
    if tasks.ndim != 1:
        raise ValueError(f"tasks must be 1-D, got shape {tasks.shape}.")
    if tasks.shape[0] != X.shape[0]:
        raise ValueError(
            "X and tasks have inconsistent numbers of samples: "
            f"{X.shape[0]} and {tasks.shape[0]}."
        )
    try:
        labels, codes = np.unique(tasks, return_inverse=True)
    except TypeError as exc:  # e.g. ints and strings, or None, in an object array
        kinds = sorted({type(v).__name__ for v in tasks})
        raise TypeError(
            f"tasks mix labels of types {kinds} that cannot be sorted: give every task "
            "label one type (all int or all str), with no None."
        ) from exc
    keep = ~is_missing(y) & (sw > 0)
    if not keep.all():  # a task left with no row is reported below, not dropped
        X, y, codes, sw = X[keep], y[keep], codes[keep], sw[keep]
    if np.any(codes[1:] < codes[:-1]):
        order = np.argsort(codes, kind="stable")
        X, y, codes, sw = X[order], y[order], codes[order], sw[order]
    starts = np.searchsorted(codes, np.arange(len(labels) + 1))
    sizes = np.diff(starts)
    if np.any(sizes < 2):  # every task at once; the first short one named
        t = int(np.argmax(sizes < 2))
        _check_rows(int(sizes[t]), _name(labels[t]))
    total = np.add.reduceat(sw, starts[:-1])  # > 0: rows of weight 0 are left out
    bounds = starts.tolist()
    rows = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    ys = np.split(y, bounds[1:-1])
    ws = np.split(sw / np.repeat(total, sizes), bounds[1:-1])
    return TaskTable(X, rows, ys, ws, labels, False, totals=total)


def encode_tasks(labels, tasks, n_samples, unknown="error"):
    """Map task labels given at predict time to task indices.

    ``unknown``: ``"error"`` raises a ``ValueError`` naming any task not seen in
    fit; ``"shared"`` gives such rows the index ``len(labels)`` (the model common
    to all tasks).  Labels of another type than in fit are refused either way.
    """
    tasks = _check_task_labels(tasks, "predict", labels)
    if tasks.ndim != 1 or tasks.shape[0] != n_samples:
        raise ValueError(
            f"tasks must be 1-D with one label per row of X ({n_samples}); "
            f"got shape {tasks.shape}."
        )
    try:
        codes = np.searchsorted(labels, tasks)
    except TypeError as exc:
        raise ValueError(
            f"tasks given to predict are of type {tasks.dtype} ({_name(tasks[0])}, ...), "
            f"unlike the tasks seen in fit (tasks_: {labels.dtype}, {_name(labels[0])}, "
            "...): give the task labels used in fit.") from exc
    codes = np.minimum(codes, len(labels) - 1)
    unknown_rows = labels[codes] != tasks
    if not np.any(unknown_rows):
        return codes
    if unknown == "shared":
        codes[unknown_rows] = len(labels)
        return codes
    names = ", ".join(_name(v) for v in np.unique(tasks[unknown_rows])[:5])
    seen = ", ".join(_name(v) for v in labels[:5]) + ", ..." * (len(labels) > 5)
    raise ValueError(
        f"Unknown task(s) {names}: not seen in fit (tasks_: {seen}).  Set "
        "unknown_task='shared' to predict them with the part of the model common to "
        "all tasks.")


def task_rows(codes, n_tasks):
    """Row indices of each task present in ``codes``, as (task, rows) pairs."""
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_tasks + 1))
    for t in range(n_tasks):
        if bounds[t + 1] > bounds[t]:
            yield t, order[bounds[t] : bounds[t + 1]]


def take_rows(X, rows):
    """``X[rows]`` for dense or sparse ``X`` and a slice, mask or index array."""
    if sp.issparse(X) and isinstance(rows, np.ndarray) and rows.dtype == bool:
        rows = np.flatnonzero(rows)
    return X[rows]


def check_scale(A, name, dtype=np.float64, squared=True):
    """Reject values so large that a model's arithmetic in ``dtype`` would overflow.

    ``squared``: the values enter sums of squares (``X^T X``, the squared loss), so
    they must stay below ``1e-8 * sqrt(max(dtype) / A.size)`` (the margin covers the
    solvers' other products); otherwise they need only fit in ``dtype`` (a network's
    input).  Past the bound the solvers would return NaN or inf, or fail deep inside
    LAPACK, instead of saying why.
    """
    data = A.data if sp.issparse(A) else np.asarray(A)
    if data.size == 0:
        return
    top = max(float(data.max()), -float(data.min()))  # no |data| copy
    big = float(np.finfo(dtype).max)
    limit = 1e-8 * np.sqrt(big / data.size) if squared else big
    if top > limit:
        raise ValueError(
            f"{name} has values as large as {top:.3g} in magnitude, beyond what this "
            f"model's {np.dtype(dtype).name} arithmetic takes ({limit:.3g}): scale "
            f"{name} (e.g. with StandardScaler)."
        )
