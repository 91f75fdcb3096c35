"""Task ids through Pipeline, GridSearchCV and cross_validate; task-aware scoring."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl.metrics import make_task_scorer, task_average


def _long_problem(seed=0, n=240, p=6):
    rng = np.random.RandomState(seed)
    X = 3.0 * rng.randn(n, p) + 5.0
    tasks = rng.choice(["a", "b", "c"], n)
    w = rng.randn(p)
    # the tasks differ a lot: a model that ignores them scores badly
    y = X @ w + 4.0 * np.select([tasks == "a", tasks == "b"], [X[:, 0], -X[:, 0]], 0.0)
    return X, y + 0.1 * rng.randn(n), tasks


def _grid(scoring=None):
    pipe = make_pipeline(StandardScaler(), MultiTaskRegressor(penalty="mean"))
    return GridSearchCV(
        pipe,
        {"multitaskregressor__alpha": [1e-3, 1e-2, 10.0]},
        cv=KFold(3, shuffle=True, random_state=0),
        scoring=scoring,
    )


def test_tasks_are_requested_by_default():
    est = MultiTaskRegressor()
    routing = est.get_metadata_routing()
    for method in ("fit", "predict", "score"):
        assert getattr(routing, method).requests["tasks"] is True


@pytest.mark.parametrize("scoring", [None, make_task_scorer(r2_score)])
def test_pipeline_under_grid_search_long_format(routing, scoring):
    X, y, tasks = _long_problem()
    search = _grid(scoring).fit(X, y, tasks=tasks)
    assert search.best_params_["multitaskregressor__alpha"] < 10
    assert search.best_score_ > 0.95
    # the refit pipeline routes tasks to predict as well
    pred = search.best_estimator_.predict(X, tasks=tasks)
    assert r2_score(y, pred) > 0.95


def test_pipeline_under_grid_search_wide_format(routing):
    rng = np.random.RandomState(0)
    X = rng.randn(150, 6)
    Y = X @ rng.randn(6, 3) + 0.1 * rng.randn(150, 3)
    Y[:40, 1] = np.nan
    search = _grid().fit(X, Y)
    assert search.best_estimator_.predict(X).shape == (len(X), 3)
    assert search.best_score_ > 0.95


def test_cross_validate_routes_tasks(routing):
    X, y, tasks = _long_problem()
    pipe = make_pipeline(StandardScaler(), MultiTaskRegressor(alpha=1e-3))
    scores = cross_validate(pipe, X, y, params={"tasks": tasks}, cv=3)["test_score"]
    assert scores.min() > 0.95


def test_named_scorer_cannot_silently_drop_the_tasks(routing):
    X, y, tasks = _long_problem()
    search = _grid(scoring="r2")
    search.set_params(error_score="raise")
    with pytest.raises(ValueError, match="pass tasks="):
        search.fit(X, y, tasks=tasks)


def test_task_kfold_gets_the_tasks_and_keeps_every_task_in_training(routing):
    from skmtl.model_selection import TaskKFold

    X, y, tasks = _long_problem()
    order = np.argsort(tasks, kind="stable")  # contiguous tasks defeat a plain KFold
    X, y, tasks = X[order], y[order], tasks[order]
    cv = TaskKFold(4, shuffle=True, random_state=0)
    for train, test in cv.split(X, y, tasks=tasks):
        assert set(tasks[train]) == set(tasks)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), MultiTaskRegressor()),
        {"multitaskregressor__alpha": [1e-3, 1.0]}, cv=cv, error_score="raise",
    )
    search.fit(X, y, tasks=tasks)
    assert search.best_score_ > 0.95
    with pytest.raises(ValueError, match="Unknown task"):
        GridSearchCV(
            make_pipeline(StandardScaler(), MultiTaskRegressor()),
            {"multitaskregressor__alpha": [1.0]}, cv=3, error_score="raise",
        ).fit(X, y, tasks=tasks)


def test_task_scorer_is_the_mean_of_per_task_scores():
    X, y, tasks = _long_problem()
    est = MultiTaskRegressor(alpha=1.0).fit(X, y, tasks=tasks)
    pred = est.predict(X, tasks=tasks)
    manual = np.mean([r2_score(y[tasks == t], pred[tasks == t]) for t in "abc"])
    assert make_task_scorer(r2_score)(est, X, y, tasks=tasks) == pytest.approx(manual)
    assert est.score(X, y, tasks=tasks) == pytest.approx(manual)
    neg = make_task_scorer(r2_score, greater_is_better=False)
    assert neg(est, X, y, tasks=tasks) == pytest.approx(-manual)


def test_task_average_skips_missing_labels_in_wide_format():
    y = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 7.0]])
    pred = np.array([[1.0, 100.0], [2.0, 5.0], [4.0, 7.0]])
    err = task_average(lambda a, b: np.abs(a - b).mean(), y, pred)
    assert err == pytest.approx((1 / 3 + 0.0) / 2)


def test_pipeline_without_routing_takes_step_parameters():
    X, y, tasks = _long_problem()
    pipe = make_pipeline(StandardScaler(), MultiTaskRegressor(alpha=1e-3))
    pipe.fit(X, y, multitaskregressor__tasks=tasks)
    assert r2_score(y, pipe.predict(X, tasks=tasks)) > 0.95


@pytest.mark.parametrize("Est", [MultiTaskRegressor, MultiTaskClassifier])
def test_clone_and_pickle_keep_the_model(Est):
    X, y, tasks = _long_problem()
    if Est is MultiTaskClassifier:
        y = (y > np.median(y)).astype(int)
    est = Est(penalty="trace", alpha=0.01).fit(X, y, tasks=tasks)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X, tasks=tasks), est.predict(X, tasks=tasks))
    fresh = clone(est)
    assert not hasattr(fresh, "coef_")
    assert fresh.get_params() == est.get_params()


def test_every_method_that_takes_tasks_requests_them():
    routing = MultiTaskClassifier().get_metadata_routing()
    for method in ("fit", "partial_fit", "predict", "predict_proba", "predict_log_proba",
                   "decision_function", "score"):
        assert getattr(routing, method).requests["tasks"] is True, method


def test_an_auc_scorer_on_probabilities_gets_the_tasks_in_a_pipeline(routing):
    from sklearn.metrics import roc_auc_score

    X, y, tasks = _long_problem()
    labels = (y > np.median(y)).astype(int)
    pipe = make_pipeline(StandardScaler(), MultiTaskClassifier(penalty="l2", alpha=0.01))
    scorer = make_task_scorer(roc_auc_score, response_method="predict_proba")
    search = GridSearchCV(pipe, {"multitaskclassifier__alpha": [0.01, 0.1]},
                          cv=KFold(3, shuffle=True, random_state=0), scoring=scorer,
                          error_score="raise")
    search.fit(X, labels, tasks=tasks)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    proba = search.best_estimator_.predict_proba(X, tasks=tasks)
    assert proba.shape == (len(X), 2)


def test_without_routing_the_message_names_set_config():
    X, y, tasks = _long_problem()
    pipe = make_pipeline(StandardScaler(), MultiTaskRegressor(penalty="mean"))
    pipe.fit(X, y, multitaskregressor__tasks=tasks)
    with pytest.raises(ValueError, match=r"enable_metadata_routing=True"):
        pipe.score(X, y)
