"""Seeded episodes: N-way K-shot for classification, K-shot rows of one task for regression."""

import numpy as np


class EpisodeSampler:
    """Draw N-way K-shot episodes from labelled rows.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class code of each row (with ``n_way=None``: its target).
    n_way : int or None
        Classes an episode.  None: few-shot regression, an episode draws
        ``k_shot + n_query`` rows of one task (not classes) and its labels are the
        rows' ``y``.
    k_shot, n_query : int
        Support and query rows a class (with ``n_way=None``: an episode).
    groups : ndarray of shape (n_samples,), default=None
        Task of each row: an episode then draws its classes (or rows) within one
        task.
    random_state : int or RandomState

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.meta import EpisodeSampler
    >>> y = np.repeat(np.arange(6), 4)
    >>> support, s_lab, query, q_lab = EpisodeSampler(y, 3, 1, 2, random_state=0).sample()
    >>> len(support), len(query), sorted(set(s_lab.tolist()))
    (3, 6, [0, 1, 2])
    >>> tasks = np.repeat([0, 1], 12)  # regression: 2 shots and 3 queries of one task
    >>> s, ys, q, yq = EpisodeSampler(np.arange(24.0), None, 2, 3, groups=tasks,
    ...                               random_state=0).sample()
    >>> len(s), len(q), len(set(tasks[np.r_[s, q]])), bool((ys == s).all())
    (2, 3, 1, True)
    """

    def __init__(self, y, n_way, k_shot, n_query, groups=None, random_state=None):
        self.n_way, self.k_shot, self.n_query = n_way, k_shot, n_query
        self.rng = np.random.RandomState(random_state) if not isinstance(
            random_state, np.random.RandomState) else random_state
        if n_way is None:  # regression: the tasks are the "classes", drawn one at a time
            self._y = np.asarray(y)
            y, groups = np.zeros(len(self._y)) if groups is None else groups, None
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
        if self.n_way is None:
            task = self._rows[self.rng.randint(len(self._rows))]
            rows = self.rng.choice(task, self.k_shot + self.n_query, replace=False)
            s, q = rows[: self.k_shot], rows[self.k_shot :]
            return s, self._y[s], q, self._y[q]
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


class BatchSampler:
    """Mini-batches of rows with their classes: the baselines' pretraining "episodes".

    Each :meth:`sample` is ``(rows, classes, no rows, no classes)``, the next
    ``batch_size`` rows of a seeded shuffle of all rows (reshuffled once used up).

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class code of each row, 0 .. n_classes - 1.
    batch_size : int
        Rows a batch (at most ``n_samples``).
    random_state : int or RandomState
    """

    def __init__(self, y, batch_size, random_state=None):
        self._y = np.asarray(y)
        self.n_classes = int(self._y.max()) + 1
        self.batch_size = min(batch_size, len(self._y))
        self.rng = np.random.RandomState(random_state) if not isinstance(
            random_state, np.random.RandomState) else random_state
        self._order, self._next = np.empty(0, dtype=np.intp), 0

    def sample(self):
        """One mini-batch: (rows, their classes, empty, empty)."""
        if self._next + self.batch_size > len(self._order):
            self._order, self._next = self.rng.permutation(len(self._y)), 0
        rows = self._order[self._next : self._next + self.batch_size]
        self._next += self.batch_size
        empty = np.empty(0, dtype=np.intp)
        return rows, self._y[rows], empty, empty
