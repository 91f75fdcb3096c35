"""MultiTaskClassifier: per-task classes, probabilities, losses, sparse text."""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skmtl import MultiTaskClassifier

TIGHT = dict(tol=1e-10, max_iter=50000)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_single_task_l2_logistic_matches_sklearn(n_classes):
    """Our mean loss + alpha/2 ||W||^2 is LogisticRegression with C = 1/(n alpha)."""
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4)
    y = np.argmax(X[:, :n_classes] + 0.5 * rng.randn(120, n_classes), axis=1)
    alpha = 0.05
    ours = MultiTaskClassifier(penalty="l2", alpha=alpha, **TIGHT).fit(X, y)
    ref = LogisticRegression(C=1 / (len(X) * alpha), tol=1e-12, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_long_format_tasks_with_their_own_classes():
    rng = np.random.RandomState(1)
    X = rng.randn(300, 3)
    tasks = np.repeat(["binary", "three", "strings"], 100)
    y = np.empty(300, dtype=object)
    y[:100] = (X[:100, 0] > 0).astype(int)
    y[100:200] = np.digitize(X[100:200, 1], [-0.5, 0.5])
    y[200:] = np.where(X[200:, 2] > 0, "yes", "no")
    y = y.astype(str)
    clf = MultiTaskClassifier(penalty="l21", alpha=1e-3).fit(X, y, tasks=tasks)
    np.testing.assert_array_equal(clf.classes_, ["0", "1", "2", "no", "yes"])
    proba = clf.predict_proba(X, tasks=tasks)
    assert proba.shape == (300, 5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # a row's probability mass stays on its own task's classes
    assert np.all(proba[:100, 2:] == 0) and np.all(proba[200:, :3] == 0)
    pred = clf.predict(X, tasks=tasks)
    assert set(pred[:100]) <= {"0", "1"} and set(pred[200:]) <= {"no", "yes"}
    assert clf.score(X, y, tasks=tasks) > 0.9


def test_wide_format_follows_the_multi_output_convention():
    rng = np.random.RandomState(2)
    X = rng.randn(200, 4)
    Y = np.column_stack([X[:, 0] > 0, np.digitize(X[:, 1], [-0.5, 0.5])]).astype(float)
    Y[:30, 0] = np.nan
    clf = MultiTaskClassifier(alpha=1e-3).fit(X, Y)
    assert [list(c) for c in clf.classes_] == [[0.0, 1.0], [0.0, 1.0, 2.0]]
    proba = clf.predict_proba(X)
    assert [p.shape for p in proba] == [(200, 2), (200, 3)]
    assert clf.predict(X).shape == (200, 2)
    assert clf.coef_.shape == (1 + 3, 4)
    assert clf.score(X, Y) > 0.9


def test_squared_hinge_has_no_probabilities_but_classifies():
    rng = np.random.RandomState(3)
    X = rng.randn(200, 4)
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    tasks = np.repeat([0, 1], 100)
    clf = MultiTaskClassifier(loss="squared_hinge", alpha=1e-3).fit(X, y, tasks=tasks)
    assert not hasattr(clf, "predict_proba")
    assert clf.score(X, y, tasks=tasks) > 0.95
    dec = clf.decision_function(X, tasks=tasks)
    np.testing.assert_array_equal(clf.predict(X, tasks=tasks), (dec > 0).astype(int))


def test_text_pipeline_stays_sparse(monkeypatch):
    docs = [
        "great product fast delivery", "terrible support slow refund", "love it great",
        "broken on arrival refund", "works great fast", "awful slow broken",
        "excellent quality love", "bad quality awful", "fast shipping great seller",
        "slow shipping bad seller", "happy with purchase", "unhappy refund requested",
    ] * 5
    labels = np.tile([1, 0], 30)
    shop = np.repeat(["books", "games", "music"], 20)

    def no_densify(*args, **kwargs):
        raise AssertionError("sparse X was densified")

    for cls in (sp.csr_matrix, sp.csr_array, sp.csc_matrix):
        monkeypatch.setattr(cls, "toarray", no_densify)
        monkeypatch.setattr(cls, "todense", no_densify)
    pipe = make_pipeline(TfidfVectorizer(), MultiTaskClassifier(alpha=1e-3))
    with sklearn.config_context(enable_metadata_routing=True):
        pipe.fit(docs, labels, tasks=shop)
        assert pipe.score(docs, labels, tasks=shop) == 1.0
        assert pipe.predict(["great fast"], tasks=["games"])[0] == 1
