"""New tasks: the shared model (shared_coef) and adapt (issue 14)."""

import numpy as np
import pytest

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl._estimators._new_tasks import new_task_prior, shared_coef


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


# ------------------------------------------------------------------------- adapt
from sklearn.linear_model import LogisticRegression, RidgeCV  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from skmtl._estimators._adapted import PriorLogisticRegression, PriorRidge  # noqa: E402


def _family(W, n, rng, noise=0.5):
    """Rows of tasks with coefficients W (n_tasks, p), long format."""
    X = rng.randn(len(W) * n, W.shape[1])
    tasks = np.repeat(np.arange(len(W)), n)
    return X, np.einsum("ij,ij->i", X, W[tasks]) + noise * rng.randn(len(X)), tasks


def _new_task_scores(est, make_w, rng, k=5, n_new=15, p=20):
    adapted, single = [], []
    for _ in range(n_new):
        w = make_w()
        X, y, _ = _family(w[None], k + 200, rng)
        adapted.append(est.adapt(X[:k], y[:k]).score(X[k:], y[k:]))
        single.append(RidgeCV().fit(X[:k], y[:k]).score(X[k:], y[k:]))
    return np.median(adapted), np.median(single)


def test_adapt_shrinks_to_the_learned_mean():
    rng = np.random.RandomState(0)
    p, wbar = 20, rng.randn(20)
    X, y, tasks = _family(wbar + 0.2 * rng.randn(10, p), 30, rng)
    est = MultiTaskRegressor(penalty="mean", alpha=0.01).fit(X, y, tasks=tasks)
    adapted, single = _new_task_scores(est, lambda: wbar + 0.2 * rng.randn(p), rng)
    assert adapted > 0.8 and adapted > single + 0.5


def test_adapt_stays_in_the_learned_subspace():
    rng = np.random.RandomState(1)
    p, r = 30, 2
    U = np.linalg.qr(rng.randn(p, r))[0] * 3
    X, y, tasks = _family(rng.randn(20, r) @ U.T, 40, rng)  # no shared mean: a subspace
    est = MultiTaskRegressor(penalty="trace", alpha=1.0).fit(X, y, tasks=tasks)
    _, _, basis = new_task_prior(est)
    assert basis.shape == (p, r)
    adapted, single = _new_task_scores(est, lambda: U @ rng.randn(r), rng, k=6)
    assert adapted > 0.7 and adapted > single + 0.4


def test_adapt_l21_uses_the_selected_features():
    rng = np.random.RandomState(2)
    W = np.zeros((8, 15))
    W[:, :3] = 1.0 + 0.3 * rng.randn(8, 3)
    X, y, tasks = _family(W, 40, rng)
    est = MultiTaskRegressor(penalty="l21", alpha=0.3).fit(X, y, tasks=tasks)
    selected = np.any(est.coef_ != 0, axis=0)
    assert 3 <= selected.sum() < 15
    model = est.adapt(X[:5], y[:5])
    assert np.all(model.coef_[~selected] == 0)


def test_adapt_picks_the_nearest_cluster():
    rng = np.random.RandomState(3)
    centres = 2.0 * rng.randn(2, 10)
    X, y, tasks = _family(centres[np.arange(12) % 2] + 0.1 * rng.randn(12, 10), 30, rng)
    est = MultiTaskRegressor(penalty="cluster", alpha=0.01).fit(X, y, tasks=tasks)
    coef, _, _ = new_task_prior(est)
    assert coef.shape == (2, 1, 10)
    for c in range(2):
        Xn, yn, _ = _family(centres[c][None], 8, rng)
        model = est.adapt(Xn, yn)
        nearest = np.argmin(((coef[:, 0] - centres[c]) ** 2).sum(axis=1))
        assert model.prior_ == nearest


