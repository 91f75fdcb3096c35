"""New tasks from a fitted multi-task linear model: the part all tasks share, and
``adapt`` (one new task fit with the learned structure as its prior).

:func:`shared_coef` is the model of a task the fit never saw (``predict(...,
unknown_task="shared")``); :meth:`NewTasksMixin.adapt` fits a new task on a few rows,
shrunk to what the penalty learned (:mod:`._adapted` solves it).  See
:ref:`new_tasks`.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from .._tasks import plain_label
from ..linear._coupling import ClusteredNorm
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

    def adapt(self, X_new, y_new, sample_weight=None, *, alpha=None):
        """A model for a new task from a few of its rows, the learned structure its prior.

        The new task's coefficients shrink to what the fit learned, in the way its
        penalty shares information (a ridge on the distance to the prior, in the
        directions the structure allows):

        - ``"mean"``, ``"l2"``, ``"l1"``, ``"graph"``: to the task average;
        - ``"dirty"``: to the average of the shared part;
        - ``"trace"``: to the task average, moving only in the learned subspace
          (the right singular vectors of ``coef_`` with singular values above
          1e-6 of the largest);
        - ``"l21"``: to the task average, on the selected features only;
        - ``"cluster"``: to the nearest cluster centre, the one whose prior fits
          the new rows best out of fold (clusters: ``labels_`` where the fit sets
          it, else k-means of the tasks' coefficients).

        The estimator itself is left untouched.  See :ref:`new_tasks`.

        Parameters
        ----------
        X_new : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows of the new task, in the features of the fit.
        y_new : array-like of shape (n_samples,)
            Their targets (a classifier: labels among the tasks' shared classes,
            at least two of them).
        sample_weight : array-like of shape (n_samples,), default=None
        alpha : float, default=None
            The strength of the pull to the prior (> 0; on the mean loss, as the
            fit's ``alpha``).  None: chosen by leave-one-out (exact, closed form
            for regression; out of fold for a classifier) among a grid and ``inf``
            (the prior itself), by the one-standard-error rule: the strongest
            pull whose error is within a standard error of the least, so a few
            rows leave the prior only when they clearly show it helps (on School
            and Landmine adapt then matches or beats the shared model from 5
            rows, where the least error alone lost to it); with fewer than 3
            rows, the prior's coefficients (``alpha_ = inf``).

        Returns
        -------
        PriorRidge or PriorLogisticRegression
            Fitted, with ``predict``, ``score``, ``coef_`` (``(n_features,)`` and a
            float ``intercept_`` for regression, as ``Ridge``; ``(1, n_features)``
            or ``(n_classes, n_features)`` for a classifier, as
            ``LogisticRegression``), ``alpha_``, and for a classifier ``classes_``,
            ``predict_proba`` and ``decision_function``.
        """
        from ._adapted import PriorLogisticRegression, PriorRidge

        check_is_fitted(self, "coef_")
        if self._backend() != "numpy":
            raise ValueError(
                f"adapt needs the numpy linear model (backend='numpy'); this "
                f"{type(self).__name__} has backend={self._backend()!r}.")
        validate_data(self, X_new, accept_sparse="csr", reset=False,
                      ensure_all_finite=True)  # the fit's features
        coef, intercept, basis = new_task_prior(self)
        if self._classifier:
            if getattr(self, "loss", "logistic") != "logistic":
                raise ValueError(
                    f"adapt fits the logistic loss; this classifier has loss={self.loss!r}.")
            model = PriorLogisticRegression(coef, intercept, self._classes[0], basis=basis,
                                            alpha=alpha, fit_intercept=self.fit_intercept)
        else:
            model = PriorRidge(coef[:, 0], intercept[:, 0], basis=basis, alpha=alpha,
                               fit_intercept=self.fit_intercept)
        return model.fit(X_new, y_new, sample_weight)


def new_task_prior(est):
    """The prior a new task shrinks to, from the fitted penalty.

    Returns
    -------
    coef : ndarray of shape (n_priors, n_outputs_per_task, n_features)
        One prior, or the cluster centres.
    intercept : ndarray of shape (n_priors, n_outputs_per_task)
    basis : ndarray of shape (n_features, n_directions) or None
        The directions a new task may leave the prior in (None: all).
    """
    penalty = _penalty(est)
    coefs, intercepts = task_coefs(est)
    coef, intercept = shared_coef(est)
    coef, intercept = coef[None].astype(np.float64), intercept[None].astype(np.float64)
    basis = None
    flat = coefs.reshape(-1, coefs.shape[-1]).astype(np.float64)
    if isinstance(penalty, TraceNorm):
        _, s, Vt = np.linalg.svd(flat, full_matrices=False)
        basis = Vt[s > _RANK_TOL * s.max(initial=0.0)].T
    elif isinstance(penalty, L21):
        basis = np.eye(flat.shape[1])[:, np.any(flat != 0, axis=0)]
    elif isinstance(penalty, ClusteredNorm):
        labels = _task_clusters(est, penalty, coefs)
        n = labels.max() + 1
        counts = np.bincount(labels, minlength=n).astype(np.float64)
        onehot = (labels[:, None] == np.arange(n)) / counts  # (n_tasks, n_clusters)
        coef = np.einsum("tc,tkp->ckp", onehot, coefs.astype(np.float64))
        intercept = onehot.T @ intercepts.astype(np.float64)
    return coef, intercept, basis


def _task_clusters(est, penalty, coefs):
    """Each task's cluster: the fit's ``labels_``, else k-means of the coefficients
    (seeded: the same fit gives the same clusters)."""
    labels = getattr(est, "labels_", None)
    if labels is not None and np.shape(labels) == (coefs.shape[0],):
        return np.unique(labels, return_inverse=True)[1]
    from sklearn.cluster import KMeans

    n = min(penalty.n_clusters, coefs.shape[0])
    flat = coefs.reshape(coefs.shape[0], -1)
    return KMeans(n, n_init=10, random_state=0).fit(flat).labels_
