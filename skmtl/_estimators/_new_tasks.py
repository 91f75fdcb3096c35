"""New tasks from a fitted multi-task linear model: the part all tasks share, and
``adapt`` (one new task fit with the learned structure as its prior).

:func:`shared_coef` is the model of a task the fit never saw (``predict(...,
unknown_task="shared")``); :meth:`NewTasksMixin.adapt` fits a new task on a few rows,
shrunk to what the penalty learned (:mod:`._adapted` solves it).  See
:ref:`new_tasks`.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._tasks import plain_label
from ..linear._coupling import ClusteredNorm, MeanRegularized
from ..linear._penalties import L21, Dirty, ElasticMix, TraceNorm
from ..linear._registry import get_penalty

__all__ = ["shared_coef", "task_coefs", "NewTasksMixin"]

_RANK_TOL = 1e-6  # singular values under this fraction of the largest count as zero


def _penalty(est):
    """The fitted penalty object (a CV estimator's chosen one), an ElasticMix's
    structure its base penalty's."""
    penalty = get_penalty(getattr(est, "penalty_", est.penalty))
    if isinstance(penalty, ElasticMix) and penalty.l1_ratio > 0:
        penalty = get_penalty(penalty.penalty)
    return penalty


def task_coefs(est, coef=None):
    """Each task's coefficients and intercepts, stacked over tasks.

    Parameters
    ----------
    est : fitted MultiTaskRegressor or MultiTaskClassifier (or a CV version)
    coef : ndarray, default=None
        An array shaped as ``est.coef_`` (e.g. ``coef_shared_``); None: ``coef_``.

    Returns
    -------
    coefs : ndarray of shape (n_tasks, n_outputs_per_task, n_features)
    intercepts : ndarray of shape (n_tasks, n_outputs_per_task)

    Raises
    ------
    ValueError
        For a classifier whose tasks do not all have the same classes (their
        outputs then mean different things and cannot be compared).
    """
    check_is_fitted(est, "coef_")
    coef = est.coef_ if coef is None else coef
    coef = np.asarray(coef).reshape(-1, np.shape(coef)[-1])
    intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=coef.dtype))
    if est._classifier:
        _check_same_classes(est)
    slices = est._out_slices
    idx = np.array([np.arange(s.start, s.stop) for s in slices])  # equal widths
    return coef[idx], intercept[idx]


def _check_same_classes(est):
    first = est._classes[0]
    for t, classes in enumerate(est._classes[1:], start=1):
        if classes.shape != first.shape or np.any(classes != first):
            names = est.tasks_ if est.tasks_ is not None else range(est.n_tasks_)
            a, b = plain_label(names[0]), plain_label(names[t])
            raise ValueError(
                f"The tasks do not share their classes (task {a!r} has "
                f"{[plain_label(c) for c in first]}, task {b!r} "
                f"{[plain_label(c) for c in classes]}), so there is no shared model "
                "of their outputs; a new task needs tasks with the same classes.")


def shared_coef(est):
    """The part of a fitted multi-task linear model common to all tasks.

    It is the model of a task the fit never saw: ``predict(X, tasks=...,
    unknown_task="shared")`` uses it, and :meth:`~NewTasksMixin.adapt` shrinks a
    new task towards it.  Its meaning follows the penalty:

    - ``"mean"``: the learned mean model :math:`\\bar w` the penalty pulls every
      task to (it weighs the tasks equally, so it is the task average of
      ``coef_``);
    - ``"dirty"``: the task average of the shared part ``coef_shared_`` (the
      task-specific exceptions left out);
    - ``"l21"``: the task average, which is zero off the selected features;
    - ``"trace"``: the task average, which lies in the learned low-rank subspace;
    - ``"cluster"``: the task average (the centre of the cluster centres);
    - ``"l1"``, ``"l2"``, ``"graph"`` and others: the task average.

    The intercept is the task average of the intercepts.

    Parameters
    ----------
    est : fitted MultiTaskRegressor, MultiTaskClassifier or their CV versions
        With a classifier, every task must have the same classes.

    Returns
    -------
    coef : ndarray of shape (n_outputs_per_task, n_features)
        One row for regression and binary tasks, one a class for multiclass ones.
    intercept : ndarray of shape (n_outputs_per_task,)
    """
    coefs, intercepts = task_coefs(est)
    if isinstance(_penalty(est), Dirty) and hasattr(est, "coef_shared_"):
        coefs = task_coefs(est, est.coef_shared_)[0]
    return coefs.mean(axis=0), intercepts.mean(axis=0)


class NewTasksMixin:
    """``adapt`` and the shared model, for the multi-task linear estimators."""
