"""The torch backend's training pairs take O(n) memory, not O(n x T) (issue 16, item 6)."""

import tracemalloc

import numpy as np
import pytest

pytest.importorskip("torch")

from skmtl._tasks import split_tasks  # noqa: E402
from skmtl.nn._data import make_pairs  # noqa: E402


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("wide", [False, True])
def test_pairs_of_many_small_tasks_take_memory_linear_in_the_rows(wide):
    # 2,000 tasks of 3 rows: one np.arange(n) kept per task was n x T int64 (92 MiB)
    n_tasks, per_task = 2000, 3
    n = n_tasks * per_task
    X = np.zeros((n, 2))
    tasks = np.repeat(np.arange(n_tasks), per_task)
    y = np.arange(n, dtype=float)
    if wide:  # the masks are n x T already; the pairs must add no more than O(n)
        Y = np.full((n, 40), np.nan)
        Y[np.arange(n), tasks % 40] = y
        table = split_tasks(X, Y)
    else:
        table = split_tasks(X, y, tasks)
    pairs, peak = _peak_bytes(lambda: make_pairs(table, table.y))
    # the pairs themselves: ptr, task, target, weight, a few times n entries
    assert peak < 200 * n + 2**20, f"make_pairs peaked at {peak / 2**20:.1f} MiB"
    order = np.argsort(tasks, kind="stable") if not wide else np.arange(n)
    np.testing.assert_array_equal(pairs.ptr, np.arange(n + 1))
    np.testing.assert_array_equal(pairs.task, (tasks if not wide else tasks % 40)[order])
    np.testing.assert_array_equal(pairs.target, y[order].astype(np.float32))
    np.testing.assert_allclose(pairs.weight, 1.0)  # mean 1 within a task
