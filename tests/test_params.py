"""Every parameter set away from its default changes the fit, or is refused.

For each estimator and configuration, each parameter is set to a value other than
its default.  A parameter the configuration reads (its engine's ``uses``) must
change something observable: the predictions, a fitted attribute, or the printed
progress.  Any other must be refused with a ValueError that names it and the
setting that uses it.  The few parameters that are accepted everywhere without
changing the model have their own tests below.
"""

import contextlib
import io
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from skmtl import (
    MultiTaskClassifier,
    MultiTaskClassifierCV,
    MultiTaskRegressor,
    MultiTaskRegressorCV,
)

torch_installed = True
try:
    import torch  # noqa: F401
except ImportError:
    torch_installed = False
needs_torch = pytest.mark.skipif(not torch_installed, reason="needs the torch extra")


def _module():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh())


# A value other than the default for every parameter (a callable: built on use).
OTHER = {
    "penalty": "trace", "alpha": 0.05, "positive": True, "unknown_task": "shared",
    "fit_intercept": False, "solver": "fista",
    "precompute": False, "max_iter": 3, "tol": 0.3, "warm_start": True, "verbose": 1,
    "backend": None, "hidden_layer_sizes": (7,), "activation": "logistic", "dropout": 0.5,
    "batch_norm": True, "architecture": "mmoe", "n_experts": 2, "module": _module,
    "loss_weighting": "uncertainty", "learning_rate": 3e-2, "weight_decay": 0.3,
    "batch_size": 7, "max_epochs": 2, "early_stopping": True,
    "validation_fraction": 0.4, "n_iter_no_change": 1, "random_state": 1,
    "device": "cuda", "dtype": "float64", "loss": "squared_hinge", "alphas": 3,
    "eps": 0.3, "cv": 3, "n_jobs": 2,
    "scoring": lambda est, X, y, **kw: -float(np.abs(est.coef_).sum()),
    "task_types": ["regression", "regression"], "class_weight": {1: 3.0},
    "callbacks": lambda: [__import__("skmtl.nn", fromlist=["Timer"]).Timer()],
}

NET = dict(backend="torch", max_epochs=8, random_state=0, learning_rate=1e-2,
           hidden_layer_sizes=(5,), tol=0.02, n_iter_no_change=3)
LIN = dict(backend="torch", hidden_layer_sizes=())
CASES = [
    ("numpy", MultiTaskRegressor, dict(alpha=0.3)),
    ("numpy", MultiTaskClassifier, dict(alpha=0.01)),
    ("cv", MultiTaskRegressorCV, dict(alphas=5, cv=2)),
    ("cv", MultiTaskClassifierCV, dict(alphas=5, cv=2)),
    ("torch linear", MultiTaskRegressor, dict(alpha=0.3, **LIN)),
    ("torch linear", MultiTaskClassifier, dict(alpha=0.01, **LIN)),
    ("network", MultiTaskRegressor, NET),
    ("network", MultiTaskClassifier, NET),
    ("network", "MultiTaskEstimator", {k: v for k, v in NET.items() if k != "backend"}),
]


def _data(classifier):
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    Y = X @ rng.randn(4, 2) + 0.3 * rng.randn(60, 2)
    if classifier == "mixed":
        return X, np.column_stack([(Y[:, 0] > 0).astype(float), Y[:, 1]])
    return X, ((Y > 0).astype(int) if classifier else Y)


def _estimator(cls):
    if cls == "MultiTaskEstimator":
        from skmtl import MultiTaskEstimator

        return MultiTaskEstimator
    return cls


