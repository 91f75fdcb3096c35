"""``unknown_task``: a task not seen in fit is an error by default, and with
``"shared"`` is predicted by the part of the model common to all tasks, while the
rows of known tasks keep their own task's model."""

import warnings

import numpy as np
import pytest
from scipy.special import expit

from skmtl import (MultiTaskClassifier, MultiTaskRegressor, MultiTaskRegressorCV)
from skmtl._estimators._new_tasks import shared_coef

try:
    import torch  # noqa: F401

    torch_installed = True
except ImportError:
    torch_installed = False
needs_torch = pytest.mark.skipif(not torch_installed, reason="needs the torch extra")

NET = dict(backend="torch", hidden_layer_sizes=(5,), max_epochs=3, random_state=0,
           dtype="float64")


def _data(seed=0):
    rng = np.random.RandomState(seed)
    tasks = np.repeat(["a", "b", "c"], 30)
    X = rng.randn(90, 4)
    W = rng.randn(3, 4)
    y = np.einsum("ij,ij->i", X, W[np.searchsorted(["a", "b", "c"], tasks)])
    return X, y + 0.1 * rng.randn(90), tasks


def _each_task(est, X):
    """Predictions of every row under each fitted task: (n_tasks, n_rows)."""
    return np.array([est.predict(X, tasks=np.full(len(X), t)) for t in est.tasks_])


@pytest.mark.parametrize("est", [MultiTaskRegressor(penalty="l2", alpha=0.1),
                                 MultiTaskRegressorCV(penalty="l2", alphas=4, cv=2),
                                 MultiTaskClassifier(alpha=0.01)],
                         ids=["regressor", "regressor CV", "classifier"])
def test_an_unknown_task_is_an_error_by_default_naming_it_and_the_option(est):
    X, y, tasks = _data()
    y = (y > 0).astype(int) if isinstance(est, MultiTaskClassifier) else y
    est.fit(X, y, tasks=tasks)
    with pytest.raises(ValueError, match=r"Unknown task\(s\) 'zurich'.*"
                                         r"unknown_task='shared'"):
        est.predict(X[:2], tasks=["a", "zurich"])


def test_shared_regressor_predicts_the_task_average_and_keeps_known_rows():
    X, y, tasks = _data()
    est = MultiTaskRegressor(penalty="trace", alpha=0.05, unknown_task="shared")
    est.fit(X, y, tasks=tasks)
    new = np.array(["zurich", "a", "oslo", "c"])
    pred = est.predict(X[:4], tasks=new)
    per_task = _each_task(est, X[:4])
    np.testing.assert_allclose(pred[[1, 3]], per_task[[0, 2], [1, 3]], rtol=1e-12)
    np.testing.assert_allclose(pred[[0, 2]], per_task.mean(axis=0)[[0, 2]], rtol=1e-10)
    coef, intercept = shared_coef(est)
    np.testing.assert_allclose(pred[[0, 2]], X[[0, 2]] @ coef[0] + intercept[0],
                               rtol=1e-12)


def test_shared_mean_penalty_predicts_with_its_mean_model():
    X, y, tasks = _data()
    est = MultiTaskRegressor(penalty="mean", alpha=0.1, unknown_task="shared")
    est.fit(X, y, tasks=tasks)
    coef, intercept = shared_coef(est)
    pred = est.predict(X[:3], tasks=["new", "new", "b"])
    np.testing.assert_allclose(pred[:2], X[:2] @ coef[0] + intercept[0], rtol=1e-12)
    assert pred[2] == pytest.approx(est.predict(X[2:3], tasks=["b"])[0], rel=1e-12)


def test_shared_classifier_averages_the_decisions_of_tasks_with_the_same_classes():
    X, y, tasks = _data()
    y = np.where(y > 0, "yes", "no")
    clf = MultiTaskClassifier(alpha=0.01, unknown_task="shared").fit(X, y, tasks=tasks)
    decisions = np.array([clf.decision_function(X[:5], tasks=np.full(5, t))
                          for t in clf.tasks_])
    new = np.full(5, "zurich")
    np.testing.assert_allclose(clf.decision_function(X[:5], tasks=new),
                               decisions.mean(axis=0), rtol=1e-10)
    proba = clf.predict_proba(X[:5], tasks=new)
    np.testing.assert_allclose(proba[:, 1], expit(decisions.mean(axis=0)), rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(X[:5], tasks=new),
                                  clf.classes_[(decisions.mean(axis=0) > 0).astype(int)])


def test_shared_classifier_refuses_tasks_with_different_classes():
    X, y, tasks = _data()
    y = (y > 0).astype(int) + (tasks == "c") * (y > 1)  # task c: 3 classes
    clf = MultiTaskClassifier(alpha=0.01, unknown_task="shared").fit(X, y, tasks=tasks)
    clf.predict(X[:2], tasks=["a", "c"])  # known tasks: fine
    with pytest.raises(ValueError, match="do not share their classes"):
        clf.predict(X[:2], tasks=["a", "zurich"])


