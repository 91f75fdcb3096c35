"""Multi-task beats single-task where the tasks share structure.

Each task has its own few rows (long format).  Each model's alpha is chosen on a
validation set drawn like the training set, so neither side gets an oracle.
"""

import numpy as np
import pytest

from skmtl import MultiTaskRegressor

ALPHAS = np.logspace(-3, 1, 9)


def _draw(W, n_per_task, rng):
    p, T = W.shape
    tasks = np.repeat(np.arange(T), n_per_task)
    X = rng.randn(T * n_per_task, p)
    y = np.einsum("ij,ji->i", X, W[:, tasks]) + rng.randn(len(tasks))
    return X, y, tasks


def _best_score(penalty, train, val, test):
    fits = [MultiTaskRegressor(penalty=penalty, alpha=a, max_iter=5000).fit(*train[:2], tasks=train[2])
            for a in ALPHAS]
    best = max(fits, key=lambda m: m.score(val[0], val[1], tasks=val[2]))
    return best.score(test[0], test[1], tasks=test[2])  # mean R^2 over tasks


@pytest.mark.parametrize(
    "penalty, single, structure",
    [("l21", "l1", "shared support"), ("trace", "l2", "low rank")],
)
def test_multi_task_beats_single_task(penalty, single, structure):
    rng = np.random.RandomState(0)
    p, T = 40, 15
    if structure == "shared support":
        W = np.zeros((p, T))
        W[:5] = rng.randn(5, T)  # the same 5 features matter for every task
    else:
        W = rng.randn(p, 2) @ rng.randn(2, T) / np.sqrt(2)  # tasks in a 2-D subspace
    train, val, test = (_draw(W, n, rng) for n in (25, 100, 200))
    mtl = _best_score(penalty, train, val, test)
    stl = _best_score(single, train, val, test)
    assert mtl > stl + 0.1, (mtl, stl)


def test_default_dirty_model_finds_shared_rows_and_exceptions():
    """The default l1_ratio sits inside the range where both parts are used; from
    1/2 on, a row of two equal entries is cheaper shared, and above 1/2 the
    specific part is provably empty (the model is l21)."""
    from skmtl.linear import Dirty

    rng = np.random.RandomState(0)
    T, p, n = 6, 30, 60
    W = np.zeros((p, T))
    W[:4] = rng.randn(4, T) + 2 * np.sign(rng.randn(4, T))  # shared by all tasks
    pairs = np.arange(T) // 2
    W[10 + pairs, np.arange(T)] = 4.0  # exceptions, each shared by two of the six tasks
    X = rng.randn(n, p)
    Y = X @ W + 0.1 * rng.randn(n, T)
    est = MultiTaskRegressor(penalty="dirty", alpha=0.05, tol=1e-8).fit(X, Y)
    shared = np.abs(est.coef_shared_).sum(axis=0) > 1e-8
    specific = np.abs(est.coef_specific_) > 1e-8
    assert shared[:4].all()
    assert specific[np.arange(T), 10 + pairs].mean() >= 0.8
    above = MultiTaskRegressor(penalty=Dirty(l1_ratio=0.6), alpha=0.05, tol=1e-8).fit(X, Y)
    assert np.abs(above.coef_specific_).max() == 0
