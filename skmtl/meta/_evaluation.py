"""Episodic evaluation, as the few-shot literature reports it."""

import numpy as np

from ._episodes import EpisodeSampler


def episodic_score(estimator, X, y, *, n_way=5, k_shot=1, n_query=15, n_episodes=100,
                   tasks=None, random_state=None):
    """Mean accuracy and 95% interval over ``n_episodes`` new-task episodes.

    Each episode adapts the fitted meta-learner on ``k_shot`` rows of each of
    ``n_way`` classes and scores ``n_query`` other rows of each; the interval is
    ``1.96 std / sqrt(n_episodes)``.

    Returns
    -------
    mean, interval : float

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
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < n_way:
        raise ValueError(f"{n_way}-way episodes need {n_way} classes; the data has "
                         f"{classes.size}.")
    if counts.min() < k_shot + n_query:
        raise ValueError(f"Class {classes[counts.argmin()]!r} has {counts.min()} examples; "
                         f"episodes need k_shot + n_query = {k_shot + n_query}.")
    X = np.asarray(X)
    sampler = EpisodeSampler(y, n_way, k_shot, n_query, groups=tasks,
                             random_state=random_state)
    accuracies = []
    for _ in range(n_episodes):
        s, _, q, _ = sampler.sample()
        accuracies.append(estimator.adapt(X[s], y[s]).score(X[q], y[q]))
    accuracies = np.asarray(accuracies)
    return float(accuracies.mean()), float(1.96 * accuracies.std() / np.sqrt(n_episodes))


def make_episodic_scorer(*, n_way=5, k_shot=1, n_query=15, n_episodes=100,
                         random_state=0):
    """A scorer for ``GridSearchCV``: mean episodic accuracy on the held-out classes.

    Use it with a class-disjoint splitter (``GroupKFold`` with ``groups=y``) so that
    meta-hyperparameters are chosen on classes never seen in meta-training.
    """

    def scorer(estimator, X, y):
        return episodic_score(estimator, X, y, n_way=n_way, k_shot=k_shot,
                              n_query=n_query, n_episodes=n_episodes,
                              random_state=random_state)[0]

    return scorer
