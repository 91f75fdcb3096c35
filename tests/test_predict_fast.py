"""The long-format predict path has no loop over tasks: it equals the loop it
replaced (kept here as the reference), for dense, sparse and float32 X, the
regressor and the classifier (binary, multiclass, tasks with different numbers of
classes), the linear models and the networks; and the classifier's fit checks
all tasks' labels at once with the errors a check per task gave."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets

from skmtl import MultiTaskClassifier, MultiTaskRegressor
from skmtl._estimators._classifier import class_scores
from skmtl._tasks import split_tasks, task_rows

try:
    import torch  # noqa: F401

    torch_installed = True
except ImportError:
    torch_installed = False


def _loop_outputs(est, X, codes):
    """The reference: task by task, each task's rows through its own outputs."""
    out = [None] * X.shape[0]
    for t, rows in task_rows(codes, est.n_tasks_):
        Xt = X[rows]
        Z = est._engine.outputs(est, Xt, est._out_slices[t])
        for i, r in enumerate(rows):
            out[r] = Z[i]
    return out


def _loop_regressor(est, X, tasks):
    codes = np.searchsorted(est.tasks_, tasks)
    return np.array([z[0] for z in _loop_outputs(est, X, codes)])


def _loop_classifier(est, X, tasks, proba, fill):
    codes = np.searchsorted(est.tasks_, tasks)
    Z = _loop_outputs(est, X, codes)
    full = np.full((X.shape[0], est.classes_.size), fill)
    labels = []
    for i, (z, t) in enumerate(zip(Z, codes)):
        scores = class_scores(z[None, :], proba)[0]
        full[i, np.searchsorted(est.classes_, est._classes[t])] = scores
        labels.append(est._classes[t][class_scores(z[None, :], False)[0].argmax()])
    return full, np.array(labels)


def _fit(est, X, y, tasks):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, tasks=tasks)


def _long(n_tasks=60, n_rows=12, p=5, seed=0):
    rng = np.random.RandomState(seed)
    tasks = rng.permutation(np.repeat(np.arange(n_tasks), n_rows))  # not grouped
    X = rng.randn(tasks.size, p)
    W = rng.randn(n_tasks, p)
    return X, np.einsum("ij,ij->i", X, W[tasks]) + 0.1 * rng.randn(tasks.size), tasks


def _as(X, kind):
    if kind == "sparse":
        X = X.copy()
        X[np.abs(X) < 0.8] = 0.0
        return sp.csr_matrix(X)
    return X.astype(np.float32) if kind == "float32" else X


@pytest.mark.parametrize("kind", ["dense", "sparse", "float32"])
def test_regressor_long_predict_equals_the_loop_over_tasks(kind):
    X, y, tasks = _long()
    X = _as(X, kind)
    est = _fit(MultiTaskRegressor(penalty="trace", alpha=0.01, max_iter=50), X, y, tasks)
    rows = np.random.RandomState(1).permutation(X.shape[0])[:200]  # some tasks absent
    got = est.predict(X[rows], tasks=tasks[rows])
    ref = _loop_regressor(est, X[rows], tasks[rows])
    assert got.dtype == ref.dtype == (np.float32 if kind == "float32" else np.float64)
    rtol = 1e-5 if kind == "float32" else 1e-12
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol)


def test_regressor_long_predict_with_many_tasks_and_blocks(monkeypatch):
    """More rows than one block holds: the blocks meet exactly."""
    import skmtl._estimators._base as base

    X, y, tasks = _long(n_tasks=400, n_rows=5, p=3)
    est = _fit(MultiTaskRegressor(penalty="l2", alpha=0.1), X, y, tasks)
    monkeypatch.setattr(base, "_BLOCK", 7 * 3)  # 7 rows a block
    np.testing.assert_allclose(est.predict(X, tasks=tasks), _loop_regressor(est, X, tasks),
                               rtol=1e-12, atol=1e-12)


def _classes(tasks, X, rng, n_classes):
    """Labels of task t among its own n_classes[t] classes (offset by t % 3)."""
    score = X[:, :4] + 0.3 * rng.randn(X.shape[0], 4)
    y = np.empty(tasks.size, dtype=int)
    for t in np.unique(tasks):
        rows = tasks == t
        k = n_classes[t]
        y[rows] = score[rows, :k].argmax(axis=1) + t % 3
        y[np.flatnonzero(rows)[:k]] = np.arange(k) + t % 3  # every class present
    return y


