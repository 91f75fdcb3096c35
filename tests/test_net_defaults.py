"""Networks that work untuned (issue 18): standardised regression targets, early
stopping "auto", and the warnings of a poor fit."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skmtl import MultiTaskClassifier, MultiTaskRegressor  # noqa: E402

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