def test_adapt_classifier_beats_single_task():
    rng = np.random.RandomState(4)
    p, wbar = 10, 2 * rng.randn(10)
    X, y, tasks = _family(wbar + 0.3 * rng.randn(10, p), 40, rng)
    clf = MultiTaskClassifier(penalty="mean", alpha=0.01).fit(X, y > 0, tasks=tasks)
    adapted, single = [], []
    for _ in range(10):
        Xn, yn, _ = _family((wbar + 0.3 * rng.randn(p))[None], 306, rng)
        yn = yn > 0
        order = np.r_[np.flatnonzero(yn)[:3], np.flatnonzero(~yn)[:3]]  # 3 of each
        rest = np.setdiff1d(np.arange(len(yn)), order)
        model = clf.adapt(Xn[order], yn[order])
        adapted.append(roc_auc_score(yn[rest], model.decision_function(Xn[rest])))
        lr = LogisticRegression().fit(Xn[order], yn[order])
        single.append(roc_auc_score(yn[rest], lr.decision_function(Xn[rest])))
    assert np.median(adapted) > 0.95 and np.median(adapted) > np.median(single) + 0.05


def test_adapt_shapes_and_the_estimator_untouched():
    X, y, tasks = _tasks_data()
    est = MultiTaskRegressor(penalty="mean", alpha=0.01).fit(X, y, tasks=tasks)
    before = {k: np.copy(v) if isinstance(v, np.ndarray) else v
              for k, v in est.__dict__.items()}
    model = est.adapt(X[:7].astype(np.float32), y[:7])
    assert model.coef_.shape == (X.shape[1],) and model.coef_.dtype == np.float64
    assert isinstance(model.intercept_, float) and model.predict(X[:3]).shape == (3,)
    assert est.__dict__.keys() == before.keys()
    for k, v in before.items():
        np.testing.assert_equal(est.__dict__[k], v)
    again = est.adapt(X[:7], y[:7])  # the same rows: the same model
    np.testing.assert_array_equal(again.coef_, est.adapt(X[:7], y[:7]).coef_)
    y3 = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    for labels, n_out in [(y > 0, 1), (y3, 3)]:
        clf = MultiTaskClassifier(penalty="mean", alpha=0.01).fit(X, labels, tasks=tasks)
        model = clf.adapt(X[:12], labels[:12])
        assert model.coef_.shape == (n_out, X.shape[1]) and model.intercept_.shape == (n_out,)
        proba = model.predict_proba(X[:4])
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert proba.shape == (4, len(clf._classes[0]))
        assert model.decision_function(X[:4]).shape == ((4,) if n_out == 1 else (4, 3))
        assert set(model.predict(X)) <= set(clf._classes[0])


def test_adapt_few_rows_is_the_prior():
    X, y, tasks = _tasks_data()
    est = MultiTaskRegressor(penalty="mean", alpha=0.01).fit(X, y, tasks=tasks)
    model = est.adapt(X[:2], y[:2])
    assert model.alpha_ == np.inf
    np.testing.assert_allclose(model.coef_, shared_coef(est)[0][0])
    assert model.intercept_ == pytest.approx(shared_coef(est)[1][0])


def test_adapt_bad_input():
    X, y, tasks = _tasks_data()
    est = MultiTaskRegressor(penalty="mean", alpha=0.01).fit(X, y, tasks=tasks)
    with pytest.raises(ValueError, match="features"):
        est.adapt(X[:5, :3], y[:5])
    Xn = X[:5].copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.adapt(Xn, y[:5])
    with pytest.raises(ValueError, match="NaN"):
        est.adapt(X[:5], np.r_[np.nan, y[1:5]])
    with pytest.raises(ValueError, match="alpha"):
        est.adapt(X[:5], y[:5], alpha=-1.0)
    clf = MultiTaskClassifier(penalty="mean", alpha=0.01).fit(X, y > 0, tasks=tasks)
    with pytest.raises(ValueError, match="1 class"):
        clf.adapt(X[:5], np.ones(5, dtype=bool))
    with pytest.raises(ValueError, match="no output for"):
        clf.adapt(X[:5], [0, 1, 2, 0, 1])
    hinge = MultiTaskClassifier(penalty="mean", alpha=0.01, loss="squared_hinge")
    with pytest.raises(ValueError, match="logistic"):
        hinge.fit(X, y > 0, tasks=tasks).adapt(X[:5], [0, 1, 0, 1, 0])