@pytest.mark.parametrize("classes", ["binary", "multiclass", "mixed"])
@pytest.mark.parametrize("kind", ["dense", "sparse", "float32"])
def test_classifier_long_outputs_equal_the_loop_over_tasks(classes, kind):
    rng = np.random.RandomState(0)
    X, _, tasks = _long(n_tasks=30, n_rows=20, p=5)
    n_classes = {"binary": [2] * 30, "multiclass": [3] * 30,
                 "mixed": [2, 3, 4] * 10}[classes]
    y = _classes(tasks, X, rng, n_classes)
    X = _as(X, kind)
    est = _fit(MultiTaskClassifier(penalty="l21", alpha=0.01, max_iter=30), X, y, tasks)
    rows = rng.permutation(X.shape[0])[:150]
    Xr, tr = X[rows], tasks[rows]
    proba, labels = _loop_classifier(est, Xr, tr, proba=True, fill=0.0)
    decision, _ = _loop_classifier(est, Xr, tr, proba=False, fill=-np.inf)
    rtol = 1e-5 if kind == "float32" else 1e-12
    np.testing.assert_array_equal(est.predict(Xr, tasks=tr), labels)
    np.testing.assert_allclose(est.predict_proba(Xr, tasks=tr), proba, rtol=rtol, atol=rtol)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(est.predict_log_proba(Xr, tasks=tr), np.log(proba),
                                   rtol=rtol, atol=rtol)
    got = est.decision_function(Xr, tasks=tr)
    ref = decision[:, 1] if decision.shape[1] == 2 else decision
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol)


def test_string_labels_and_tasks():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 3)
    tasks = np.array(["north", "south", "east"])[rng.randint(3, size=120)]
    y = np.array(["cat", "dog", "emu"])[(X[:, 0] > 0).astype(int)
                                        + (tasks == "east") * (X[:, 1] > 0)]
    est = _fit(MultiTaskClassifier(alpha=0.01), X, y, tasks)
    _, labels = _loop_classifier(est, X, tasks, proba=False, fill=-np.inf)
    got = est.predict(X, tasks=tasks)
    np.testing.assert_array_equal(got, labels)
    assert got.dtype.kind == "U"


def test_wide_format_predict_is_the_product_with_every_task():
    rng = np.random.RandomState(0)
    X = rng.randn(50, 4)
    Y = X @ rng.randn(4, 3)
    est = MultiTaskRegressor(penalty="l2", alpha=0.1).fit(X, Y)
    np.testing.assert_allclose(est.predict(X), X @ est.coef_.T + est.intercept_,
                               rtol=1e-12)
    clf = MultiTaskClassifier(alpha=0.01).fit(X, (Y > 0).astype(int))
    np.testing.assert_array_equal(clf.predict(X), (X @ clf.coef_.T + clf.intercept_ > 0))


