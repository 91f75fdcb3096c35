"""Refuse, at fit time, a model selection search whose scorer cannot see the tasks.

scikit-learn's named scorers (``scoring="r2"``, ``"roc_auc"``) call ``predict(X)``
without ``tasks``, and score a wide ``Y`` with missing labels (NaN) as a whole: in
a search over a long-format or NaN-labelled fit every candidate scores NaN, and
the search "succeeds" with the first one.  sklearn catches every exception a
scorer raises, so the refusal comes earlier, from ``fit``: when the fit runs
inside sklearn's ``_fit_and_score`` (``GridSearchCV``, ``RandomizedSearchCV``,
``cross_validate``, ``validation_curve``, ``learning_curve``, in the calling
process or a joblib worker), its ``scorer`` is read from that frame.  Every fit
then fails at once with the message below, and sklearn raises "All the N fits
failed" with it (or the error itself with ``error_score="raise"``).

A frame is the one place where the scorer of a fit can be read: sklearn passes it
to ``_fit_and_score`` only, not to the estimator nor through metadata routing.  If
a later sklearn renames the function or its argument, the check finds no frame and
lets the fit run (the search then scores NaN, as without this module).
"""

import sys

import numpy as np

from ._tasks import is_missing


def _fit_and_score_code():
    from sklearn.model_selection import _validation

    fn = getattr(_validation, "_fit_and_score", None)
    return getattr(fn, "__code__", None)


def _search_scorer():
    """The ``scorer`` of the innermost ``_fit_and_score`` calling this fit, or None."""
    code = _fit_and_score_code()
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code is code:
            return frame.f_locals.get("scorer")
        frame = frame.f_back
    return None


def _requests_tasks(scorer):
    """Whether metadata routing passes ``tasks`` to this scorer (TaskScorer's do)."""
    try:
        return bool(scorer.get_metadata_routing().score.requests.get("tasks"))
    except AttributeError:
        return False


def _blind_scorers(scorer, long):
    """The scorers among ``scorer`` (one, or a multimetric set) that fail on this
    fit: in long format (``long``) those that do not pass ``tasks`` to the
    estimator, on a wide Y with NaN labels sklearn's own (which score every row)."""
    from sklearn.metrics._scorer import _BaseScorer, _MultimetricScorer, \
        _PassthroughScorer

    if isinstance(scorer, _MultimetricScorer):
        scorer = scorer._scorers
    if isinstance(scorer, dict):
        return [s for one in scorer.values() for s in _blind_scorers(one, long)]
    if scorer is None or isinstance(scorer, _PassthroughScorer):  # estimator.score
        return []
    if isinstance(scorer, _BaseScorer):  # a named scorer, make_scorer: tasks, if
        return [scorer]                  # requested, reach the metric, not predict
    return [] if not long or _requests_tasks(scorer) else [scorer]


def _missing_labels(y):
    Y = None if y is None else np.asarray(y)
    return Y is not None and Y.ndim == 2 and Y.shape[1] > 1 and bool(is_missing(Y).any())


_ADVICE = ("Use a task-aware scorer, e.g. scoring=skmtl.metrics.make_task_scorer("
           "r2_score) or make_task_scorer(roc_auc_score, response_method="
           "'predict_proba'), which pass tasks= to predict and average over tasks; or "
           "scoring=None for the estimator's own score (the mean over tasks).")


def check_search_scorer(est, y, tasks):
    """Raise if ``est`` is being fit inside a search whose scorer drops ``tasks``.

    Parameters
    ----------
    est : estimator
        The estimator being fit (named in the message).
    y : array-like
        The targets of the fit.
    tasks : array-like or None
        The task of each row (long format), or None.

    Raises
    ------
    ValueError
        Inside sklearn's ``_fit_and_score``: in long format, with metadata routing
        off (no scorer then gets the tasks) or a scorer that does not pass them to
        the estimator (a named scorer such as ``"r2"`` or ``"roc_auc"``,
        ``make_scorer``, a plain function); on a wide ``Y`` with missing labels,
        with one of sklearn's scorers.  ``scoring=None`` (the estimator's own
        score) and :func:`~skmtl.metrics.make_task_scorer` pass.
    """
    long = tasks is not None
    if not long and not _missing_labels(y):
        return
    scorer = _search_scorer()
    if scorer is None:
        return
    name = type(est).__name__
    if long and not _routing_enabled():
        raise ValueError(
            f"{name} is fit in long format (tasks given) inside a search, but with "
            "metadata routing off sklearn passes tasks to no scorer (nor to predict), "
            "so every candidate would score NaN.  Turn it on: "
            "sklearn.set_config(enable_metadata_routing=True), and pass tasks= to the "
            "search's fit.  " + _ADVICE)
    blind = _blind_scorers(scorer, long)
    if blind:
        why = "this fit is in long format (tasks given), and the scorer does not pass "\
            "tasks= to predict" if long else "this fit's Y has missing labels (NaN), "\
            "which sklearn's scorers do not skip"
        raise ValueError(
            f"The scorer {blind[0]!r} of this search cannot score {name}: {why}, so "
            f"every candidate would score NaN.  " + _ADVICE)


def _routing_enabled():
    from sklearn.utils.metadata_routing import _routing_enabled as enabled

    return enabled()
