"""Task-aware metrics and scorers.

scikit-learn's named scorers (``scoring="r2"``) route metadata such as ``tasks`` to
the metric function only, never to ``predict``: a long-format multi-task model
would then be asked to predict without its task ids.  The scorers made here request
``tasks``, pass them to ``predict`` and average the metric over tasks.
"""

import numpy as np
from sklearn.utils.metadata_routing import _MetadataRequester

from ._tasks import is_missing

__all__ = ["task_average", "make_task_scorer", "TaskScorer"]


def _per_task(y_true, y_pred, tasks, sample_weight):
    """Yield ``(y_true_t, y_pred_t, sample_weight_t)`` for every task."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    sw = None if sample_weight is None else np.asarray(sample_weight)
    if tasks is not None:
        tasks = np.asarray(tasks)
        for label in np.unique(tasks):
            rows = tasks == label
            yield y_true[rows], y_pred[rows], None if sw is None else sw[rows]
        return
    if y_true.ndim == 1:
        keep = ~is_missing(y_true)
        yield y_true[keep], y_pred[keep], None if sw is None else sw[keep]
        return
    if y_pred.ndim != 2 or y_pred.shape[1] != y_true.shape[1]:
        raise ValueError(
            f"y_pred of shape {y_pred.shape} does not match y_true of shape {y_true.shape}."
        )
    missing = is_missing(y_true)
    for t in range(y_true.shape[1]):
        keep = ~missing[:, t]
        yield y_true[keep, t], y_pred[keep, t], None if sw is None else sw[keep]


def task_average(metric, y_true, y_pred, *, tasks=None, sample_weight=None, **kwargs):
    """Mean over tasks of ``metric`` computed on each task's rows.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_pred, **kwargs)``, e.g. ``sklearn.metrics.r2_score``.
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Long format with ``tasks``, or wide format (missing labels are skipped).
    tasks : array-like of shape (n_samples,), default=None
        Task of each row (long format).
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float

    Examples
    --------
    >>> from sklearn.metrics import mean_absolute_error
    >>> from skmtl.metrics import task_average
    >>> task_average(mean_absolute_error, [1, 2, 3, 4], [1, 2, 3, 6], tasks=[0, 0, 1, 1])
    0.5
    """
    scores = []
    for yt, pt, wt in _per_task(y_true, y_pred, tasks, sample_weight):
        if wt is not None:
            scores.append(metric(yt, pt, sample_weight=wt, **kwargs))
        else:
            scores.append(metric(yt, pt, **kwargs))
    return float(np.mean(scores))


class TaskScorer(_MetadataRequester):
    """A scorer that passes ``tasks`` to ``predict`` and averages over tasks.

    Made by :func:`make_task_scorer`; it requests ``tasks`` by default, so
    ``GridSearchCV(..., scoring=scorer).fit(X, y, tasks=ids)`` routes them once
    metadata routing is enabled.
    """

    __metadata_request__score = {"tasks": True, "sample_weight": None}

    def __init__(self, metric, sign=1, response_method="predict", kwargs=None):
        self.metric = metric
        self.sign = sign
        self.response_method = response_method
        self.kwargs = kwargs or {}

    def __repr__(self):
        return f"make_task_scorer({getattr(self.metric, '__name__', self.metric)})"

    def __call__(self, estimator, X, y_true, tasks=None, sample_weight=None):
        method = getattr(estimator, self.response_method)
        y_pred = method(X) if tasks is None else method(X, tasks=tasks)
        if self.response_method == "predict_proba" and isinstance(y_pred, np.ndarray):
            if y_pred.ndim == 2 and y_pred.shape[1] == 2:
                y_pred = y_pred[:, 1]
        score = task_average(
            self.metric, y_true, y_pred, tasks=tasks, sample_weight=sample_weight,
            **self.kwargs,
        )
        return self.sign * score

    def score(self, estimator, X, y_true, tasks=None, sample_weight=None):
        """Same as calling the scorer (gives the metadata request its signature)."""
        return self(estimator, X, y_true, tasks=tasks, sample_weight=sample_weight)


def make_task_scorer(metric, *, greater_is_better=True, response_method="predict",
                     **kwargs):
    """Make a task-aware scorer from a metric, like ``sklearn.metrics.make_scorer``.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_pred, **kwargs)``.
    greater_is_better : bool, default=True
        If False the score is negated, as sklearn does for losses.
    response_method : {"predict", "predict_proba", "decision_function"}, default="predict"
        The estimator method whose output the metric takes.  With
        ``"predict_proba"`` on a binary long-format classifier, the probability of
        the positive class is passed.
    **kwargs
        Passed to ``metric``.

    Returns
    -------
    TaskScorer

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import r2_score
    >>> from skmtl import MultiTaskRegressor
    >>> from skmtl.metrics import make_task_scorer
    >>> rng = np.random.RandomState(0)
    >>> X, tasks = rng.randn(60, 3), np.repeat(["a", "b"], 30)
    >>> y = X @ [1.0, 2.0, 0.0] + (tasks == "b")
    >>> model = MultiTaskRegressor(alpha=0.01).fit(X, y, tasks=tasks)
    >>> scorer = make_task_scorer(r2_score)
    >>> round(scorer(model, X, y, tasks=tasks), 2)
    1.0
    """
    return TaskScorer(metric, 1 if greater_is_better else -1, response_method, kwargs)
