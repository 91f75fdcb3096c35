"""A fit that raises leaves the estimator as it was; guesses that used to be silent.

Issue 16: a failed refit had already set the new tasks while keeping the old
coefficients or network, so ``predict(tasks=["c"])`` answered with another task's
model; a warm-started network, once its loss became NaN, failed every later fit.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from skmtl import MultiTaskClassifier, MultiTaskEstimator, MultiTaskRegressor
from skmtl.linear import _problem

rng = np.random.RandomState(0)
X = rng.randn(60, 4)
y = X @ rng.randn(4) + 0.1 * rng.randn(60)


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_an_interrupted_numpy_refit_leaves_the_old_model(monkeypatch):
    est = MultiTaskRegressor("l2", alpha=0.1).fit(X, y, tasks=np.repeat(["a", "b"], 30))
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v)
              for k, v in vars(est).items()}
    monkeypatch.setattr(_problem.Problem, "solve", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y, tasks=np.repeat(["b", "c"], 30))
    monkeypatch.undo()
    assert list(est.tasks_) == ["a", "b"]
    for key, value in before.items():
        np.testing.assert_array_equal(getattr(est, key), value, err_msg=key)
    with pytest.raises(ValueError, match="Unknown task"):
        est.predict(X[:2], tasks=["c", "c"])


def test_a_first_fit_that_fails_leaves_the_estimator_unfitted(monkeypatch):
    est = MultiTaskRegressor("l2", alpha=0.1)
    monkeypatch.setattr(_problem.Problem, "solve", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("__")]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


NET = dict(backend="torch", hidden_layer_sizes=(8,), max_epochs=5, random_state=0)


def test_a_network_refit_whose_loss_diverges_leaves_the_old_network(torch):
    est = MultiTaskRegressor(**NET).fit(X, y, tasks=np.repeat(["a", "b"], 30))
    pred = est.predict(X, tasks=np.repeat(["a", "b"], 30))
    est.set_params(learning_rate=1e30)
    with pytest.raises(ValueError, match="became"):
        est.fit(X, 1e3 * y, tasks=np.repeat(["b", "c"], 30))
    assert list(est.tasks_) == ["a", "b"]
    np.testing.assert_array_equal(est.predict(X, tasks=np.repeat(["a", "b"], 30)), pred)


def test_warm_start_after_a_failed_fit_continues_the_good_network(torch):
    est = MultiTaskRegressor(**NET, warm_start=True).fit(X, y)
    state = {k: v.clone() for k, v in est.module_.state_dict().items()}
    with pytest.raises(ValueError, match="became inf"):  # squares overflow float32
        est.fit(X, 1e20 * y)
    for k, v in est.module_.state_dict().items():  # not trained in place
        assert torch.equal(v, state[k]), k
    est.fit(X, y)  # a clean refit works again, from the good network
    assert np.isfinite(est.predict(X)).all() and est.n_iter_ == 10


def test_a_failed_first_partial_fit_is_not_half_fitted(torch):
    est = MultiTaskRegressor(**NET, activation="relu")  # tanh would saturate
    with pytest.raises(ValueError, match="became (inf|nan)"):  # targets standardised:
        est.partial_fit(1e25 * X, y)  # the network's outputs overflow float32
    with pytest.raises(NotFittedError):
        est.predict(X)


# ------------------------------------------------------------- silent guesses
def test_many_integer_values_are_a_regression_task_with_a_warning(torch):
    dollars = np.round(50 + 20 * X[:, 0] + 5 * rng.randn(60))  # ~50 distinct integers
    Y = np.column_stack([(X[:, 1] > 0).astype(int), dollars])
    with pytest.warns(UserWarning, match="distinct integer values: taken as a regression"):
        est = MultiTaskEstimator(max_epochs=2, random_state=0).fit(X, Y)
    assert est.task_types_ == ["classification", "regression"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit type: no guess, no warning
        est.set_params(task_types=["classification", "classification"]).fit(X, Y)


def test_a_short_task_types_list_is_a_clear_error(torch):
    Y = np.column_stack([(X[:, 1] > 0).astype(int), y])
    with pytest.raises(ValueError, match="task_types lists 1 types for 2 tasks"):
        MultiTaskEstimator(task_types=["classification"], max_epochs=2).fit(X, Y)


def test_long_format_predict_builds_no_row_by_all_classes_array():
    """3,000 tasks with labels of their own: predict's memory is of the order of its
    result, not n x (all classes of all tasks) (288 MB here)."""
    n_tasks = 3000
    tasks = np.repeat(np.arange(n_tasks), 2)
    labels = 2 * tasks + np.tile([0, 1], n_tasks)  # task t: classes 2t and 2t + 1
    Xl = np.random.RandomState(1).randn(tasks.size, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MultiTaskClassifier("l2", alpha=1.0, max_iter=2).fit(Xl, labels, tasks=tasks)
    tracemalloc.start()
    pred = clf.predict(Xl, tasks=tasks)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert set(np.unique(pred)) <= set(labels)
    assert np.all((pred == 2 * tasks) | (pred == 2 * tasks + 1))
    assert peak < 20e6, f"predict peaked at {peak / 1e6:.0f} MB"
