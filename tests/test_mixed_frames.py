"""MultiTaskEstimator on a DataFrame Y (issue 15): tasks named by its columns, labels
of each column's dtype, per-task predictions, standardised regression targets, a
relative stopping tolerance and compact progress lines."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pd = pytest.importorskip("pandas")

from sklearn.metrics import r2_score  # noqa: E402

from skmtl import MultiTaskEstimator, MultiTaskRegressor  # noqa: E402
from skmtl.nn import EarlyStopping  # noqa: E402
from skmtl.nn._callbacks import Loop  # noqa: E402

NET = dict(hidden_layer_sizes=(32,), max_epochs=60, learning_rate=1e-2, random_state=0)
TYPES = {"buy": "classification", "spend": "regression", "visits": "classification"}


def _shop(n=600, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 6)
    buy = np.where(X[:, 0] + 0.3 * rng.randn(n) > 0, "yes", "no")
    spend = 500 * (np.tanh(X[:, 0]) + 0.5 * X[:, 1]) + 20 * rng.randn(n)  # dollars
    visits = np.digitize(X[:, 2], [-0.5, 0.5]).astype(np.int64)
    return X, pd.DataFrame({"buy": buy, "spend": spend, "visits": visits})


def test_task_types_by_column_name_and_label_dtypes_kept():
    X, Y = _shop()
    model = MultiTaskEstimator(task_types=TYPES, **NET).fit(X, Y)
    assert model.task_names_ == ["buy", "spend", "visits"]
    assert model.task_types_ == ["classification", "regression", "classification"]
    assert model.classes_[2].dtype == np.int64 and list(model.classes_[2]) == [0, 1, 2]
    pred = model.predict(X)
    assert list(pred) == ["buy", "spend", "visits"]
    assert set(pred["buy"]) <= {"yes", "no"}
    assert pred["spend"].dtype == np.float64 and pred["visits"].dtype == np.int64
    assert np.mean(pred["buy"] == Y["buy"]) > 0.85
    assert r2_score(Y["spend"], pred["spend"]) > 0.8
    assert model.score(X, Y) > 0.8


def test_a_missing_name_in_task_types_is_named():
    X, Y = _shop(n=60)
    with pytest.raises(ValueError, match="no entry for task 'visits'"):
        MultiTaskEstimator(task_types={"buy": "classification", "spend": "regression"},
                           **NET).fit(X, Y)


def test_predict_proba_is_a_dict_over_the_classification_tasks():
    X, Y = _shop(n=300)
    model = MultiTaskEstimator(task_types=TYPES, **{**NET, "max_epochs": 5}).fit(X, Y)
    proba = model.predict_proba(X)
    assert list(proba) == ["buy", "visits"]
    assert proba["buy"].shape == (300, 2) and proba["visits"].shape == (300, 3)
    np.testing.assert_allclose(proba["visits"].sum(axis=1), 1.0)
    idx = proba["visits"].argmax(axis=1)
    assert (model.classes_[2][idx] == model.predict(X)["visits"]).all()


def test_a_target_in_dollars_is_standardised_in_the_loss():
    X, Y = _shop()
    model = MultiTaskEstimator(task_types=TYPES, **NET).fit(X, Y)
    first = model.task_loss_curve_[0]
    assert first[1] < 10 * max(first[0], first[2])  # not 1e5 times the others
    # the same target in cents: the same standardised problem, predictions x 100
    cents = Y.assign(spend=100 * Y["spend"])
    other = MultiTaskEstimator(task_types=TYPES, **NET).fit(X, cents)
    np.testing.assert_allclose(other.predict(X)["spend"], 100 * model.predict(X)["spend"],
                               rtol=1e-3, atol=1e-2)


def test_the_stopping_tolerance_is_relative_to_the_loss():
    def stops(values, relative):
        stop = EarlyStopping("loss", n_iter_no_change=2, tol=0.01, relative=relative)
        loop = Loop([stop])
        loop.run(lambda loop: {"loss": values[loop.epoch - 1]}, len(values))
        return loop.epoch

    falling = [1e6 * 0.995 ** k for k in range(10)]  # 0.5 % an epoch: below 1 %
    assert stops(falling, relative=True) == 3
    assert stops(falling, relative=False) == 10  # by 5000 an epoch: > 0.01


@pytest.mark.parametrize("verbose, lines", [(1, 10), (2, 20)])
def test_verbose_1_prints_a_line_a_block_of_epochs(capsys, verbose, lines):
    rng = np.random.RandomState(0)
    X, Y = rng.randn(80, 3), rng.randn(80, 2)
    MultiTaskRegressor(backend="torch", hidden_layer_sizes=(4,), max_epochs=20, tol=0.0,
                       n_iter_no_change=100, verbose=verbose, random_state=0).fit(X, Y)
    out = [line for line in capsys.readouterr().out.splitlines() if "[skmtl] epoch" in line]
    assert len(out) == lines
    assert out[-1].startswith("[skmtl] epoch   20") and out[-1].endswith("s")