def test_labels_of_another_type_stay_an_error_and_wide_fits_are_unchanged():
    X, y, tasks = _data()
    est = MultiTaskRegressor(alpha=0.1, unknown_task="shared").fit(X, y, tasks=tasks)
    with pytest.raises(ValueError, match="unlike the tasks seen in fit"):
        est.predict(X[:2], tasks=np.array([1, 2], dtype=object))
    Y = np.column_stack([y, -y])
    wide = MultiTaskRegressor(alpha=0.1).fit(X, Y).predict(X)
    np.testing.assert_array_equal(
        MultiTaskRegressor(alpha=0.1, unknown_task="shared").fit(X, Y).predict(X), wide)


@needs_torch
def test_shared_network_is_the_trunk_and_the_average_head():
    X, y, tasks = _data()
    est = MultiTaskRegressor(**NET, unknown_task="shared").fit(X, y, tasks=tasks)
    pred = est.predict(X[:4], tasks=["zurich", "a", "oslo", "b"])
    per_task = _each_task(est, X[:4])
    np.testing.assert_allclose(pred[[1, 3]], per_task[[0, 1], [1, 3]], rtol=1e-12)
    # linear heads on shared features: the average head gives the average output
    np.testing.assert_allclose(pred[[0, 2]], per_task.mean(axis=0)[[0, 2]], rtol=1e-10)
    with pytest.raises(ValueError, match="Unknown task"):
        MultiTaskRegressor(**NET).fit(X, y, tasks=tasks).predict(X[:1], tasks=["z"])


@needs_torch
def test_shared_mmoe_and_network_classifier():
    X, y, tasks = _data()
    est = MultiTaskRegressor(**NET, architecture="mmoe", unknown_task="shared")
    est.fit(X, y, tasks=tasks)
    pred = est.predict(X[:3], tasks=["z", "a", "z"])
    assert np.isfinite(pred).all()
    assert pred[1] == pytest.approx(est.predict(X[1:2], tasks=["a"])[0], rel=1e-12)
    clf = MultiTaskClassifier(**NET, unknown_task="shared")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, (y > 0).astype(int), tasks=tasks)
    proba = clf.predict_proba(X[:3], tasks=["z", "z", "b"])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    three = (y > 0).astype(int) + (tasks == "c") * (y > 1)
    clf.fit(X, three, tasks=tasks)
    with pytest.raises(ValueError, match="do not share their classes"):
        clf.predict(X[:1], tasks=["z"])


# ------------------------------------------------------------ task_similarity_
def test_task_similarity_is_the_cosine_of_the_task_models():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    W = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).T  # a, 2a, b
    est = MultiTaskRegressor(penalty="l2", alpha=1e-8, fit_intercept=False).fit(X, X @ W)
    S = est.task_similarity_
    assert S.shape == (3, 3)
    np.testing.assert_allclose(S, [[1, 1, 0], [1, 1, 0], [0, 0, 1]], atol=1e-6)
    coef = est.coef_ / np.linalg.norm(est.coef_, axis=1, keepdims=True)
    np.testing.assert_allclose(S, coef @ coef.T, rtol=1e-12)
    with pytest.raises(AttributeError):
        MultiTaskRegressor().task_similarity_  # noqa: B018 - not fitted


def test_task_similarity_of_multiclass_tasks_and_its_refusal():
    rng = np.random.RandomState(0)
    X, tasks = rng.randn(240, 3), np.repeat([0, 1, 2], 80)
    y = X.argmax(axis=1)
    y[tasks == 1] = X[tasks == 1].argmax(axis=1)  # tasks 0 and 1: one rule
    clf = MultiTaskClassifier(penalty="l2", alpha=1e-3).fit(X, y, tasks=tasks)
    rows = clf.coef_.reshape(3, -1)
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    np.testing.assert_allclose(clf.task_similarity_, rows @ rows.T, rtol=1e-12)
    y[tasks == 2] = X[tasks == 2, 0] > 0  # a binary task: one output, not three
    clf.fit(X, y, tasks=tasks)
    with pytest.raises(AttributeError, match="same number of outputs"):
        clf.task_similarity_  # noqa: B018


@needs_torch
def test_task_similarity_of_a_network_compares_its_heads():
    X, y, tasks = _data()
    est = MultiTaskRegressor(**NET).fit(X, y, tasks=tasks)
    H = est.module_.heads.weight.detach().numpy()
    H = H / np.linalg.norm(H, axis=1, keepdims=True)
    np.testing.assert_allclose(est.task_similarity_, H @ H.T, rtol=1e-12)
    assert np.allclose(np.diag(est.task_similarity_), 1.0)
