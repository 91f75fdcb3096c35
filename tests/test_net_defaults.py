"""Networks that work untuned (issue 18): standardised regression targets, early
stopping "auto", batch_size "auto", and the warnings of a poor fit."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skmtl import MultiTaskClassifier, MultiTaskRegressor  # noqa: E402
from skmtl.nn import Callback  # noqa: E402

NET = dict(backend="torch", hidden_layer_sizes=(16,), max_epochs=20, learning_rate=1e-2,
           random_state=0, device="cpu")


def _data(n=200, T=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 5)
    Y = np.tanh(X @ rng.randn(5, T)) + 0.1 * rng.randn(n, T)
    return X, Y


def test_regression_targets_are_standardised_for_the_loss():
    X, Y = _data()
    a = MultiTaskRegressor(**NET).fit(X, Y)
    b = MultiTaskRegressor(**NET).fit(X, 1000 * Y + 50)  # dollars, not units
    np.testing.assert_allclose(b.predict(X), 1000 * a.predict(X) + 50, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=1e-4)
    assert a.score(X, Y) > 0.5


def test_mixed_model_stops_early_from_1000_rows_by_default():
    from skmtl import MultiTaskEstimator

    for n, on in ((999, False), (1000, True)):
        X, Y = _data(n=n, T=2)
        est = MultiTaskEstimator(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)
        est.fit(X, Y)
        assert (est.validation_scores_ is not None) == on, n


def _fit_quietly_or_warn(noise=False, **params):
    X, Y = _data(n=400)
    if noise:  # targets that X does not predict
        Y = np.random.RandomState(1).randn(*Y.shape)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MultiTaskRegressor(**{**NET, **params}).fit(X, Y)
    return [str(w.message) for w in caught if "loss" in str(w.message)]


def test_steps_too_large_warn_to_lower_the_learning_rate():
    # steps large for noise: relu, a fixed 1e-2, little weight decay
    messages = _fit_quietly_or_warn(noise=True, hidden_layer_sizes=(64,),
                                    early_stopping=True, n_iter_no_change=30,
                                    activation="relu", learning_rate=1e-2,
                                    weight_decay=1e-4)
    assert any("lowest at epoch" in m and "lower learning_rate" in m for m in messages)


def test_a_training_loss_far_above_validation_warns_of_dropout():
    messages = _fit_quietly_or_warn(dropout=0.8, hidden_layer_sizes=(64,),
                                    early_stopping=True, n_iter_no_change=30)
    assert any("over 1.5 times the validation loss" in m and "dropout" in m
               for m in messages)


def test_a_good_fit_does_not_warn():
    assert _fit_quietly_or_warn(early_stopping=True) == []
    assert _fit_quietly_or_warn() == []


class _CountSteps(Callback):
    """Counts the optimizer steps of each epoch."""

    def on_train_begin(self, loop, **kwargs):
        self.steps = []

    def on_epoch_begin(self, loop, **kwargs):
        self.steps.append(0)

    def on_step(self, loop, **kwargs):
        self.steps[-1] += 1


@pytest.mark.parametrize("n, steps", [(40, 2), (800, 25), (5000, 25), (20000, 79)])
def test_auto_batch_size_takes_about_25_steps_an_epoch(n, steps):
    # n / 25 rows a batch, clipped to [32, 256]: 800 rows take 25 steps an epoch
    # (200-row batches: 4), 20,000 rows 256-row batches
    X, Y = _data(n=n, T=2)
    est = MultiTaskRegressor(**{**NET, "max_epochs": 1, "early_stopping": False},
                             callbacks=[_CountSteps()]).fit(X, Y)
    assert est.callbacks_[0].steps == [steps]



@pytest.mark.parametrize("n, rates", [(999, [1e-2]), (1000, [5e-3, 1e-3])])
def test_auto_learning_rate_is_larger_below_1000_rows(n, rates):
    from skmtl import MultiTaskEstimator

    X, Y = _data(n=n, T=2)
    est = MultiTaskEstimator(hidden_layer_sizes=(8,), max_epochs=1, random_state=0)
    assert est.learning_rate == "auto"
    est.fit(X, Y)
    groups = est._trainer.optimizer.param_groups
    assert [g["lr"] for g in groups] == rates
    if len(groups) == 2:  # the shared layers, then the heads
        trunk = {id(p) for p in est.module_.trunk.parameters()}
        assert {id(p) for p in groups[0]["params"]} == trunk
        heads = {id(p) for p in est.module_.parameters()} - trunk
        assert {id(p) for p in groups[1]["params"]} == heads
    # a number is used as given, for every parameter
    est.set_params(learning_rate=0.05).fit(X, Y)
    assert [g["lr"] for g in est._trainer.optimizer.param_groups] == [0.05]


def test_validated_fit_finds_the_representation_with_larger_shared_steps():
    # 5 tasks of 200 rows reading one tanh representation of 12 features (1,000
    # rows: validation rows held out).  With every step at 1e-3 the network needs
    # about 180 epochs to find the tanh features (60 epochs: R^2 0.90); the shared
    # layers at 5e-3 (the heads at 1e-3) find them in about 60 (0.97)
    from sklearn.metrics import r2_score

    rng = np.random.RandomState(0)
    A, heads = 2 * rng.randn(12, 4) / np.sqrt(12), rng.randn(4, 5)

    def draw(m, rs):
        X = rs.randn(5 * m, 12)
        tasks = np.repeat(np.arange(5), m)
        f = np.einsum("ij,ji->i", np.tanh(X @ A), heads[:, tasks])
        return X, f + 0.1 * rs.randn(len(X)), tasks

    X, y, tasks = draw(200, np.random.RandomState(1))
    Xt, yt, tt = draw(100, np.random.RandomState(2))
    est = MultiTaskRegressor(backend="torch", hidden_layer_sizes=(100,), max_epochs=60,
                             random_state=0).fit(X, y, tasks=tasks)
    assert r2_score(yt, est.predict(Xt, tasks=tt)) > 0.95


def test_small_data_settles_with_the_auto_learning_rate():
    # 10 tasks of 40 rows reading one tanh representation (the case,
    # smaller): below 1,000 rows there are no validation rows, and the small steps
    # of learning_rate=1e-3 fit the training rows too closely
    from sklearn.metrics import r2_score

    from skmtl import MultiTaskEstimator

    rng = np.random.RandomState(0)
    A, heads = 2 * rng.randn(8, 3) / np.sqrt(8), rng.randn(3, 10)
    X = rng.randn(800, 8)
    tasks = np.repeat(np.arange(10), 80)
    y = np.einsum("ij,ji->i", np.tanh(X @ A), heads[:, tasks]) + 0.1 * rng.randn(800)
    train = np.arange(800) % 80 < 40
    est = MultiTaskEstimator(hidden_layer_sizes=(64,), random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X[train], y[train], tasks=tasks[train])
    pred = np.asarray(est.predict(X[~train], tasks=tasks[~train]), dtype=float)
    r2 = [r2_score(y[~train][tasks[~train] == t], pred[tasks[~train] == t])
          for t in range(10)]
    assert np.mean(r2) > 0.94  # 0.97 (learning_rate=1e-3: 0.90)