@pytest.mark.skipif(not torch_installed, reason="needs the torch extra")
@pytest.mark.parametrize("architecture", ["shared", "mmoe"])
def test_network_long_predict_equals_the_loop_over_tasks(architecture):
    rng = np.random.RandomState(0)
    X, y, tasks = _long(n_tasks=6, n_rows=20, p=4)
    net = dict(backend="torch", hidden_layer_sizes=(6,), max_epochs=3, random_state=0,
               architecture=architecture, dtype="float64")
    reg = MultiTaskRegressor(**net).fit(X, y, tasks=tasks)
    np.testing.assert_allclose(reg.predict(X, tasks=tasks), _loop_regressor(reg, X, tasks),
                               rtol=1e-12, atol=1e-12)
    yc = _classes(tasks, X, rng, [2, 3] * 3)
    clf = MultiTaskClassifier(**net).fit(X, yc, tasks=tasks)
    proba, labels = _loop_classifier(clf, X, tasks, proba=True, fill=0.0)
    np.testing.assert_allclose(clf.predict_proba(X, tasks=tasks), proba, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(clf.predict(X, tasks=tasks), labels)


@pytest.mark.skipif(not torch_installed, reason="needs the torch extra")
def test_mixed_long_predict_is_one_pass_of_the_network(monkeypatch):
    """MultiTaskEstimator's long format: the network runs once over the rows (it ran
    once a task), and the labels and probabilities are each task's own."""
    from skmtl import MultiTaskEstimator
    from skmtl.nn._engines import NetworkEngine

    rng = np.random.RandomState(0)
    X, _, tasks = _long(n_tasks=6, n_rows=20, p=4)
    y = np.where(tasks < 2, X[:, 0], (X[:, 1] > 0) + (tasks == 5) * (X[:, 2] > 0))
    types = {t: "regression" if t < 2 else "classification" for t in range(6)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MultiTaskEstimator(task_types=types, hidden_layer_sizes=(6,), max_epochs=3,
                                 random_state=0, dtype="float64").fit(X, y, tasks=tasks)
    order = rng.permutation(len(X))
    Xp, tp = X[order], tasks[order]
    ref = np.empty(len(Xp), dtype=object)  # the loop over tasks, as a reference
    for t in range(6):
        rows = np.flatnonzero(tp == t)
        ref[rows] = est._task_predict(Xp, t, rows)
    calls = []
    real = NetworkEngine.outputs
    monkeypatch.setattr(NetworkEngine, "outputs",
                        lambda self, e, X, cols=slice(None): calls.append(1)
                        or real(self, e, X, cols))
    pred = est.predict(Xp, tasks=tp)
    assert len(calls) == 1
    np.testing.assert_array_equal(pred, ref)
    clf = tp >= 2
    proba = est.predict_proba(Xp[clf], tasks=tp[clf])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert len(calls) == 2


# ------------------------------------------------- the classifier's targets at fit
def _encode_per_task(est, table):
    """The reference: the per-task encoding the vectorized one replaced."""
    classes, targets, groups, weights = [], [], [], []
    for t, y in enumerate(table.y):
        check_classification_targets(y)
        c, codes = np.unique(y, return_inverse=True)
        classes.append(c)
        w = table.weights[t]
        if est.class_weight == "balanced":
            w = w * (codes.size / (c.size * np.bincount(codes)))[codes]
        elif est.class_weight is not None:
            w = w * np.array([est.class_weight.get(v.item(), 1.0) for v in c])[codes]
        weights.append(w / w.sum())
        if c.size == 2:
            E = (codes == 1).astype(float)[:, None]
            groups.append("binary")
        else:
            E = (codes[:, None] == np.arange(c.size)).astype(float)
            groups.extend(f"class {v!r}" for v in c)
        targets.append(2 * E - 1 if est.loss == "squared_hinge" else E)
    return classes, targets, np.unique(groups, return_inverse=True)[1], weights


@pytest.mark.parametrize("class_weight", [None, "balanced", {1: 3.0, 4: 0.5}])
@pytest.mark.parametrize("loss", ["logistic", "squared_hinge"])
def test_vectorized_targets_equal_the_per_task_encoding(class_weight, loss):
    rng = np.random.RandomState(0)
    X, _, tasks = _long(n_tasks=12, n_rows=15, p=5)
    y = _classes(tasks, X, rng, [2, 3, 4] * 4)
    est = MultiTaskClassifier(class_weight=class_weight, loss=loss)
    est._configure()
    table = split_tasks(X, y, tasks, classifier=True)
    ref = _encode_per_task(est, split_tasks(X, y, tasks, classifier=True))
    targets, groups = est._encode_targets(table)
    for a, b in zip(est._classes, ref[0]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(targets, ref[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(groups, ref[2])
    for a, b in zip(table.weights, ref[3]):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_a_task_with_continuous_labels_raises_the_per_task_error():
    rng = np.random.RandomState(0)
    X, tasks = rng.randn(60, 3), np.repeat([0, 1, 2], 20)
    y = (X[:, 0] > 0).astype(float)
    y[tasks == 1] = rng.randn(20)  # task 1: a regression target
    with pytest.raises(ValueError) as per_task:
        check_classification_targets(y[tasks == 1])
    with pytest.raises(ValueError) as got:
        MultiTaskClassifier().fit(X, y, tasks=tasks)
    assert str(got.value) == str(per_task.value)
    assert "Unknown label type: continuous" in str(got.value)


def test_a_task_whose_labels_are_not_strings_in_an_object_y_raises():
    X, tasks = np.random.RandomState(0).randn(8, 2), np.repeat([0, 1], 4)
    y = np.array(["a", "b", "a", "b", 1, 2, 1, 2], dtype=object)  # task 1: objects
    with pytest.raises(ValueError, match="Unknown label type: unknown"):
        MultiTaskClassifier().fit(X, y, tasks=tasks)


def test_many_classes_in_a_task_warns_as_the_check_did():
    rng = np.random.RandomState(0)
    X, tasks = rng.randn(60, 2), np.repeat([0, 1], 30)
    y = np.r_[np.arange(30) % 2, np.arange(30) % 20]  # task 1: 20 classes in 30 rows
    with pytest.warns(UserWarning, match=r"greater than 50%.*\(task 1\)"):
        _fit(MultiTaskClassifier(alpha=0.1, max_iter=5), X, y, tasks)
