"""The torch backend: shared networks, loss weighting, training behaviour."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.metrics import r2_score  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402

from skmtl import MultiTaskClassifier, MultiTaskEstimator, MultiTaskRegressor  # noqa: E402
from skmtl.nn import WEIGHTINGS  # noqa: E402

FAST = dict(backend="torch", hidden_layer_sizes=(32,), max_epochs=30, random_state=0,
            learning_rate=1e-2)


def _shared_representation(n_tasks=8, n_per_task=30, p=10, seed=0, noise=0.1):
    """Every task is a different linear read-out of the same nonlinear features."""
    rng = np.random.RandomState(seed)
    A = rng.randn(p, 4)
    heads = rng.randn(4, n_tasks)
    tasks = np.repeat(np.arange(n_tasks), n_per_task)
    X = rng.randn(n_tasks * n_per_task, p)
    H = np.tanh(X @ A)
    y = np.einsum("ij,ji->i", H, heads[:, tasks]) + noise * rng.randn(len(X))
    return X, y, tasks


def test_same_seed_same_model_on_cpu():
    X, y, tasks = _shared_representation()
    a = MultiTaskRegressor(**FAST).fit(X, y, tasks=tasks)
    b = MultiTaskRegressor(**FAST).fit(X, y, tasks=tasks)
    np.testing.assert_array_equal(a.predict(X, tasks=tasks), b.predict(X, tasks=tasks))
    c = MultiTaskRegressor(**{**FAST, "random_state": 1}).fit(X, y, tasks=tasks)
    assert not np.array_equal(a.predict(X, tasks=tasks), c.predict(X, tasks=tasks))


def _draw(n_tasks, n_per_task, p, rows_seed):
    """Tasks are read-outs of the same 4 nonlinear features of 20 inputs."""
    rs = np.random.RandomState(0)
    A, heads = 2 * rs.randn(p, 4) / np.sqrt(p), rs.randn(4, n_tasks)
    rng = np.random.RandomState(rows_seed)
    X = rng.randn(n_tasks * n_per_task, p)
    tasks = np.repeat(np.arange(n_tasks), n_per_task)
    y = np.einsum("ij,ji->i", np.tanh(X @ A), heads[:, tasks])
    return X, y + 0.1 * rng.randn(len(X)), tasks


def test_shared_network_beats_independent_mlps_on_few_rows_per_task():
    T = 20
    X, y, tasks = _draw(T, 20, 20, rows_seed=1)  # 20 rows a task, 20 features
    Xt, yt, tt = _draw(T, 100, 20, rows_seed=2)
    mtl = MultiTaskRegressor(backend="torch", hidden_layer_sizes=(64,), learning_rate=3e-3,
                             batch_size=32, max_epochs=300, random_state=0)
    mtl.fit(X, y, tasks=tasks)
    mtl_score = mtl.score(Xt, yt, tasks=tt)  # mean R^2 over tasks
    stl_score = np.mean([
        r2_score(yt[tt == t], MLPRegressor(hidden_layer_sizes=(64,), max_iter=2000,
                                           random_state=0)
                 .fit(X[tasks == t], y[tasks == t]).predict(Xt[tt == t]))
        for t in range(T)
    ])
    assert mtl_score > stl_score + 0.1, (mtl_score, stl_score)


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_every_loss_weighting_trains(weighting):
    X, y, tasks = _shared_representation(n_tasks=3, n_per_task=60)
    est = MultiTaskRegressor(**{**FAST, "max_epochs": 15}, loss_weighting=weighting)
    est.fit(X, y, tasks=tasks)
    curve = est.task_loss_curve_
    assert curve.shape == (15, 3)
    assert curve[-1].sum() < 0.8 * curve[0].sum()


def test_uncertainty_weighting_learns_its_variances():
    X, y, tasks = _shared_representation(n_tasks=2, n_per_task=100)
    # task 1 mostly noise: after standardisation its residuals stay large
    y = np.where(tasks == 1, y + 3 * np.random.RandomState(1).randn(len(y)), y)
    est = MultiTaskRegressor(**{**FAST, "max_epochs": 100}, batch_size=20,
                             loss_weighting="uncertainty").fit(X, y, tasks=tasks)
    log_var = est._trainer.weighting.scalarizer.log_var.detach().cpu().numpy()
    assert log_var[1] > log_var[0] + 1.0


def test_mmoe_and_custom_trunk():
    X, y, tasks = _shared_representation(n_tasks=3, n_per_task=60)
    mmoe = MultiTaskRegressor(**FAST, architecture="mmoe", n_experts=3)
    assert mmoe.fit(X, y, tasks=tasks).score(X, y, tasks=tasks) > 0.5
    trunk = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.Tanh())
    CUSTOM = {k: v for k, v in FAST.items() if k != "hidden_layer_sizes"}  # the MLP's
    custom = MultiTaskRegressor(**CUSTOM, module=trunk).fit(X, y, tasks=tasks)
    assert custom.score(X, y, tasks=tasks) > 0.5
    assert custom.module_.trunk is not trunk  # the user's module is not trained in place
    bad = MultiTaskRegressor(**CUSTOM, module=torch.nn.Linear(7, 4))
    with pytest.raises(ValueError, match="custom trunk does not fit the data's 10 features"):
        bad.fit(X, y, tasks=tasks)


def test_early_stopping_keeps_the_best_epoch():
    X, y, tasks = _shared_representation(n_tasks=3, n_per_task=60)
    est = MultiTaskRegressor(**{**FAST, "max_epochs": 500}, early_stopping=True,
                             n_iter_no_change=5)
    est.fit(X, y, tasks=tasks)
    assert est.n_iter_ < 500
    assert len(est.validation_scores_) == est.n_iter_
    # the best epoch is the one 5 epochs before the stop; a run ending there (same
    # seed: the same validation rows and the same epochs) keeps it too
    best = est.n_iter_ - 5
    assert np.argmax(est.validation_scores_) + 1 == best
    short = MultiTaskRegressor(**{**FAST, "max_epochs": best}, early_stopping=True,
                               n_iter_no_change=5).fit(X, y, tasks=tasks)
    assert short.n_iter_ == best
    np.testing.assert_array_equal(short.validation_scores_, est.validation_scores_[:best])
    np.testing.assert_array_equal(est.predict(X, tasks=tasks), short.predict(X, tasks=tasks))


def test_warm_start_and_partial_fit_continue_training():
    X, y, tasks = _shared_representation(n_tasks=3, n_per_task=60)
    est = MultiTaskRegressor(**{**FAST, "max_epochs": 5}, warm_start=True)
    est.fit(X, y, tasks=tasks).fit(X, y, tasks=tasks)
    assert est.n_iter_ == 10 and len(est.loss_curve_) == 10
    inc = MultiTaskRegressor(**FAST)
    for _ in range(3):
        inc.partial_fit(X, y, tasks=tasks)
    assert inc.n_iter_ == 3
    with pytest.raises(ValueError, match="other tasks"):
        inc.partial_fit(X, y, tasks=np.where(tasks == 2, 7, tasks))


def test_partial_fit_with_classes_takes_batches_missing_a_class():
    rng = np.random.RandomState(0)
    X = rng.randn(90, 4)
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    clf = MultiTaskClassifier(**FAST)
    first = y < 2  # the first batch lacks class 2
    clf.partial_fit(X[first], y[first], classes=[0, 1, 2])
    clf.partial_fit(X, y)
    assert list(clf.classes_) == [0, 1, 2]


def test_a_loss_that_turns_nan_names_the_task_and_epoch():
    X, y, tasks = _shared_representation(n_tasks=2)  # (targets are standardised)
    est = MultiTaskRegressor(**{**FAST, "learning_rate": 1e12}, batch_size=8,
                             dtype="float32")
    with pytest.raises(ValueError, match=r"loss of task .* became .* at epoch 1"):
        est.fit(X, y, tasks=np.where(tasks == 0, "small", "huge"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_clear_error():
    X, y, tasks = _shared_representation(n_tasks=2)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        MultiTaskRegressor(**FAST, device="cuda").fit(X, y, tasks=tasks)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_training_pickles_to_cpu():
    X, y, tasks = _shared_representation(n_tasks=2)
    est = MultiTaskRegressor(**FAST, device="cuda").fit(X, y, tasks=tasks)
    again = pickle.loads(pickle.dumps(est))
    assert next(again.module_.parameters()).device.type == "cpu"


def test_pickle_round_trip_predicts_the_same_on_cpu():
    X, y, tasks = _shared_representation(n_tasks=2)
    est = MultiTaskRegressor(**FAST, device="cpu").fit(X, y, tasks=tasks)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X, tasks=tasks), est.predict(X, tasks=tasks))
    assert next(again.module_.parameters()).device.type == "cpu"


def test_wide_format_with_missing_labels_and_batched_prediction():
    X, y, tasks = _shared_representation(n_tasks=1, n_per_task=300)
    Y = np.column_stack([y, -y, 2 * y])
    Y[:100, 1] = np.nan
    est = MultiTaskRegressor(**FAST, batch_size=32).fit(X, Y)
    from skmtl.nn._backend import network_outputs

    full = network_outputs(est, X, batch_size=7)
    np.testing.assert_allclose(full, network_outputs(est, X), rtol=1e-5, atol=1e-6)
    assert est.predict(X).shape == (300, 3) and est.score(X, Y) > 0.5


def test_verbose_prints_progress(capsys):
    X, y, tasks = _shared_representation(n_tasks=2)
    MultiTaskRegressor(**{**FAST, "max_epochs": 3}, verbose=1).fit(X, y, tasks=tasks)
    assert "[skmtl] epoch    3" in capsys.readouterr().out


def test_mixed_task_types_in_one_network():
    rng = np.random.RandomState(0)
    X = rng.randn(600, 6)
    buy = np.where(X[:, 0] + 0.2 * rng.randn(600) > 0, "yes", "no")
    spend = 3 * np.tanh(X[:, 0]) + X[:, 1] + 0.1 * rng.randn(600)
    tasks = np.repeat(["buy", "spend"], 300)
    y = np.where(tasks == "buy", buy, spend.astype(str)).astype(object)
    y[tasks == "spend"] = spend[tasks == "spend"]
    model = MultiTaskEstimator(task_types={"buy": "classification", "spend": "regression"},
                               hidden_layer_sizes=(32,), max_epochs=100, random_state=0,
                               learning_rate=1e-2)
    model.fit(X, y, tasks=tasks)
    assert model.task_types_ == ["classification", "regression"]
    pred = model.predict(X, tasks=tasks)
    assert set(pred[:300]) <= {"yes", "no"}
    acc = np.mean(pred[:300] == buy[:300])
    r2 = r2_score(spend[300:], pred[300:].astype(float))
    assert acc > 0.9 and r2 > 0.8
    assert model.score(X, y, tasks=tasks) == pytest.approx((acc + r2) / 2)
    from sklearn.metrics import roc_auc_score

    proba = model.predict_proba(X[:300], tasks=tasks[:300])  # rows of the classification task
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(buy[:300] == "yes", proba[:, 1]) > 0.95  # classes ["no", "yes"]
    assert (proba.argmax(axis=1) == (pred[:300] == "yes")).all()
    with pytest.raises(ValueError, match="regression task 'spend' have no class"):
        model.predict_proba(X, tasks=tasks)


def test_mixed_model_probabilities_in_wide_format():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    Y = np.column_stack([X[:, 0] > 0, X[:, 1], np.digitize(X[:, 2], [-0.5, 0.5])])
    model = MultiTaskEstimator(task_types=["classification", "regression", "classification"],
                               hidden_layer_sizes=(16,), max_epochs=30, random_state=0,
                               learning_rate=1e-2).fit(X, Y)
    proba = model.predict_proba(X)  # the classification tasks only
    assert list(proba) == [0, 2] and proba[0].shape == (300, 2) and proba[2].shape == (300, 3)
    np.testing.assert_allclose(proba[2].sum(axis=1), 1.0)
    assert (model.classes_[2][proba[2].argmax(axis=1)] == model.predict(X)[2]).all()


@pytest.mark.parametrize("penalty", ["l21", "trace", "mean", "dirty", "cluster"])
def test_linear_torch_backend_reaches_the_numpy_solution(penalty):
    rng = np.random.RandomState(0)
    X, tasks = rng.randn(200, 8), np.repeat(np.arange(4), 50)
    y = np.einsum("ij,ji->i", X, rng.randn(8, 4)[:, tasks]) + 0.1 * rng.randn(200)
    common = dict(penalty=penalty, alpha=0.05, tol=1e-10, max_iter=20000)
    ref = MultiTaskRegressor(**common).fit(X, y, tasks=tasks)
    dev = MultiTaskRegressor(**common, backend="torch", hidden_layer_sizes=(),
                             dtype="float64", device="cpu").fit(X, y, tasks=tasks)
    assert not hasattr(dev, "module_")
    np.testing.assert_allclose(dev.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(dev.predict(X, tasks=tasks), ref.predict(X, tasks=tasks),
                               atol=1e-5)


@pytest.mark.parametrize("loss", ["logistic", "squared_hinge"])
def test_linear_torch_classifier_reaches_the_numpy_solution(loss):
    rng = np.random.RandomState(1)
    X, tasks = rng.randn(240, 6), np.repeat(["a", "b", "c"], 80)
    y = np.digitize(X[:, 0] + (tasks == "b") * X[:, 1], [-0.5, 0.5])  # 3 classes
    common = dict(penalty="trace", alpha=0.01, loss=loss, tol=1e-10, max_iter=20000)
    ref = MultiTaskClassifier(**common).fit(X, y, tasks=tasks)
    dev = MultiTaskClassifier(**common, backend="torch", hidden_layer_sizes=(),
                              dtype="float64").fit(X, y, tasks=tasks)
    np.testing.assert_allclose(dev.coef_, ref.coef_, atol=1e-6)


def test_pickling_leaves_the_fitted_estimator_untouched():
    """__getstate__ must copy: the default state is the instance's own __dict__."""
    X, y, tasks = _shared_representation(n_tasks=2)
    est = MultiTaskRegressor(**FAST, warm_start=True).fit(X, y, tasks=tasks)
    module, trainer = est.module_, est._trainer
    pickle.dumps(est)
    assert est.module_ is module and est._trainer is trainer


