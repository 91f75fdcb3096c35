"""Seeded N-way K-shot episodes."""

import numpy as np


class EpisodeSampler:
    """Draw N-way K-shot episodes from labelled rows.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class code of each row.
    n_way, k_shot, n_query : int
        Classes an episode, support and query rows a class.
    groups : ndarray of shape (n_samples,), default=None
        Task of each row: an episode then draws its classes within one task.
    random_state : int or RandomState

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.meta import EpisodeSampler
    >>> y = np.repeat(np.arange(6), 4)
    >>> support, s_lab, query, q_lab = EpisodeSampler(y, 3, 1, 2, random_state=0).sample()
    >>> len(support), len(query), sorted(set(s_lab.tolist()))
    (3, 6, [0, 1, 2])
    """

    def __init__(self, y, n_way, k_shot, n_query, groups=None, random_state=None):
        self.n_way, self.k_shot, self.n_query = n_way, k_shot, n_query
        self.rng = np.random.RandomState(random_state) if not isinstance(
            random_state, np.random.RandomState) else random_state
        keys = y if groups is None else np.char.add(np.asarray(groups).astype(str),
                                                    "\x00" + np.asarray(y).astype(str))
        classes, codes = np.unique(keys, return_inverse=True)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(classes.size + 1))
        self._rows = [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        if groups is None:
            self._pools = [np.arange(classes.size)]
        else:
            owner = np.array([groups[r[0]] for r in self._rows])
            self._pools = [np.flatnonzero(owner == g) for g in np.unique(owner)]
            self._pools = [p for p in self._pools if p.size >= n_way] or self._pools

    def sample(self):
        """One episode: (support rows, their labels 0..n_way-1, query rows, labels)."""
        pool = self._pools[self.rng.randint(len(self._pools))]
        way = min(self.n_way, pool.size)
        chosen = self.rng.choice(pool, way, replace=False)
        support, query = [], []
        for c in chosen:
            rows = self.rng.choice(self._rows[c], self.k_shot + self.n_query, replace=False)
            support.append(rows[: self.k_shot])
            query.append(rows[self.k_shot :])
        labels = np.arange(way)
        return (np.concatenate(support), np.repeat(labels, self.k_shot),
                np.concatenate(query), np.repeat(labels, self.n_query))
