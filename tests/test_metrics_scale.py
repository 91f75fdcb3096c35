"""``task_average`` (so every ``score``) in O(n log n), not O(n T) (issue 16, item 9).

One comparison of every row per task took 54-76 s with 10^5 tasks.  The rows are
now grouped by one sort, and sklearn's r2 / MSE / MAE are summed by task at once;
the fast sums equal sklearn's per-task calls.
"""

import time

import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from skmtl.metrics import task_average


def _data(seed, T, n_t=4):
    rng = np.random.RandomState(seed)
    tasks = rng.permutation(np.repeat(np.arange(T), n_t))
    y = rng.randn(tasks.size)
    pred = y + 0.5 * rng.randn(tasks.size)
    return y, pred, tasks


@pytest.mark.parametrize("metric", [r2_score, mean_squared_error, mean_absolute_error])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_summed_metrics_equal_sklearns_per_task_calls(metric, weighted):
    y, pred, tasks = _data(0, T=30)
    tasks = np.array([f"t{t:02d}" for t in tasks])  # string labels
    sw = np.random.RandomState(1).uniform(0.1, 3.0, y.size) if weighted else None
    y[tasks == "t03"] = 2.0  # a constant task: R^2 is 1 if perfect, else 0
    pred[tasks == "t03"] = 2.0
    y[tasks == "t04"] = 5.0
    manual = []
    for label in np.unique(tasks):
        rows = tasks == label
        kw = {} if sw is None else {"sample_weight": sw[rows]}
        manual.append(metric(y[rows], pred[rows], **kw))
    fast = task_average(metric, y, pred, tasks=tasks, sample_weight=sw)
    assert fast == pytest.approx(np.mean(manual), rel=1e-12, abs=1e-14)
    general = task_average(lambda a, b, **kw: metric(a, b, **kw), y, pred, tasks=tasks,
                           sample_weight=sw)
    assert general == pytest.approx(np.mean(manual), rel=1e-12, abs=1e-14)


def test_a_task_of_one_row_takes_sklearns_own_path():
    y, pred, tasks = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0]), [0, 0, 1]
    with pytest.warns(UndefinedMetricWarning):  # R^2 is not defined on one sample
        out = task_average(r2_score, y, pred, tasks=tasks)
    assert np.isnan(out)


def test_many_tasks_take_a_sort_not_a_pass_per_task():
    """10^5 tasks of 8 rows, any metric (one Python call a task is left): about
    half a second, where the pass over all rows per task took over 20 s."""
    y, pred, tasks = _data(2, T=100_000, n_t=8)
    calls = []

    def metric(a, b):
        calls.append(a.size)
        return float(np.abs(a - b).sum())

    start = time.perf_counter()
    out = task_average(metric, y, pred, tasks=tasks)
    elapsed = time.perf_counter() - start
    assert len(calls) == 100_000 and sum(calls) == y.size
    assert out == pytest.approx(np.abs(y - pred).sum() / 100_000)
    assert elapsed < 6.0, f"{elapsed:.1f} s"
    start = time.perf_counter()
    task_average(r2_score, y, pred, tasks=tasks)  # the summed path
    assert time.perf_counter() - start < 5.0
