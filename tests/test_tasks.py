"""The two task formats, and clear errors for bad input."""

import tracemalloc

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skmtl import MultiTaskClassifier, MultiTaskRegressor

TIGHT = dict(tol=1e-11, max_iter=20000)


def _wide_problem(seed=0, n=80, p=6, T=3):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    W = rng.randn(p, T)
    Y = X @ W + 0.1 * rng.randn(n, T)
    return X, Y


def _to_long(X, Y):
    """Stack the present labels of a wide Y into the long format."""
    rows, cols = np.nonzero(~np.isnan(Y))
    order = np.argsort(cols, kind="stable")
    rows, cols = rows[order], cols[order]
    return X[rows], Y[rows, cols], cols


@pytest.mark.parametrize("penalty", ["l21", "trace", "mean", "l2"])
def test_wide_and_long_give_the_same_model(penalty):
    X, Y = _wide_problem()
    Y[:20, 1] = np.nan
    Y[50:, 2] = np.nan
    wide = MultiTaskRegressor(penalty=penalty, alpha=0.05, **TIGHT).fit(X, Y)
    Xl, yl, tl = _to_long(X, Y)
    long = MultiTaskRegressor(penalty=penalty, alpha=0.05, **TIGHT).fit(Xl, yl, tasks=tl)
    np.testing.assert_allclose(wide.coef_, long.coef_, atol=1e-5)
    np.testing.assert_allclose(wide.intercept_, long.intercept_, atol=1e-5)
    assert wide.tasks_ is None
    np.testing.assert_array_equal(long.tasks_, [0, 1, 2])
    pred_wide = wide.predict(X)
    assert pred_wide.shape == (80, 3)
    pred_long = long.predict(X, tasks=np.full(80, 2))
    np.testing.assert_allclose(pred_long, pred_wide[:, 2], atol=1e-5)


def test_missing_labels_leave_rows_out_of_their_task_only():
    X, Y = _wide_problem()
    Y_missing = Y.copy()
    Y_missing[:30, 0] = np.nan
    est = MultiTaskRegressor(penalty="l2", alpha=0.1, **TIGHT)
    full = est.fit(X[30:], Y[30:, :1]).coef_[0]
    part = MultiTaskRegressor(penalty="l2", alpha=0.1, **TIGHT).fit(X, Y_missing)
    # l2 does not couple the tasks: task 0 sees exactly rows 30: of X
    np.testing.assert_allclose(part.coef_[0], full, atol=1e-6)


def test_long_format_row_order_does_not_matter():
    rng = np.random.RandomState(1)
    X, y = rng.randn(90, 4), rng.randn(90)
    tasks = rng.choice(["x", "y", "z"], 90)
    perm = rng.permutation(90)
    a = MultiTaskRegressor(alpha=0.05, **TIGHT).fit(X, y, tasks=tasks)
    b = MultiTaskRegressor(alpha=0.05, **TIGHT).fit(X[perm], y[perm], tasks=tasks[perm])
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
    np.testing.assert_array_equal(a.tasks_, ["x", "y", "z"])


def test_integer_sample_weight_equals_repeating_rows():
    rng = np.random.RandomState(2)
    X, y, tasks = rng.randn(40, 3), rng.randn(40), np.repeat([0, 1], 20)
    sw = rng.randint(1, 4, size=40)
    a = MultiTaskRegressor(penalty="trace", alpha=0.05, **TIGHT)
    a.fit(X, y, tasks=tasks, sample_weight=sw)
    rep = np.repeat(np.arange(40), sw)
    b = MultiTaskRegressor(penalty="trace", alpha=0.05, **TIGHT)
    b.fit(X[rep], y[rep], tasks=tasks[rep])
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-7)


def test_warm_start_reuses_the_solution():
    X, Y = _wide_problem(n=200, p=30)
    est = MultiTaskRegressor(penalty="trace", alpha=0.01, warm_start=True, tol=1e-8)
    est.fit(X, Y)
    first = est.n_iter_
    est.fit(X, Y)
    assert first > 10
    assert est.n_iter_ == 1


