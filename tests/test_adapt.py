"""New tasks: the shared model (shared_coef) and adapt (issue 14)."""

import numpy as np
import pytest

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl._estimators._new_tasks import shared_coef


def _tasks_data(n_tasks=6, n=40, p=8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_tasks * n, p)
    tasks = np.repeat(np.arange(n_tasks), n)
    W = rng.randn(p) + 0.3 * rng.randn(n_tasks, p)
    y = np.einsum("ij,ij->i", X, W[tasks]) + 0.1 * rng.randn(len(X))
    return X, y, tasks


@pytest.mark.parametrize("penalty", ["mean", "l21", "trace", "l2", "cluster"])
def test_shared_coef_is_the_task_average(penalty):
    X, y, tasks = _tasks_data()
    est = MultiTaskRegressor(penalty=penalty, alpha=0.01).fit(X, y, tasks=tasks)
    coef, intercept = shared_coef(est)
    assert coef.shape == (1, X.shape[1]) and intercept.shape == (1,)
    np.testing.assert_allclose(coef[0], est.coef_.mean(axis=0))
    np.testing.assert_allclose(intercept[0], est.intercept_.mean())


def test_shared_coef_dirty_is_the_shared_part():
    X, y, tasks = _tasks_data()
    est = MultiTaskRegressor(penalty="dirty", alpha=0.02).fit(X, y, tasks=tasks)
    coef, _ = shared_coef(est)
    np.testing.assert_allclose(coef[0], est.coef_shared_.mean(axis=0))
    assert not np.allclose(coef[0], est.coef_.mean(axis=0))  # the exceptions left out


def test_shared_coef_single_task_and_wide():
    X, y, tasks = _tasks_data(n_tasks=2)
    one = MultiTaskRegressor(penalty="mean", alpha=0.01).fit(X, y)
    coef, intercept = shared_coef(one)
    np.testing.assert_allclose(coef[0], one.coef_)
    np.testing.assert_allclose(intercept[0], one.intercept_)
    Y = np.column_stack([y, 2 * y])
    wide = MultiTaskRegressor(penalty="mean", alpha=0.01).fit(X, Y)
    np.testing.assert_allclose(shared_coef(wide)[0][0], wide.coef_.mean(axis=0))


def test_shared_coef_classifier():
    X, y, tasks = _tasks_data()
    clf = MultiTaskClassifier(penalty="l21", alpha=0.01).fit(X, (y > 0), tasks=tasks)
    coef, intercept = shared_coef(clf)
    assert coef.shape == (1, X.shape[1]) and intercept.shape == (1,)
    np.testing.assert_allclose(coef[0], clf.coef_.mean(axis=0))
    y3 = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    clf = MultiTaskClassifier(penalty="l21", alpha=0.01).fit(X, y3, tasks=tasks)
    coef, intercept = shared_coef(clf)
    assert coef.shape == (3, X.shape[1]) and intercept.shape == (3,)
    rows = np.arange(clf.n_tasks_)[:, None] * 3 + np.arange(3)  # task t: rows 3t..3t+2
    np.testing.assert_allclose(coef, clf.coef_[rows].mean(axis=0))


def test_shared_coef_needs_shared_classes():
    X, y, tasks = _tasks_data()
    y3 = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    y3[tasks == 1] = y3[tasks == 1] % 2
    clf = MultiTaskClassifier(penalty="l21", alpha=0.01).fit(X, y3, tasks=tasks)
    with pytest.raises(ValueError, match="do not share their classes"):
        shared_coef(clf)
