"""A search whose scorer cannot see the tasks fails at once, saying what to use
(issue 15): sklearn's named scorers in long format or on a wide Y with NaN labels
would score every candidate NaN, and the search would "succeed"."""

import numpy as np
import pytest
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmtl import MultiTaskClassifier, MultiTaskRegressor, MultiTaskRegressorCV
from skmtl._search_guard import check_search_scorer
from skmtl.metrics import make_task_scorer

CV = KFold(3, shuffle=True, random_state=0)
ADVICE = r"make_task_scorer\(r2_score\).*scoring=None"


def _long(seed=0, n=150):
    rng = np.random.RandomState(seed)
    X, tasks = rng.randn(n, 4), np.tile(["a", "b", "c"], n // 3)
    return X, X @ rng.randn(4) + (tasks == "b") + 0.1 * rng.randn(n), tasks


def _search(scoring, **kw):
    return GridSearchCV(MultiTaskRegressor(), {"alpha": [0.01, 0.1]}, cv=CV,
                        scoring=scoring, **kw)


@pytest.mark.parametrize("scoring", ["r2", ["r2", "neg_mean_squared_error"],
                                     {"task": make_task_scorer(r2_score), "plain": "r2"}],
                         ids=["named", "list", "mixed-dict"])
def test_a_named_scorer_in_long_format_fails_every_fit_with_the_advice(routing, scoring):
    X, y, tasks = _long()
    with pytest.raises(ValueError, match=r"All the 6 fits failed") as info:
        _search(scoring, refit=False).fit(X, y, tasks=tasks)
    assert "long format" in str(info.value)
    assert "make_task_scorer" in str(info.value)


def test_error_score_raise_gives_the_message_itself(routing):
    X, y, tasks = _long()
    with pytest.raises(ValueError, match=ADVICE):
        _search("r2", error_score="raise").fit(X, y, tasks=tasks)


@pytest.mark.parametrize("scoring", ["r2", None, make_task_scorer(r2_score)])
def test_without_routing_every_scorer_is_refused_naming_set_config(scoring):
    X, y, tasks = _long()  # tasks reach fit as a fit parameter, no scorer gets them
    with pytest.raises(ValueError, match=r"enable_metadata_routing=True"):
        _search(scoring, error_score="raise").fit(X, y, tasks=tasks)


def test_in_joblib_workers(routing):
    X, y, tasks = _long()
    with pytest.raises(ValueError, match="(?s)All the 6 fits failed.*make_task_scorer"):
        _search("r2", n_jobs=2).fit(X, y, tasks=tasks)


def test_cross_validate_of_a_pipeline_with_roc_auc(routing):
    X, y, tasks = _long()
    pipe = make_pipeline(StandardScaler(), MultiTaskClassifier(alpha=0.01))
    with pytest.raises(ValueError, match="(?s)All the 3 fits failed.*make_task_scorer"):
        cross_validate(pipe, X, (y > 0).astype(int), params={"tasks": tasks}, cv=CV,
                       scoring="roc_auc")


def test_cv_estimator_under_a_search(routing):
    X, y, tasks = _long()
    search = GridSearchCV(MultiTaskRegressorCV(alphas=3, cv=2), {"eps": [1e-2]}, cv=CV,
                          scoring="r2", error_score="raise")
    with pytest.raises(ValueError, match=ADVICE):
        search.fit(X, y, tasks=tasks)


def test_a_wide_y_with_missing_labels(routing):
    rng = np.random.RandomState(0)
    X = rng.randn(90, 4)
    Y = X @ rng.randn(4, 2)
    fine = _search("r2").fit(X, Y)  # every label present: the named scorer works
    assert np.all(np.isfinite(fine.cv_results_["mean_test_score"]))
    Y[:10, 1] = np.nan
    with pytest.raises(ValueError, match=r"missing labels \(NaN\)"):
        _search("r2", error_score="raise").fit(X, Y)


@pytest.mark.parametrize("scoring", [None, make_task_scorer(r2_score),
                                     {"r2": make_task_scorer(r2_score)}],
                         ids=["none", "task-scorer", "task-dict"])
def test_task_aware_scorers_run(routing, scoring):
    X, y, tasks = _long()
    search = _search(scoring, refit=False, error_score="raise").fit(X, y, tasks=tasks)
    for key, value in search.cv_results_.items():
        if key.startswith("mean_test"):
            assert np.all(np.isfinite(value)) and np.all(value > 0.9)


def test_a_plain_function_gets_no_tasks_and_is_refused_in_long_format(routing):
    X, y, tasks = _long()
    with pytest.raises(ValueError, match="does not pass tasks= to predict"):
        _search(lambda est, X, y, tasks=None: est.score(X, y, tasks=tasks),
                error_score="raise").fit(X, y, tasks=tasks)


def test_a_wide_y_with_missing_labels_and_the_estimators_score_runs():
    rng = np.random.RandomState(0)
    X = rng.randn(90, 4)
    Y = X @ rng.randn(4, 2)
    Y[:10, 1] = np.nan
    search = _search(None, error_score="raise").fit(X, Y)  # routing off too
    assert np.all(search.cv_results_["mean_test_score"] > 0.9)


def test_never_outside_a_search():
    X, y, tasks = _long()
    check_search_scorer(MultiTaskRegressor(), y, tasks)  # no search: nothing to check
    est = MultiTaskRegressor(alpha=0.01).fit(X, y, tasks=tasks)
    assert est.score(X, y, tasks=tasks) > 0.9
    # a single-task fit under a named scorer is fine: no tasks to lose
    search = _search("r2", error_score="raise").fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_a_task_scorer_for_auc_in_long_format(routing):
    X, y, tasks = _long()
    scorer = make_task_scorer(roc_auc_score, response_method="predict_proba")
    out = cross_validate(MultiTaskClassifier(alpha=0.01), X, (y > 0).astype(int),
                         params={"tasks": tasks}, cv=CV, scoring=scorer,
                         error_score="raise")
    assert np.all(out["test_score"] > 0.8)
