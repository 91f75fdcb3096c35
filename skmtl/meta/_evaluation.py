"""Episodic evaluation, as the few-shot literature reports it."""

import numpy as np
from sklearn.base import is_regressor
from sklearn.utils._metadata_requests import _MetadataRequester

from ._episodes import EpisodeSampler


def _is_regression(estimator):
    """A scikit-learn regressor; any other object with ``adapt`` (a baseline, say) is
    scored as a classifier."""
    return hasattr(estimator, "__sklearn_tags__") and is_regressor(estimator)


def episodic_score(estimator, X, y, *, n_way=5, k_shot=1, n_query=15, n_episodes=100,
                   tasks=None, random_state=None):
    """Mean score and 95% interval over ``n_episodes`` new-task episodes.

    Classification: each episode adapts the fitted meta-learner on ``k_shot`` rows
    of each of ``n_way`` classes and scores its accuracy on ``n_query`` other rows
    of each.  Regression (a :class:`MetaLearnerRegressor`): each episode adapts on
    ``k_shot`` rows of one task and scores the mean squared error on ``n_query``
    other rows of it (lower is better; ``n_way`` is unused), as the few-shot
    regression literature reports it.  The interval is
    ``1.96 std / sqrt(n_episodes)``.

    Parameters
    ----------
    estimator : MetaLearnerClassifier or MetaLearnerRegressor
        Fitted.
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples,)
    n_way, k_shot, n_query : int, default=5, 1, 15
        Classes an episode, support and query rows a class (regression: an episode).
    n_episodes : int, default=100
    tasks : array-like of shape (n_samples,), default=None
        The task of each row: an episode draws its classes (rows, in regression)
        within one task.  None: all rows are one task.
    random_state : int, RandomState instance or None, default=None
        Draws the episodes: the same seed scores every model on the same ones.

    Returns
    -------
    mean, interval : float
        Mean accuracy (regression: mean squared error) and its 95% interval.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.meta import MetaLearnerClassifier, episodic_score
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat(np.arange(40), 10)
    >>> X = 3 * rng.randn(40, 8)[y] + rng.randn(400, 8)
    >>> meta = MetaLearnerClassifier(n_episodes=100, random_state=0).fit(X[:200], y[:200])
    >>> mean, ci = episodic_score(meta, X[200:], y[200:], n_way=5, k_shot=1, n_query=5,
    ...                           n_episodes=50, random_state=0)
    >>> bool(mean > 0.6), bool(ci < 0.1)
    (True, True)
    """
    regression = _is_regression(estimator)
    y = np.asarray(y)
    if regression:
        n_way = None
        names, counts = np.unique(np.zeros(len(y)) if tasks is None else tasks,
                                  return_counts=True)
        if counts.min() < k_shot + n_query:
            where = "The data (one task: no tasks given)" if tasks is None else \
                f"Task {names[counts.argmin()].tolist()!r}"
            raise ValueError(f"{where} has {counts.min()} rows; episodes need k_shot + "
                             f"n_query = {k_shot + n_query}.")
    else:
        classes, counts = np.unique(y, return_counts=True)
        if classes.size < n_way:
            raise ValueError(f"{n_way}-way episodes need {n_way} classes; the data has "
                             f"{classes.size}.")
        if counts.min() < k_shot + n_query:
            raise ValueError(f"Class {classes[counts.argmin()]!r} has {counts.min()} "
                             f"examples; episodes need k_shot + n_query = "
                             f"{k_shot + n_query}.")
    X = np.asarray(X)
    sampler = EpisodeSampler(y, n_way, k_shot, n_query, groups=tasks,
                             random_state=random_state)
    scores = []
    for _ in range(n_episodes):
        s, _, q, _ = sampler.sample()
        adapted = estimator.adapt(X[s], y[s])
        scores.append(np.mean((adapted.predict(X[q]) - y[q]) ** 2) if regression
                      else adapted.score(X[q], y[q]))
    scores = np.asarray(scores)
    return float(scores.mean()), float(1.96 * scores.std() / np.sqrt(n_episodes))


class EpisodicScorer(_MetadataRequester):
    """A scorer for model selection on held-out classes or tasks.

    Made by :func:`make_episodic_scorer`.  It requests ``tasks`` (routed once
    metadata routing is enabled), which few-shot regression needs to draw each
    episode within one task.
    """

    __metadata_request__score = {"tasks": True}

    def __init__(self, **episodes):
        self.episodes = episodes

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.episodes.items())
        return f"make_episodic_scorer({args})"

    def __call__(self, estimator, X, y, tasks=None):
        mean = episodic_score(estimator, X, y, tasks=tasks, **self.episodes)[0]
        return -mean if _is_regression(estimator) else mean

    def score(self, estimator, X, y, tasks=None):
        """Same as calling the scorer (gives the metadata request its signature)."""
        return self(estimator, X, y, tasks=tasks)


def make_episodic_scorer(*, n_way=5, k_shot=1, n_query=15, n_episodes=100,
                         random_state=0):
    """A scorer for ``GridSearchCV``: the mean episodic score on held-out data.

    Classification: mean episodic accuracy.  Regression: minus the mean episodic
    squared error (greater is better, as sklearn's ``neg_mean_squared_error``).
    Use it with a class-disjoint splitter (``GroupKFold`` with ``groups=y``; in
    regression ``groups=tasks``) so that meta-hyperparameters are chosen on classes
    or tasks never seen in meta-training; with ``tasks=``, enable metadata routing
    so that they reach the scorer.

    Parameters
    ----------
    n_way, k_shot, n_query, n_episodes, random_state
        As in :func:`episodic_score` (a fixed ``random_state``: every candidate is
        scored on the same episodes).

    Returns
    -------
    EpisodicScorer

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GroupKFold, cross_val_score
    >>> from skmtl.meta import MetaLearnerClassifier, make_episodic_scorer
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat(np.arange(30), 10)
    >>> X = 3 * rng.randn(30, 8)[y] + rng.randn(300, 8)
    >>> scorer = make_episodic_scorer(n_way=5, k_shot=1, n_query=5, n_episodes=20)
    >>> scores = cross_val_score(MetaLearnerClassifier(n_episodes=50, random_state=0),
    ...                          X, y, groups=y, cv=GroupKFold(3), scoring=scorer)
    >>> bool(scores.min() > 0.5)
    True
    """
    return EpisodicScorer(n_way=n_way, k_shot=k_shot, n_query=n_query,
                          n_episodes=n_episodes, random_state=random_state)