def test_mixed_model_without_hidden_layers_is_a_linear_network():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    Y = np.column_stack([X[:, 0] > 0, 2 * X[:, 1]])
    model = MultiTaskEstimator(hidden_layer_sizes=(), max_epochs=200, learning_rate=1e-2,
                               random_state=0).fit(X, Y)
    assert model.score(X, Y) > 0.9
    assert len([m for m in model.module_.modules() if isinstance(m, torch.nn.Linear)]) == 1


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("kinds", [[0, 0, 0], [1, 1, 1], [0, 1, 0]])
def test_complete_wide_batches_give_the_pair_losses(kinds, weighted):
    """The wide format without missing labels skips the pair bookkeeping: the same
    per-task losses as the pairs give."""
    from skmtl.nn._data import TaskLayout, make_pairs, task_losses
    from skmtl.nn._training import _PairTensors

    rng = np.random.RandomState(0)
    n, T = 12, len(kinds)
    codes = [rng.randn(n) if k == 0 else rng.randint(2, size=n).astype(float)
             for k in kinds]

    class Table:  # what make_pairs reads of a TaskTable
        X = np.zeros((n, 1))
        rows = [slice(0, n)] * T
        weights = [(rng.rand(n) if weighted else np.ones(n)) / n for _ in range(T)]

    pairs = make_pairs(Table, codes)
    assert pairs.complete == T
    assert _PairTensors(pairs, torch.device("cpu"), torch.float64).unweighted != weighted
    layout = TaskLayout(torch.arange(T), torch.ones(T, dtype=torch.long),
                        torch.tensor(kinds))
    rows = np.array([3, 0, 7, 5])
    Z = torch.randn(rows.size, T, dtype=torch.float64)
    out = []
    for dense in (True, False):
        pt = _PairTensors(pairs, torch.device("cpu"), torch.float64, dense=dense)
        out.append(task_losses(Z, *pt.batch(rows, torch.as_tensor(rows)), layout, T)[0])
    torch.testing.assert_close(out[0], out[1])
