"""The defaults fit a useful model on standardised data (issue 15, alpha="auto").

Each estimator with its defaults is not constant, and its held-out score is
within a margin of the same estimator tuned by cross-validation.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmtl import (MultiTaskClassifier, MultiTaskClassifierCV, MultiTaskRegressor,
                   MultiTaskRegressorCV)
from skmtl.linear._path import alpha_max
from skmtl.metrics import make_task_scorer

AUC = make_task_scorer(roc_auc_score, response_method="decision_function")


def _standardised(n=1200, p=30, T=4, seed=0):
    rng = np.random.RandomState(seed)
    X = StandardScaler().fit_transform(rng.randn(n, p) @ rng.randn(p, p) / np.sqrt(p))
    tasks = rng.randint(T, size=n)
    W = np.zeros((p, T))
    W[:6] = rng.randn(6, 1) + 0.3 * rng.randn(6, T)
    f = np.einsum("ij,ji->i", X, W[:, tasks])
    return X, f / f.std(), tasks, rng


def _split(X, y, tasks):
    return train_test_split(X, y, tasks, test_size=0.5, random_state=0,
                            stratify=tasks)


def _regression():
    X, f, tasks, rng = _standardised()
    return X, f + rng.randn(len(f)), tasks


def _binary():
    X, f, tasks, rng = _standardised(seed=1)
    return X, (f + 0.7 * rng.randn(len(f)) > 0).astype(int), tasks


def _multiclass():
    X, f, tasks, rng = _standardised(seed=2)
    g = f + 0.5 * rng.randn(len(f))
    return X, np.digitize(g, np.quantile(g, [1 / 3, 2 / 3])), tasks


def _sparse_text(n=1500, p=3000, T=3, seed=3):
    """tf-idf-like rows: Zipf word counts, each task's positives use a few words."""
    rng = np.random.RandomState(seed)
    freq = 1.0 / np.arange(1, p + 1) ** 1.1
    lengths = rng.poisson(40, n) + 5
    rows = np.repeat(np.arange(n), lengths)
    cols = rng.choice(p, lengths.sum(), p=freq / freq.sum())
    tasks = rng.randint(T, size=n)
    label = rng.rand(n) < 0.5
    topic = rng.choice(np.arange(50, 1500), (T, 20), replace=False)
    pos = np.flatnonzero(label)
    rows = np.r_[rows, np.repeat(pos, 3)]
    cols = np.r_[cols, np.concatenate([rng.choice(topic[tasks[i]], 3) for i in pos])]
    X = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, p))
    X.sum_duplicates()
    X = sp.csr_matrix(X.multiply(1 / np.sqrt(np.asarray(X.multiply(X).sum(1)))))
    return X, (label ^ (rng.rand(n) < 0.1)).astype(int), tasks


def _held_out(est, Xte, yte, tte):
    return AUC(est, Xte, yte, tasks=tte) if est._classifier else \
        est.score(Xte, yte, tasks=tte)


CASES = {
    "regression-l21": (_regression, MultiTaskRegressor, MultiTaskRegressorCV, "l21"),
    "regression-l2": (_regression, MultiTaskRegressor, MultiTaskRegressorCV, "l2"),
    "regression-mean": (_regression, MultiTaskRegressor, MultiTaskRegressorCV, "mean"),
    "regression-trace": (_regression, MultiTaskRegressor, MultiTaskRegressorCV, "trace"),
    "binary-l21": (_binary, MultiTaskClassifier, MultiTaskClassifierCV, "l21"),
    "binary-l2": (_binary, MultiTaskClassifier, MultiTaskClassifierCV, "l2"),
    "multiclass-l21": (_multiclass, MultiTaskClassifier, MultiTaskClassifierCV, "l21"),
    "sparse-l21": (_sparse_text, MultiTaskClassifier, MultiTaskClassifierCV, "l21"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_defaults_are_not_constant_and_near_the_cv_tuned_model(case):
    make, Est, EstCV, penalty = CASES[case]
    Xtr, Xte, ytr, yte, ttr, tte = _split(*make())
    est = (Est() if penalty == "l21" else Est(penalty=penalty)).fit(Xtr, ytr, tasks=ttr)
    assert np.any(est.coef_ != 0)
    out = est.decision_function(Xte, tasks=tte) if est._classifier else \
        est.predict(Xte, tasks=tte)
    assert np.ptp(out) > 0  # not a constant model
    kw = {"scoring": AUC} if est._classifier and case != "multiclass-l21" else {}
    tuned = EstCV(penalty=penalty, alphas=12, cv=3, **kw).fit(Xtr, ytr, tasks=ttr)
    if case == "multiclass-l21":  # accuracy, the score of the CV estimator
        default, best = est.score(Xte, yte, tasks=tte), tuned.score(Xte, yte, tasks=tte)
        assert default > 0.6
    else:
        default, best = _held_out(est, Xte, yte, tte), _held_out(tuned, Xte, yte, tte)
        assert default > (0.3 if not est._classifier else 0.75)
    assert default >= best - 0.03, (default, best)


def test_sparse_text_uses_some_features_not_all():
    X, y, tasks = _sparse_text()
    coef = MultiTaskClassifier().fit(X, y, tasks=tasks).coef_
    used = np.mean(np.any(coef != 0, axis=0))
    assert 0.001 < used < 0.5


def test_alpha_is_a_fraction_of_alpha_max_that_shrinks_with_the_rows():
    X, y, tasks = _regression()
    est = MultiTaskRegressor().fit(X, y, tasks=tasks)
    top = alpha_max(MultiTaskRegressor()._prepare(X, y, tasks, None, "l21"))
    assert 0 < est.alpha_ <= 0.5 * top
    few = MultiTaskRegressor().fit(X[:200], y[:200], tasks=tasks[:200])
    top_few = alpha_max(MultiTaskRegressor()._prepare(X[:200], y[:200], tasks[:200],
                                                      None, "l21"))
    assert few.alpha_ / top_few > est.alpha_ / top  # fewer rows: more of alpha_max


def test_quadratic_default_is_the_ridge_s2_p_over_n_and_scales_with_x():
    X, y, tasks = _regression()
    est = MultiTaskRegressor(penalty="l2").fit(X, y, tasks=tasks)
    n_t = np.bincount(tasks)
    v = 1 / (len(n_t) * n_t[tasks])  # each task's rows weigh 1 / n_tasks in all
    s2 = np.mean(v @ X**2 - (v @ X) ** 2)
    assert est.alpha_ == pytest.approx(s2 * X.shape[1] * np.mean(1 / n_t))
    scaled = MultiTaskRegressor(penalty="l2").fit(10 * X, y, tasks=tasks)
    assert scaled.alpha_ == pytest.approx(100 * est.alpha_)  # the same model
    np.testing.assert_allclose(scaled.predict(10 * X, tasks=tasks),
                               est.predict(X, tasks=tasks), rtol=1e-6, atol=1e-8)


def test_alpha_is_recorded_for_a_given_float_and_is_deterministic():
    X, y, tasks = _regression()
    assert MultiTaskRegressor(alpha=0.3).fit(X, y, tasks=tasks).alpha_ == 0.3
    a = MultiTaskRegressor().fit(X, y, tasks=tasks)
    b = MultiTaskRegressor().fit(X, y, tasks=tasks)
    assert a.alpha_ == b.alpha_
    np.testing.assert_array_equal(a.coef_, b.coef_)