def test_prior_ridge_loo_is_exact():
    """The closed-form leave-one-out errors are those of the refits."""
    rng = np.random.RandomState(5)
    X, s = rng.randn(12, 5), rng.rand(12) + 0.5
    y = X @ np.arange(5.0) + 1 + rng.randn(12)
    w0 = np.ones((2, 5))
    w0[1] = np.arange(5.0)
    for fit_intercept in [True, False]:
        model = PriorRidge(w0, [0.0, 1.0], basis=rng.randn(5, 3),
                           fit_intercept=fit_intercept).fit(X, y, s)
        for c in range(2):
            for a in [0, 8, 16]:
                # the closed form keeps the penalty of the 12-row weighted sum
                errs = 0.0
                for i in range(12):
                    keep = np.arange(12) != i
                    scale = s.sum() / s[keep].sum()
                    fit = PriorRidge(w0[c], [0.0, 1.0][c], basis=model.basis,
                                     alpha=model.alphas_[a] * scale,
                                     fit_intercept=fit_intercept).fit(X[keep], y[keep], s[keep])
                    errs += s[i] * (y[i] - fit.predict(X[i:i + 1])[0]) ** 2
                assert model.cv_errors_[c, a] == pytest.approx(errs / s.sum())


def test_prior_logistic_is_logistic_regression_shifted():
    rng = np.random.RandomState(6)
    X, s = rng.randn(40, 5), rng.rand(40) + 0.5
    y = np.digitize(X @ np.arange(5.0) + rng.randn(40), [-1, 1])
    for labels, n_out in [(y > 0, 1), (y, 3)]:
        model = PriorLogisticRegression(np.zeros((n_out, 5)), np.zeros(n_out),
                                        np.unique(labels), alpha=0.1,
                                        fit_intercept=False).fit(X, labels, s)
        ref = LogisticRegression(C=1 / (0.1 * s.sum()), fit_intercept=False, tol=1e-10,
                                 max_iter=10000).fit(X, labels, sample_weight=s)
        np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)


def test_adapt_few_rows_no_worse_than_the_shared_model():
    """Tasks nearly identical, so the prior is right: adapt from 5 noisy rows must
    be within 5% of the shared model's error (the least leave-one-out error alone
    was 19% worse here: its choice over 5 rows is noisy; the one-SE rule 2%)."""
    rng = np.random.RandomState(7)
    p, w = 10, rng.randn(10)
    X = rng.randn(20 * 50, p)
    tasks = np.repeat(np.arange(20), 50)
    W = w + 0.01 * rng.randn(20, p)
    y = np.einsum("ij,ij->i", X, W[tasks]) + rng.randn(len(X))
    est = MultiTaskRegressor(penalty="mean", alpha=1.0).fit(X, y, tasks=tasks)
    coef, intercept = shared_coef(est)
    mse_adapt, mse_shared = [], []
    for _ in range(60):
        w_new = w + 0.01 * rng.randn(p)
        Xn = rng.randn(205, p)
        yn = Xn @ w_new + rng.randn(205)
        model = est.adapt(Xn[:5], yn[:5])
        mse_adapt.append(np.mean((yn[5:] - model.predict(Xn[5:])) ** 2))
        mse_shared.append(np.mean((yn[5:] - Xn[5:] @ coef[0] - intercept[0]) ** 2))
    assert np.mean(mse_adapt) <= 1.05 * np.mean(mse_shared)
