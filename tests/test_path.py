"""Regularization paths and the cross-validated estimators."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import MultiTaskLassoCV, lasso_path
from sklearn.model_selection import KFold

from skmtl import MultiTaskClassifier, MultiTaskClassifierCV, MultiTaskRegressor
from skmtl import MultiTaskRegressorCV
from skmtl.linear import Dirty, ElasticMix, multitask_path
from skmtl.linear._path import alpha_max


def _problem(seed=0, n=90, p=8, T=3):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    W = np.zeros((p, T))
    W[:3] = rng.randn(3, T)
    return X, X @ W + 0.3 * rng.randn(n, T)


@pytest.mark.parametrize("penalty", ["l21", "l1", "trace", "dirty",
                                     ElasticMix("l21", l1_ratio=0.3)],
                         ids=["l21", "l1", "trace", "dirty", "elastic-l21"])
def test_alpha_max_is_the_first_all_zero_solution(penalty):
    X, Y = _problem()
    est = MultiTaskRegressor(penalty=penalty, tol=1e-10, max_iter=5000)
    top = alpha_max(est._prepare(X, Y, None, None, penalty))
    assert np.all(est.set_params(alpha=top * 1.001).fit(X, Y).coef_ == 0)
    assert np.any(est.set_params(alpha=top * 0.95).fit(X, Y).coef_ != 0)


def test_alpha_max_of_the_logistic_loss():
    X, Y = _problem()
    y = (Y[:, 0] > 0).astype(int)
    tasks = np.repeat([0, 1, 2], 30)
    est = MultiTaskClassifier(penalty="l21", tol=1e-10, max_iter=5000)
    top = alpha_max(est._prepare(X, y, tasks, None, "l21"))
    assert np.all(est.set_params(alpha=top * 1.001).fit(X, y, tasks=tasks).coef_ == 0)
    assert np.any(est.set_params(alpha=top * 0.95).fit(X, y, tasks=tasks).coef_ != 0)


def test_single_task_l1_path_is_sklearns_lasso_path():
    X, Y = _problem()
    alphas, coefs, _, _ = multitask_path(
        MultiTaskRegressor(penalty="l1", tol=1e-12, max_iter=20000), X, Y[:, 0], alphas=8)
    Xc, yc = X - X.mean(0), Y[:, 0] - Y[:, 0].mean()
    ref_alphas, ref_coefs, _ = lasso_path(Xc, yc, alphas=8, tol=1e-12, max_iter=100000)
    np.testing.assert_allclose(alphas, ref_alphas, rtol=1e-10)
    np.testing.assert_allclose(coefs[:, 0, :], ref_coefs.T, atol=1e-6)


@pytest.mark.parametrize("penalty", ["trace", "mean"])
def test_warm_started_path_equals_cold_fits(penalty):
    X, Y = _problem()
    est = MultiTaskRegressor(penalty=penalty, tol=1e-10, max_iter=20000)
    alphas, coefs, intercepts, gaps = multitask_path(est, X, Y, alphas=5, eps=1e-2)
    assert np.all(np.diff(alphas) < 0)
    for a, c, b in zip(alphas, coefs, intercepts):
        cold = MultiTaskRegressor(penalty=penalty, alpha=a, tol=1e-10, max_iter=20000)
        cold.fit(X, Y)
        np.testing.assert_allclose(c, cold.coef_, atol=1e-5)
        np.testing.assert_allclose(b, cold.intercept_, atol=1e-5)


def test_regressor_cv_matches_sklearns_multitask_lasso_cv():
    X, Y = _problem(n=120)
    cv = KFold(4)
    ours = MultiTaskRegressorCV(alphas=12, cv=cv, tol=1e-10, max_iter=20000).fit(X, Y)
    ref = MultiTaskLassoCV(alphas=12, cv=cv, tol=1e-10, max_iter=100000).fit(X, Y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-10)
    # both average the squared errors over rows and tasks
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-5)
    assert ours.alpha_ == pytest.approx(ref.alpha_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)


def test_regressor_cv_chooses_among_penalties_in_parallel():
    X, Y = _problem()
    grid = [Dirty(l1_ratio=0.2), Dirty(l1_ratio=0.8)]
    model = MultiTaskRegressorCV(penalty=grid, alphas=6, cv=3, n_jobs=2).fit(X, Y)
    assert model.mse_path_.shape == (2, 6, 3)
    assert model.alphas_.shape == (2, 6)
    k, j = np.unravel_index(np.argmin(model.mse_path_.mean(axis=2)), (2, 6))
    assert model.penalty_ is grid[k] and model.alpha_ == model.alphas_[k, j]
    refit = MultiTaskRegressor(penalty=grid[k], alpha=model.alpha_).fit(X, Y)
    np.testing.assert_allclose(model.coef_, refit.coef_, atol=1e-6)


def test_classifier_cv_long_format_keeps_every_class_of_every_task_in_training():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 5)
    tasks = np.repeat(["a", "b", "c"], 40)
    y = (X[:, 0] + 0.5 * rng.randn(120) > 0).astype(int)
    clf = MultiTaskClassifierCV(alphas=5, cv=4).fit(X, y, tasks=tasks)
    assert clf.scores_path_.shape == (5, 4)
    assert clf.scores_path_.max() > 0.8
    assert clf.score(X, y, tasks=tasks) > 0.8


def test_path_verbose_shows_progress(capsys):
    X, Y = _problem()
    multitask_path(MultiTaskRegressor(verbose=1), X, Y, alphas=3)
    out = capsys.readouterr().out
    assert "[path] alpha 3/3" in out


def test_classifier_cv_takes_a_task_aware_scorer_for_rare_positives():
    from sklearn.metrics import roc_auc_score

    from skmtl.metrics import make_task_scorer

    rng = np.random.RandomState(0)
    X = rng.randn(600, 5)
    tasks = np.repeat([0, 1, 2], 200)
    y = (X[:, 0] + 0.5 * rng.randn(600) > 1.6).astype(int)  # about 7% positives
    auc = make_task_scorer(roc_auc_score, response_method="predict_proba")
    clf = MultiTaskClassifierCV(penalty="trace", alphas=8, cv=3, scoring=auc)
    clf.fit(X, y, tasks=tasks)
    assert np.any(clf.coef_ != 0)  # accuracy would tie at the all-negative model
    k = np.argmax(clf.scores_path_.mean(axis=1))
    assert clf.alpha_ == clf.alphas_[k]
    assert clf.score(X, y, tasks=tasks) > 0.9


def test_cv_reports_fold_fits_that_did_not_converge_once():
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from skmtl import MultiTaskRegressorCV

    rng = np.random.RandomState(0)
    X, Y = rng.randn(60, 8), rng.randn(60, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MultiTaskRegressorCV(penalty="trace", alphas=4, cv=3, max_iter=2, tol=1e-12).fit(X, Y)
    summary = [w for w in caught if "in cross-validation" in str(w.message)]
    assert len(summary) == 1 and issubclass(summary[0].category, ConvergenceWarning)
    assert str(summary[0].message).startswith("12 of 12 path fits")


def test_cv_warns_when_the_best_alpha_is_the_end_of_the_grid():
    import warnings

    from skmtl import MultiTaskRegressorCV

    rng = np.random.RandomState(0)
    X = rng.randn(80, 5)
    Y = X @ rng.randn(5, 3) + 0.01 * rng.randn(80, 3)  # almost no noise: tiny alpha wins
    with pytest.warns(UserWarning, match="smallest of the grid"):
        MultiTaskRegressorCV(penalty="l2", alphas=4, eps=0.5, cv=3).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        MultiTaskRegressorCV(penalty="l2", alphas=[1e-8, 1.0], cv=3).fit(X, Y)  # given


def _blas_threads_in_solve(monkeypatch, est, X, y, cv=False):
    """The BLAS thread counts seen inside each solve of a fit."""
    from threadpoolctl import threadpool_info

    from skmtl.linear._problem import Problem

    seen, solve = [], Problem.solve

    def spy(self, *args, **kwargs):
        seen.append(max(i["num_threads"] for i in threadpool_info()
                        if i["user_api"] == "blas"))
        return solve(self, *args, **kwargs)

    monkeypatch.setattr(Problem, "solve", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return seen


def test_a_small_problem_is_solved_on_one_blas_thread(monkeypatch):
    from threadpoolctl import threadpool_info

    default = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    rng = np.random.RandomState(0)
    X, Y = rng.randn(200, 10), rng.randn(200, 3)
    for est in (MultiTaskRegressor(), MultiTaskRegressor(penalty="trace", alpha=0.1),
                MultiTaskRegressorCV(alphas=3, cv=2)):
        seen = _blas_threads_in_solve(monkeypatch, est, X, Y)
        assert seen and set(seen) == {1}, (est, seen)
    if default == 1:
        pytest.skip("one BLAS thread by default here: nothing to tell apart")
    # 5000 rows x 200 features x 10 tasks in the data space: 1e7 multiply-adds a pass
    X, Y = rng.randn(5000, 200), rng.randn(5000, 10)
    big = MultiTaskRegressor(alpha=0.1, precompute=False, solver="fista", max_iter=2)
    assert set(_blas_threads_in_solve(monkeypatch, big, X, Y)) == {default}
