"""Fitted models saved and loaded without code execution (issue 16, item 12):
skmtl.persistence (npz + JSON; torch state_dict with weights_only=True) and skops."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.model_selection import KFold

from skmtl import (MultiTaskClassifier, MultiTaskClassifierCV, MultiTaskRegressor,
                   MultiTaskRegressorCV)
from skmtl.linear import Dirty, GraphRegularized, TraceNorm
from skmtl.model_selection import TaskKFold
from skmtl.persistence import load_npz, load_weights, save_npz, save_weights

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs pip install 'skmtl[torch]'")

RNG = np.random.RandomState(0)
X = RNG.randn(60, 4)
Y = X @ RNG.randn(4, 3) + 0.3 * RNG.randn(60, 3)
Y[:10, 1] = np.nan
TASKS = np.repeat(["a", "b", "c"], 20)
y = X @ RNG.randn(4) + 0.3 * RNG.randn(60)
LABELS = np.where(X[:, 0] + 0.5 * RNG.randn(60) > 0, "buy", "pass")
CLASSES3 = np.digitize(X[:, 1] + 0.3 * RNG.randn(60), [-0.5, 0.5])

NUMPY = {  # name: (estimator, fit arguments, predict keywords)
    "regressor wide": (MultiTaskRegressor(alpha=0.05), (X, Y), {}, {}),
    "regressor long trace": (MultiTaskRegressor(penalty=TraceNorm(), alpha=0.05), (X, y),
                             {"tasks": TASKS}, {"tasks": TASKS}),
    "regressor dirty": (MultiTaskRegressor(penalty=Dirty(), alpha=0.05), (X, Y), {}, {}),
    "regressor graph": (MultiTaskRegressor(penalty=GraphRegularized(), alpha=0.05),
                        (X, Y), {}, {}),
    "regressor object task ids": (MultiTaskRegressor(alpha=0.05), (X, y),
                                  {"tasks": np.repeat(np.array([3, 5, 7], dtype=object), 20)},
                                  {"tasks": np.repeat(np.array([3, 5, 7], dtype=object), 20)}),
    "classifier str labels": (MultiTaskClassifier(alpha=0.01), (X, LABELS),
                              {"tasks": TASKS}, {"tasks": TASKS}),
    "classifier 3 classes": (MultiTaskClassifier(alpha=0.01), (X, CLASSES3),
                             {"tasks": TASKS}, {"tasks": TASKS}),
    "regressor CV": (MultiTaskRegressorCV(penalty=["l21", TraceNorm()], alphas=3, cv=3),
                     (X, Y), {}, {}),
    "classifier CV": (MultiTaskClassifierCV(alphas=3, cv=3), (X, LABELS),
                      {"tasks": TASKS}, {"tasks": TASKS}),
}


def _fitted(name):
    est, args, fit_kw, predict_kw = NUMPY[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **fit_kw), predict_kw


def _assert_same_model(loaded, est, predict_kw):
    assert type(loaded) is type(est)
    assert repr(loaded) == repr(est)  # the same parameters, penalty objects included
    np.testing.assert_array_equal(loaded.predict(X, **predict_kw), est.predict(X, **predict_kw))
    if hasattr(est, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X, **predict_kw),
                                      est.predict_proba(X, **predict_kw))
        np.testing.assert_array_equal(loaded.classes_, est.classes_)
    for key in ("coef_", "intercept_", "tasks_", "alpha_", "mse_path_", "scores_path_"):
        if hasattr(est, key):
            np.testing.assert_array_equal(getattr(loaded, key), getattr(est, key))
            assert np.asarray(getattr(loaded, key)).dtype == np.asarray(getattr(est, key)).dtype


@pytest.mark.parametrize("name", list(NUMPY))
def test_npz_round_trip_of_each_numpy_model(name, tmp_path):
    est, predict_kw = _fitted(name)
    save_npz(est, tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as data:  # no object array
        assert all(data[k].dtype.kind != "O" for k in data.files)
    _assert_same_model(load_npz(tmp_path / "model.npz"), est, predict_kw)


def _craft(path, meta, **arrays):
    text = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, __skmtl__=text, **arrays)


def _meta(tmp_path):
    est, _ = _fitted("regressor wide")
    save_npz(est, tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as data:
        return json.loads(data["__skmtl__"].tobytes()), {k: data[k] for k in data.files
                                                         if k != "__skmtl__"}


@pytest.mark.parametrize("where", ["top", "nested"])
@pytest.mark.parametrize("target", ["os:system", "builtins:eval", "subprocess:Popen",
                                    "skmtl.linear._engine:os", "skmtl._tasks:TaskTable"])
def test_a_file_naming_another_class_is_refused(tmp_path, where, target):
    meta, arrays = _meta(tmp_path)
    if where == "top":
        meta["class"] = target
    else:
        meta["state"]["_engine"]["__object__"] = target
    _craft(tmp_path / "bad.npz", meta, **arrays)
    with pytest.raises(ValueError, match="refused|no class of skmtl"):
        load_npz(tmp_path / "bad.npz")


def test_a_file_of_an_engine_or_of_something_else_is_refused(tmp_path):
    meta, arrays = _meta(tmp_path)
    meta["class"] = "skmtl.linear._engine:LinearEngine"
    _craft(tmp_path / "engine.npz", meta, **arrays)
    with pytest.raises(ValueError, match="holds a LinearEngine, not an estimator"):
        load_npz(tmp_path / "engine.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="holds no skmtl model"):
        load_npz(tmp_path / "other.npz")
    meta["class"], meta["version"] = "skmtl._estimators._regressor:MultiTaskRegressor", 99
    _craft(tmp_path / "future.npz", meta, **arrays)
    with pytest.raises(ValueError, match="version 99 of the format"):
        load_npz(tmp_path / "future.npz")


def test_a_pickled_array_in_the_file_is_never_unpickled(tmp_path):
    meta, arrays = _meta(tmp_path)
    arrays["a0"] = np.array([print], dtype=object)
    _craft(tmp_path / "pickled.npz", meta, **arrays)
    with pytest.raises(ValueError, match="allow_pickle=False"):
        load_npz(tmp_path / "pickled.npz")


def test_what_the_files_cannot_hold_is_refused_at_saving_by_name(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MultiTaskRegressorCV(alphas=3, cv=KFold(3)).fit(X, Y)
    with pytest.raises(TypeError, match=r"MultiTaskRegressorCV\['cv'\] is a "
                                        r"sklearn.model_selection._split.KFold"):
        save_npz(est, tmp_path / "m.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MultiTaskRegressorCV(alphas=3, cv=TaskKFold(3)).fit(X, Y)
    save_npz(est, tmp_path / "ok.npz")  # skmtl's own splitter is stored
    assert repr(load_npz(tmp_path / "ok.npz").cv) == repr(TaskKFold(3))
    with pytest.raises(ValueError, match="not fitted yet"):
        save_npz(MultiTaskRegressor(), tmp_path / "m.npz")
    with pytest.raises(TypeError, match="hold skmtl's estimators"):
        save_npz(KFold(3), tmp_path / "m.npz")


def test_the_values_an_estimator_holds_come_back_as_they_were():
    import scipy.sparse as sp

    from skmtl.persistence import _decode, _Encoder

    values = {"nan": float("nan"), "tuple": (1, "a", None), "int64": np.int64(3),
              "str_": np.str_("a"), "dtype": np.dtype("float32"),
              "objects": np.array([3, "b", None], dtype=object),
              "text": np.array([["ab", "c"]]), "slice": slice(2, 5),
              "csr": sp.csr_matrix(np.eye(3)), "csr_array": sp.csr_array(np.eye(2)),
              "nested": {"list": [np.arange(3), {"x": 1.5}]}}
    for text_arrays in (True, False):
        encode = _Encoder(text_arrays)
        back = _decode(json.loads(json.dumps(encode(values, "v"))), encode.arrays)
        assert np.isnan(back["nan"]) and back["tuple"] == (1, "a", None)
        assert type(back["int64"]) is np.int64 and type(back["str_"]) is np.str_
        assert back["dtype"] == np.float32 and back["slice"] == slice(2, 5)
        assert back["objects"].dtype == object and list(back["objects"]) == [3, "b", None]
        assert back["text"].dtype == np.dtype("<U2") and back["text"].shape == (1, 2)
        assert isinstance(back["csr"], sp.csr_matrix) and (back["csr"] != sp.eye(3)).nnz == 0
        assert isinstance(back["csr_array"], sp.csr_array)
        np.testing.assert_array_equal(back["nested"]["list"][0], np.arange(3))


def test_importing_persistence_loads_no_torch():
    code = ("import sys, skmtl, skmtl.persistence; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- torch networks

def _net(kind, **params):
    from skmtl import MultiTaskEstimator

    base = dict(max_epochs=3, random_state=0, **params)
    if kind == "regressor":
        return MultiTaskRegressor(backend="torch", **base).fit(X, y, tasks=TASKS)
    if kind == "classifier":
        return MultiTaskClassifier(backend="torch", **base).fit(X, CLASSES3, tasks=TASKS)
    if kind == "mixed":
        kinds = {"a": "regression", "b": "classification", "c": "classification"}
        target = np.where(TASKS == "a", y, (y > 0).astype(float))
        return MultiTaskEstimator(task_types=kinds, **base).fit(X, target, tasks=TASKS)
    return MultiTaskRegressor(backend="torch", hidden_layer_sizes=(), **params).fit(X, Y)


@needs_torch
@pytest.mark.parametrize("kind, params", [
    ("regressor", {}), ("classifier", {"batch_norm": True, "dropout": 0.2}),
    ("mixed", {}), ("regressor", {"architecture": "mmoe", "n_experts": 2}),
    ("regressor", {"dtype": "float64"}), ("linear", {})])
def test_torch_round_trip_with_weights_only(kind, params, tmp_path):
    est = _net(kind, **params)
    save_weights(est, tmp_path / "net.pt")
    torch.load(tmp_path / "net.pt", weights_only=True)  # tensors, strings, numbers only
    loaded = load_weights(tmp_path / "net.pt")
    kw = {} if kind == "linear" else {"tasks": TASKS}
    np.testing.assert_array_equal(loaded.predict(X, **kw), est.predict(X, **kw))
    if hasattr(est, "predict_proba") and kind == "classifier":
        np.testing.assert_array_equal(loaded.predict_proba(X, **kw), est.predict_proba(X, **kw))
    assert repr(loaded) == repr(est)
    if kind != "linear":
        assert not loaded.module_.training and loaded.device_ == torch.device("cpu")


@needs_torch
def test_a_custom_trunk_is_given_again_at_loading(tmp_path):
    trunk = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh())
    est = MultiTaskRegressor(backend="torch", module=trunk, max_epochs=3,
                             random_state=0).fit(X, y, tasks=TASKS)
    save_weights(est, tmp_path / "net.pt")
    with pytest.raises(ValueError, match=r"custom module= trunk.*load_weights\(path, module="):
        load_weights(tmp_path / "net.pt")
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh())
    loaded = load_weights(tmp_path / "net.pt", module=fresh)
    np.testing.assert_array_equal(loaded.predict(X, tasks=TASKS), est.predict(X, tasks=TASKS))


@needs_torch
def test_networks_go_to_save_weights_and_a_pickle_is_not_loaded(tmp_path):
    est = _net("regressor")
    with pytest.raises(TypeError, match="save_weights"):
        save_npz(est, tmp_path / "m.npz")
    torch.save({"skmtl": "{}", "evil": print}, tmp_path / "pickled.pt")
    with pytest.raises(Exception, match="[Ww]eights only load failed|Unsupported global"):
        load_weights(tmp_path / "pickled.pt")


# ------------------------------------------------------------------------ skops

def _skops_types(est):
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(est)
    return sio, data, sio.get_untrusted_types(data=data)


@pytest.mark.parametrize("name", list(NUMPY))
def test_skops_loads_each_numpy_model_trusting_skmtl_types(name):
    """Flagged today: the estimator class, ``_engine`` (LinearEngine), penalty objects
    (``penalty=``, ``penalty_``): skmtl's own types only."""
    est, predict_kw = _fitted(name)
    sio, data, flagged = _skops_types(est)
    foreign = [t for t in flagged if not t.startswith("skmtl.")]
    assert not foreign, foreign
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.loads(data, trusted=[])
    _assert_same_model(sio.loads(data, trusted=flagged), est, predict_kw)


def test_skops_flags_no_type_but_skmtl_own():
    est, _ = _fitted("regressor wide")
    _, _, flagged = _skops_types(est)
    assert all(t.startswith("skmtl.") for t in flagged), flagged