def test_long_format_never_builds_a_rows_by_tasks_array():
    rng = np.random.RandomState(0)
    n_tasks, per_task, p = 2000, 10, 5
    X = rng.randn(n_tasks * per_task, p)
    tasks = np.repeat(np.arange(n_tasks), per_task)
    y = X[:, 0] + 0.1 * rng.randn(len(X))
    est = MultiTaskRegressor(penalty="l21", alpha=0.01, max_iter=200, tol=1e-4)
    tracemalloc.start()
    est.fit(X, y, tasks=tasks)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    dense_rows_by_tasks = X.shape[0] * n_tasks * 8  # 320 MB
    assert peak < 20 * X.nbytes + 8 * p * p * n_tasks * 4
    assert peak < dense_rows_by_tasks / 10


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_is_rejected(bad):
    X, Y = _wide_problem()
    X[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        MultiTaskRegressor().fit(X, Y)


def test_all_missing_column_is_rejected():
    X, Y = _wide_problem()
    Y[:, 1] = np.nan
    with pytest.raises(ValueError, match="column 1 of Y has no label"):
        MultiTaskRegressor().fit(X, Y)


def test_task_with_one_row_is_rejected():
    rng = np.random.RandomState(0)
    X, y = rng.randn(11, 3), rng.randn(11)
    tasks = np.array(["a"] * 10 + ["lonely"])
    with pytest.raises(ValueError, match="Task 'lonely' has 1 sample"):
        MultiTaskRegressor().fit(X, y, tasks=tasks)


def test_task_with_one_class_is_rejected():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = np.r_[rng.randint(0, 2, 20), np.ones(20, int)]
    tasks = np.repeat(["ok", "flat"], 20)
    with pytest.raises(ValueError, match="Task 'flat' has one class"):
        MultiTaskClassifier().fit(X, y, tasks=tasks)


def test_continuous_target_is_rejected_by_the_classifier():
    X, Y = _wide_problem()
    with pytest.raises(ValueError, match="Unknown label type"):
        MultiTaskClassifier().fit(X, Y[:, 0])


@pytest.mark.parametrize("what", ["y", "tasks", "sample_weight"])
def test_mismatched_lengths_are_rejected(what):
    rng = np.random.RandomState(0)
    X, y, tasks, sw = rng.randn(30, 3), rng.randn(30), np.repeat([0, 1], 15), np.ones(30)
    args = {"y": y, "tasks": tasks, "sample_weight": sw}
    args[what] = args[what][:-1]
    with pytest.raises(ValueError, match="inconsistent|shape"):
        MultiTaskRegressor().fit(X, args["y"], tasks=args["tasks"],
                                 sample_weight=args["sample_weight"])


def test_unknown_task_at_predict_is_named():
    rng = np.random.RandomState(0)
    X, y = rng.randn(30, 3), rng.randn(30)
    est = MultiTaskRegressor(alpha=0.01).fit(X, y, tasks=np.repeat(["a", "b"], 15))
    with pytest.raises(ValueError, match="Unknown task.*'zurich'"):
        est.predict(X[:2], tasks=["a", "zurich"])


def test_tasks_at_predict_but_not_at_fit_and_the_reverse():
    X, Y = _wide_problem()
    wide = MultiTaskRegressor(alpha=0.01).fit(X, Y)
    with pytest.raises(ValueError, match="tasks were given at predict but not at fit"):
        wide.predict(X, tasks=np.zeros(len(X), int))
    long = MultiTaskRegressor(alpha=0.01).fit(X, Y[:, 0], tasks=np.repeat([0, 1], 40))
    with pytest.raises(ValueError, match="fit with tasks=.*pass tasks="):
        long.predict(X)


def test_two_dimensional_y_with_tasks_is_rejected():
    X, Y = _wide_problem()
    with pytest.raises(ValueError, match="not both"):
        MultiTaskRegressor().fit(X, Y, tasks=np.zeros(len(X)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"alpha": -1.0}, "alpha"),
        ({"penalty": "l0"}, "penalty"),
        ({"solver": "newton"}, "solver"),
        ({"max_iter": 0}, "max_iter"),
    ],
)
def test_bad_parameters_are_rejected(params, match):
    X, Y = _wide_problem()
    with pytest.raises(InvalidParameterError, match=match):
        MultiTaskRegressor(**params).fit(X, Y)


def test_cd_solver_needs_l21():
    X, Y = _wide_problem()
    with pytest.raises(ValueError, match="solver='cd' needs penalty='l21'"):
        MultiTaskRegressor(penalty="trace", solver="cd").fit(X, Y)


def test_graph_adjacency_of_the_wrong_shape_is_rejected():
    from skmtl.linear import GraphRegularized

    X, Y = _wide_problem()
    with pytest.raises(ValueError, match="adjacency has shape"):
        MultiTaskRegressor(penalty=GraphRegularized(adjacency=np.ones((2, 2)))).fit(X, Y)
