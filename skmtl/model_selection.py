"""Cross-validation splitters that keep every task in every training fold."""

from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.model_selection._split import _BaseKFold

__all__ = ["TaskKFold"]


class TaskKFold(_BaseKFold):
    """K-fold cross-validation stratified by task.

    Each fold holds about ``1/n_splits`` of every task's rows, so a long-format
    model fitted on the other folds has seen every task it is asked to predict
    (a plain ``KFold`` can put a whole task in one test fold).  It requests
    ``tasks`` from metadata routing, so ``GridSearchCV(..., cv=TaskKFold())``
    receives them from ``fit(X, y, tasks=ids)``.  Without tasks (wide format) it
    is a plain ``KFold``.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds; every task needs at least that many rows (plus one).
    shuffle : bool, default=False
        Shuffle each task's rows before splitting (else folds follow row order).
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle.

    Examples
    --------
    >>> import numpy as np
    >>> from skmtl.model_selection import TaskKFold
    >>> tasks = np.repeat(["a", "b"], [6, 9])
    >>> for train, test in TaskKFold(3, shuffle=True, random_state=0).split(np.zeros((15, 1)), tasks=tasks):
    ...     print(sorted(set(tasks[test].tolist())), len(test))
    ['a', 'b'] 5
    ['a', 'b'] 5
    ['a', 'b'] 5
    """

    __metadata_request__split = {"tasks": True}

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        super().__init__(n_splits=n_splits, shuffle=shuffle, random_state=random_state)

    def get_n_splits(self, X=None, y=None, groups=None, tasks=None):
        """Return the number of splits."""
        return self.n_splits

    def split(self, X, y=None, groups=None, tasks=None):
        """Generate (train, test) index arrays, stratified by ``tasks``.

        ``groups`` is accepted for API compatibility and ignored.
        """
        kwargs = dict(n_splits=self.n_splits, shuffle=self.shuffle,
                      random_state=self.random_state if self.shuffle else None)
        if tasks is None:
            yield from KFold(**kwargs).split(X)
        else:
            yield from StratifiedKFold(**kwargs).split(X, tasks)
