"""skmtl as a drop-in for scikit-learn's linear models: the same problems, side by side.

Each sklearn estimator is fitted beside its skmtl spelling (see the migration
guide): the fitted attributes have the same shapes and dtypes, the coefficients
agree at a tight tolerance, the positional call ``fit(X, y, sample_weight)`` means
the same, and the same bad input raises the same exception type.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import Lasso, LogisticRegression, MultiTaskLasso, Ridge

from skmtl import (
    MultiTaskClassifier,
    MultiTaskClassifierCV,
    MultiTaskRegressor,
    MultiTaskRegressorCV,
)

rng = np.random.RandomState(0)
N, P = 80, 5
X = rng.randn(N, P)
W_TRUE = rng.randn(P, 3)
Y = X @ W_TRUE + 0.5 * rng.randn(N, 3) + 3.0
y = Y[:, 0]
WEIGHTS = rng.uniform(0.5, 2.0, N)
LABELS = (X[:, 0] + 0.5 * rng.randn(N) > 0).astype(int)
LABELS3 = np.digitize(X[:, 0] + 0.5 * rng.randn(N), [-0.5, 0.5])
TIGHT = dict(tol=1e-12, max_iter=100000)


def _pairs(dtype=np.float64):
    """(sklearn estimator, its skmtl spelling, X, target) on the same problem."""
    a = 0.05
    return [
        (Ridge(alpha=a * N), MultiTaskRegressor("l2", alpha=a, **TIGHT), y),
        (Lasso(alpha=a, tol=1e-12, max_iter=100000),
         MultiTaskRegressor("l1", alpha=a, **TIGHT), y),
        (MultiTaskLasso(alpha=a, tol=1e-12, max_iter=100000),
         MultiTaskRegressor("l21", alpha=a, **TIGHT), Y),
        (LogisticRegression(C=1 / (a * N), tol=1e-12, max_iter=10000),
         MultiTaskClassifier("l2", alpha=a, **TIGHT), LABELS),
        (LogisticRegression(C=1 / (a * N), tol=1e-12, max_iter=10000),
         MultiTaskClassifier("l2", alpha=a, **TIGHT), LABELS3),
    ]


IDS = ["ridge", "lasso", "multitask_lasso", "logistic_binary", "logistic_multinomial"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", range(5), ids=IDS)
def test_fitted_attributes_have_sklearns_shapes_and_dtypes(k, dtype):
    ref, ours, target = _pairs()[k]
    Xd = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(Xd, target)
        ours.fit(Xd, target)
    for name in ("coef_", "intercept_"):
        a, b = np.asarray(getattr(ref, name)), np.asarray(getattr(ours, name))
        assert a.shape == b.shape, name
        assert a.dtype == b.dtype, (name, a.dtype, b.dtype)
    assert np.shape(ref.intercept_) == np.shape(ours.intercept_)
    pa, pb = ref.predict(Xd), ours.predict(Xd)
    assert pa.shape == pb.shape and pa.dtype == pb.dtype
    if isinstance(ref, LogisticRegression):
        assert ours.n_iter_.shape == ref.n_iter_.shape
        assert ours.n_iter_.dtype == ref.n_iter_.dtype
        assert ours.predict_proba(Xd).shape == ref.predict_proba(Xd).shape


@pytest.mark.parametrize("k", range(5), ids=IDS)
def test_the_same_coefficients_at_a_tight_tolerance(k):
    ref, ours, target = _pairs()[k]
    ref.fit(X, target)
    ours.fit(X, target)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-6, rtol=1e-6)


def test_multinomial_intercepts_are_centred_per_task():
    tasks = np.repeat([0, 1], N // 2)
    labels = np.where(tasks == 0, LABELS3, LABELS)  # task 0 multiclass, task 1 binary
    clf = MultiTaskClassifier("l2", alpha=0.05).fit(X, labels, tasks=tasks)
    assert abs(clf.intercept_[:3].sum()) < 1e-12  # the three classes of task 0
    clf_wide = MultiTaskClassifier("l2", alpha=0.05).fit(X, LABELS3)
    assert abs(clf_wide.intercept_.sum()) < 1e-12


def test_the_third_positional_argument_is_sample_weight():
    a = MultiTaskRegressor("l2", alpha=0.05).fit(X, y, WEIGHTS)
    b = MultiTaskRegressor("l2", alpha=0.05).fit(X, y, sample_weight=WEIGHTS)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.allclose(a.coef_, MultiTaskRegressor("l2", alpha=0.05).fit(X, y).coef_)
    ref = Ridge(alpha=0.05 * N).fit(X, y, WEIGHTS)  # sklearn's weights are not per-mean
    assert ref.coef_.shape == a.coef_.shape


def test_the_positional_score_takes_sample_weight_too():
    est = MultiTaskRegressor("l2", alpha=0.05).fit(X, y)
    assert est.score(X, y, WEIGHTS) == est.score(X, y, sample_weight=WEIGHTS)


@pytest.mark.parametrize("make", [
    lambda: (Ridge(), MultiTaskRegressor("l2")),
    lambda: (LogisticRegression(), MultiTaskClassifier("l2")),
], ids=["ridge", "logistic"])
def test_the_same_exception_on_the_same_bad_input(make):
    ref, ours = make()
    target = LABELS if isinstance(ref, LogisticRegression) else y
    bad_X = X.copy()
    bad_X[3, 2] = np.nan
    for args in [(bad_X, target), (X[:, :0], target), (X, target[:-1])]:
        with pytest.raises(Exception) as a:
            ref.fit(*args)
        with pytest.raises(Exception) as b:
            ours.fit(*args)
        assert type(a.value) is type(b.value), (a.value, b.value)
    ref.fit(X, target)
    ours.fit(X, target)
    for bad in [X[:, :3], bad_X]:
        with pytest.raises(Exception) as a:
            ref.predict(bad)
        with pytest.raises(Exception) as b:
            ours.predict(bad)
        assert type(a.value) is type(b.value)
    with pytest.raises(NotFittedError):
        type(ours)().predict(X)


@pytest.mark.parametrize("cls", [MultiTaskRegressor, MultiTaskClassifier])
def test_warm_start_from_an_assigned_coef(cls):
    target = LABELS if cls is MultiTaskClassifier else y
    solved = cls("l2", alpha=0.05, tol=1e-10, max_iter=10000).fit(X, target)
    est = cls("l2", alpha=0.05, tol=1e-10, max_iter=10000, warm_start=True)
    est.fit(X[:10], target[:10])  # some other solution first
    est.coef_, est.intercept_ = solved.coef_.copy(), solved.intercept_.copy()
    est.fit(X, target)
    assert int(np.max(est.n_iter_)) == 1  # it starts at the optimum
    np.testing.assert_allclose(est.coef_, solved.coef_, atol=1e-5)  # one step away


def test_cv_takes_a_scalar_sample_weight():
    a = MultiTaskRegressorCV(alphas=4, cv=3).fit(X, Y, sample_weight=2.0)
    b = MultiTaskRegressorCV(alphas=4, cv=3).fit(X, Y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)


@pytest.mark.parametrize("alphas", [[0.1, -1.0], [0.1, np.nan], [np.inf], []])
@pytest.mark.parametrize("cls", [MultiTaskRegressorCV, MultiTaskClassifierCV])
def test_cv_refuses_alphas_that_are_not_finite_and_non_negative(cls, alphas):
    target = LABELS if cls is MultiTaskClassifierCV else Y
    with pytest.raises(ValueError, match="alphas must be a non-empty 1-D array of finite"):
        cls(alphas=alphas, cv=2).fit(X, target)


# ----------------------------------------------------------- class_weight
def test_class_weight_balanced_equals_the_weights_it_stands_for():
    skewed = (X[:, 0] > 0.8).astype(int)  # about a fifth positive
    counts = np.bincount(skewed)
    w = (N / (2 * counts))[skewed]
    a = MultiTaskClassifier("l2", alpha=0.05, class_weight="balanced").fit(X, skewed)
    b = MultiTaskClassifier("l2", alpha=0.05).fit(X, skewed, sample_weight=w)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-12)
    ref = LogisticRegression(C=1 / (0.05 * N), class_weight="balanced", tol=1e-12,
                             max_iter=10000).fit(X, skewed)
    # sklearn sums the weighted losses; skmtl takes their weighted mean: mean weight 1
    ours = MultiTaskClassifier("l2", alpha=0.05 * N / w.sum(), class_weight="balanced",
                               **TIGHT).fit(X, skewed)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)  # lbfgs's accuracy


def test_class_weight_is_per_task_and_names_unknown_labels():
    tasks = np.repeat([0, 1], N // 2)
    est = MultiTaskClassifier("l2", alpha=0.05, class_weight={1: 5.0})
    base = MultiTaskClassifier("l2", alpha=0.05)
    assert not np.allclose(est.fit(X, LABELS, tasks=tasks).coef_,
                           base.fit(X, LABELS, tasks=tasks).coef_)
    with pytest.raises(ValueError, match=r"class_weight has labels \[7\]"):
        MultiTaskClassifier(class_weight={7: 2.0}).fit(X, LABELS, tasks=tasks)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_lasso_on_sparse_and_weighted_data(sparse, weighted):
    import scipy.sparse as sp

    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0.0)) if sparse else X
    w = WEIGHTS if weighted else None
    ref = Lasso(alpha=0.02, tol=1e-12, max_iter=100000).fit(Xs, y, sample_weight=w)
    ours = MultiTaskRegressor("l1", alpha=0.02, **TIGHT).fit(Xs, y, w)
    # sklearn scales its weights to sum to n_samples: each task's weighted mean
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-6)


def test_ill_conditioned_ridge():
    Xc = X @ np.diag([1.0, 1.0, 1e-3, 1e3, 1.0])  # condition number ~1e6
    Xc[:, 1] = Xc[:, 0] + 1e-4 * X[:, 1]
    ref = Ridge(alpha=1e-2 * N).fit(Xc, y)
    ours = MultiTaskRegressor("l2", alpha=1e-2, tol=1e-14, max_iter=200000).fit(Xc, y)
    np.testing.assert_allclose(ours.predict(Xc), ref.predict(Xc), atol=1e-5)


def test_the_cv_estimator_chooses_multitasklassocvs_alpha_on_the_same_folds():
    from sklearn.linear_model import MultiTaskLassoCV
    from sklearn.model_selection import KFold

    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    grid = np.geomspace(1.0, 1e-3, 12)
    ref = MultiTaskLassoCV(alphas=grid, cv=folds, tol=1e-10, max_iter=100000).fit(X, Y)
    ours = MultiTaskRegressorCV("l21", alphas=grid, cv=folds, tol=1e-10,
                                max_iter=100000).fit(X, Y)
    assert ours.alpha_ == ref.alpha_
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)


def test_cv_passes_the_tasks_to_a_task_aware_splitter():
    from skmtl.model_selection import TaskKFold

    tasks = np.repeat(["a", "b", "c", "d"], N // 4)
    order = np.argsort(tasks, kind="stable")  # a plain KFold would hold tasks out whole
    est = MultiTaskRegressorCV(alphas=[1.0, 0.1, 0.01], cv=TaskKFold(2))
    est.fit(X[order], y[order], tasks=tasks[order])
    assert list(est.tasks_) == ["a", "b", "c", "d"] and est.mse_path_.shape == (3, 2)


@pytest.mark.parametrize("alphas", [[0.1, -1.0], [np.nan], [np.inf], [], 0])
def test_multitask_path_refuses_bad_alphas(alphas):
    from skmtl.linear import multitask_path

    with pytest.raises(ValueError, match="alphas must be"):
        multitask_path(MultiTaskRegressor(), X, Y, alphas=alphas)


def test_a_constant_target_gives_sklearns_grid_not_subnormals():
    est = MultiTaskRegressorCV(alphas=5, cv=2).fit(X, np.full(N, 3.0))
    np.testing.assert_array_equal(est.alphas_, np.full(5, np.finfo(float).resolution))
    assert not np.any(est.coef_) and np.allclose(est.predict(X), 3.0)


@pytest.mark.parametrize("wide", [False, True], ids=["long", "wide"])
def test_cv_says_a_task_is_too_small_for_the_folds_with_the_datas_counts(wide):
    small = 3 if wide else 2  # stratified by task, 3 rows keep 2 in every fold
    tasks = np.array(["big"] * (N - small) + ["tiny"] * small)
    if wide:
        Yw = np.column_stack([y, np.where(tasks == "tiny", y, np.nan)])
        fit = dict(X=X, y=Yw)
        match = r"Task column 1 has 3 labelled rows in all, and training fold \d of 5"
    else:
        fit = dict(X=X, y=y, tasks=tasks)
        match = r"Task 'tiny' has 2 labelled rows in all, and training fold \d of 5"
    with pytest.raises(ValueError, match=match):
        MultiTaskRegressorCV(alphas=3, cv=5).fit(**fit)


def _tasks_problem(spread, seed=0, T=8, n=40, p=5):
    rng = np.random.RandomState(seed)
    tasks = np.repeat(np.arange(T), n)
    Xt = rng.randn(T * n, p)
    W = rng.randn(p, 1) + spread * rng.randn(p, T)
    return Xt, np.einsum("ij,ji->i", Xt, W[:, tasks]) + 0.5 * rng.randn(T * n), tasks


def test_the_automatic_grid_grows_past_its_smallest_alpha_when_the_best_lies_there():
    """Different tasks want little mean-regularization: an automatic grid of one
    decade (eps=0.1) grows a decade at a time until the best alpha is inside."""
    Xt, yt, tasks = _tasks_problem(0.8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "best alpha at the edge"
        est = MultiTaskRegressorCV("mean", alphas=6, eps=0.1, cv=3).fit(Xt, yt,
                                                                      tasks=tasks)
    assert est.alphas_.size > 6 and est.mse_path_.shape == (est.alphas_.size, 3)
    assert np.all(np.diff(est.alphas_) < 0)  # one decreasing grid
    best = np.argmin(est.mse_path_.mean(axis=1))
    assert 5 < best < est.alphas_.size - 1  # below the first grid, inside the grown one
    assert est.alpha_ == est.alphas_[best]
    fixed = MultiTaskRegressorCV("mean", alphas=est.alphas_[:6], cv=3).fit(
        Xt, yt, tasks=tasks)  # an explicit grid never grows
    assert fixed.alphas_.size == 6