def _fingerprint(est, X, y):
    """What a user can observe of a fit: predictions, fitted arrays, printed text."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
        if est.get_params().get("warm_start"):
            est.fit(X, y)  # the second fit starts from the first
        pred = est.predict(X)
        if isinstance(pred, dict):  # MultiTaskEstimator's wide format: one array a task
            pred = np.column_stack(list(pred.values()))
        pred = np.asarray(pred, dtype=float)
    attrs = [np.asarray(getattr(est, a), dtype=float).ravel() for a in
             ("coef_", "intercept_", "n_iter_", "loss_curve_", "alpha_", "alphas_",
              "mse_path_", "scores_path_")
             if getattr(est, a, None) is not None]
    return pred, attrs, out.getvalue()


def _differs(a, b):
    (pa, aa, ta), (pb, ab, tb) = a, b
    if ta != tb or not np.array_equal(pa, pb) or len(aa) != len(ab):
        return True
    return any(x.shape != y.shape or not np.array_equal(x, y) for x, y in zip(aa, ab))


def _params_of(kind, cls, base):
    est = _estimator(cls)(**base)
    return [(kind, cls, base, name) for name in sorted(est.get_params(deep=False))
            if name != "backend"]


PARAMS = [p for kind, cls, base in CASES for p in _params_of(kind, cls, base)]


def _engine(est):
    return est._engine_class(True if type(est).__name__ == "MultiTaskEstimator" else None)


@pytest.mark.parametrize(
    "kind, cls, base, name", PARAMS,
    ids=[f"{k}-{c if isinstance(c, str) else c.__name__}-{n}" for k, c, _, n in PARAMS])
def test_each_parameter_is_used_or_refused(kind, cls, base, name):
    if kind in ("network", "torch linear") and not torch_installed:
        pytest.skip("needs the torch extra")
    cls = _estimator(cls)
    classifier = "mixed" if cls.__name__ == "MultiTaskEstimator" else \
        issubclass(cls, MultiTaskClassifier)
    X, y = _data(classifier)
    default = cls(**base)
    if name in ("module", "callbacks") and not torch_installed:
        pytest.skip("the other value is a torch object (a module, a Timer)")
    value = OTHER[name]() if name in ("module", "callbacks") else OTHER[name]
    if name in ("random_state", "n_jobs"):
        pytest.skip("accepted by every configuration: see the tests below")
    if name == "device":
        if torch_installed and __import__("torch").cuda.is_available():
            pytest.skip("device='cuda' is valid here")
    changed = clone(default).set_params(**{name: value})
    if kind == "network":  # settings under which the parameter is read
        extra = {"n_experts": dict(architecture="mmoe"),
                 "validation_fraction": dict(early_stopping=True),
                 "n_iter_no_change": dict(tol=10.0)}.get(name, {})  # 10: every epoch stalls
        default.set_params(**extra)
        changed.set_params(**extra)
    if name == "module":  # a custom trunk replaces the MLP: its settings at defaults
        changed.set_params(hidden_layer_sizes=type(changed)().hidden_layer_sizes)
    engine = _engine(changed)
    if engine is not _engine(default):  # the parameter picks another configuration
        assert name in engine.selects or name in engine.uses(changed)
        return
    used = name in engine.uses(changed) or name == "verbose" or \
        name in changed._own_params
    if name == "solver" and kind != "network" and (kind == "torch linear" or classifier):
        # "auto" is "fista" here; "cd" is read and refused
        with pytest.raises(ValueError, match="solver='cd' (needs|runs on the numpy)"):
            clone(changed).set_params(solver="cd").fit(X, y)
        return
    if name == "loss" and kind == "network":  # the network trains the logistic loss only
        with pytest.raises(ValueError, match="loss='logistic' only"):
            changed.fit(X, y)
        return
    if name == "unknown_task":  # read at predict, on a task the long-format fit never saw
        _check_unknown_task(default, changed, X, y)
        return
    if not used:
        with pytest.raises(ValueError, match=rf"(?s){name}=.* has no effect on .* a "
                                             r"parameter of .*default"):
            changed.fit(X, y)
        return
    if name == "callbacks":  # read: the fit notifies copies of them
        changed.fit(X, y)
        assert changed.callbacks_[0].epoch_times and not value[0].epoch_times
        return
    if name == "device":  # read: a CUDA device is asked for on a machine without one
        with pytest.raises(ValueError, match="no CUDA GPU"):
            changed.fit(X, y)
        return
    assert _differs(_fingerprint(default, X, y), _fingerprint(changed, X, y)), (
        f"{name}={value!r} is accepted by {engine.name} but changes nothing")


def _check_unknown_task(default, changed, X, y):
    """The long format's first column: the default refuses a row of an unseen task,
    the other value predicts it, and the rows of known tasks alike."""
    tasks = np.repeat([0, 1], len(X) // 2)
    new = np.r_[tasks[:3], 7]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default.fit(X, y[:, 0], tasks=tasks)
        changed.fit(X, y[:, 0], tasks=tasks)
        with pytest.raises(ValueError, match=r"Unknown task\(s\) 7"):
            default.predict(X[:4], tasks=new)
        pred = changed.predict(X[:4], tasks=new)
        np.testing.assert_array_equal(pred[:3], default.predict(X[:3], tasks=new[:3]))
    assert pred.shape == (4,)


@pytest.mark.parametrize("cls", [MultiTaskRegressor, MultiTaskClassifier])
def test_random_state_is_accepted_and_the_numpy_solvers_are_deterministic(cls):
    X, y = _data(issubclass(cls, MultiTaskClassifier))
    a = cls(alpha=0.1).fit(X, y)
    b = cls(alpha=0.1, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


@needs_torch
def test_random_state_seeds_the_network():
    X, y = _data(False)
    a = MultiTaskRegressor(**NET).fit(X, y)
    b = MultiTaskRegressor(**{**NET, "random_state": 1}).fit(X, y)
    assert not np.array_equal(a.predict(X), b.predict(X))


def test_n_jobs_runs_the_folds_in_parallel_to_the_same_result():
    X, y = _data(False)
    a = MultiTaskRegressorCV(alphas=4, cv=2).fit(X, y)
    b = MultiTaskRegressorCV(alphas=4, cv=2, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-12)


def test_the_message_names_the_setting_that_uses_the_parameter():
    X, y = _data(False)
    with pytest.raises(ValueError, match=r"dropout=0\.9 has no effect on the numpy "
                                         r"linear model .*backend=\"torch\""):
        MultiTaskRegressor(dropout=0.9).fit(X, y)
    if torch_installed:
        with pytest.raises(ValueError, match=r"alpha=1000000\.0 has no effect on the "
                                             r"torch network.*backend=\"numpy\""):
            MultiTaskRegressor(**NET, alpha=1e6).fit(X, y)
        with pytest.raises(ValueError, match=r'n_experts=2 .*architecture="mmoe"'):
            MultiTaskRegressor(**NET, n_experts=2).fit(X, y)
        with pytest.raises(ValueError, match="solver='cd' runs on the numpy backend"):
            MultiTaskRegressor(**LIN, solver="cd").fit(X, y)


# ------------------------------------------------------------- meta-learners
META_OTHER = {
    "algorithm": "fomaml", "backbone": "conv4", "input_shape": (1, 2, 2),
    "hidden_layer_sizes": (6,), "n_way": 2, "k_shot": 2, "n_query": 1, "n_episodes": 12,
    "meta_batch_size": 2, "learning_rate": 0.1, "learning_rate_schedule": "linear",
    "meta_optimizer": "sgd", "inner_lr": 0.05, "inner_steps": 2, "adapt_steps": 3,
    "n_support": 2, "transductive": True, "validation_fraction": 0.3,
    "early_stopping": False, "n_iter_no_change": 1, "verbose": 1,
    "head_init": "prototypes",
}
META_BASE = dict(n_way=3, k_shot=1, n_query=2, n_episodes=8, hidden_layer_sizes=(8,),
                 random_state=0, learning_rate=1e-2, validation_fraction=0.0)
META_CASES = [("protonet", "MetaLearnerClassifier"), ("maml", "MetaLearnerClassifier"),
              ("maml", "MetaLearnerRegressor")]


def _meta_params():
    if not torch_installed:
        return []
    import skmtl

    out = []
    for algorithm, cls in META_CASES:
        est = getattr(skmtl, cls)(algorithm)
        out += [(algorithm, cls, name) for name in sorted(est.get_params(deep=False))
                if name in META_OTHER and name != "algorithm"]
    return out


META_PARAMS = _meta_params()


@needs_torch
@pytest.mark.parametrize("algorithm, cls, name", META_PARAMS,
                         ids=[f"{c}-{a}-{n}" for a, c, n in META_PARAMS])
def test_each_meta_learner_parameter_is_used_or_refused(algorithm, cls, name):
    import skmtl

    cls = getattr(skmtl, cls)
    regressor = cls.__name__ == "MetaLearnerRegressor"
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(12), 8)
    X = 3 * rng.randn(12, 4)[y] + rng.randn(y.size, 4)
    tasks = None
    if regressor:  # 12 tasks, their own lines
        tasks, y = y, (X * rng.randn(12, 4)[y]).sum(1)
    base = {k: v for k, v in META_BASE.items()
            if not (regressor and k == "n_way")}
    if name in ("n_iter_no_change", "early_stopping"):  # validation checks to stop on
        base.update(validation_fraction=0.3, n_episodes=80)
    if name == "n_iter_no_change":
        base.update(early_stopping=True)
    default = cls(algorithm, **base)
    changed = clone(default).set_params(**{name: META_OTHER[name]})
    if name in changed._conditions and not changed._conditions[name][0](changed):
        with pytest.raises(ValueError, match=rf"{name}=.* has no effect on algorithm="):
            changed.fit(X, y, tasks=tasks)
        return

    def fingerprint(est):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y, tasks=tasks)
            pred = est.predict(X) if regressor else est.predict_proba(X)
        return pred, [np.asarray(est.loss_curve_), np.asarray(est.n_iter_)], out.getvalue()

    if name in ("backbone", "input_shape", "transductive"):
        pytest.skip("needs image rows: tests/test_meta.py covers conv4")
    assert _differs(fingerprint(default), fingerprint(changed)), name


def test_parameter_names_are_sklearns_read_once_a_class(monkeypatch):
    import inspect

    from sklearn.base import BaseEstimator

    from skmtl import MultiTaskClassifierCV, MultiTaskEstimator, MultiTaskRegressorCV

    class Other(MultiTaskRegressor):  # a subclass has its own names
        def __init__(self, penalty="l21", extra=1):
            super().__init__(penalty=penalty)
            self.extra = extra

    for cls in (MultiTaskRegressor, MultiTaskClassifier, MultiTaskEstimator,
                MultiTaskRegressorCV, MultiTaskClassifierCV):
        assert cls._get_param_names() == BaseEstimator._get_param_names.__func__(cls)
    MultiTaskRegressor().get_params()  # the parent's names first: no confusion
    assert Other._get_param_names() == ["extra", "penalty"]
    assert Other(extra=2).get_params() == {"extra": 2, "penalty": "l21"}
    calls = []
    real = inspect.signature
    monkeypatch.setattr(inspect, "signature", lambda *a, **k: calls.append(1) or real(*a, **k))
    est = MultiTaskRegressor()
    for _ in range(5):
        clone(est).get_params()
    assert not calls  # read when the class was first asked, not at every call
