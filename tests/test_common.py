"""sklearn's estimator checks over every public estimator."""

import inspect

import pytest
import sklearn
from sklearn.base import clone
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmtl import (
    MultiTaskClassifier,
    MultiTaskClassifierCV,
    MultiTaskRegressor,
    MultiTaskRegressorCV,
)
from skmtl.linear import Dirty
from skmtl.linear import GraphRegularized

ESTIMATORS = [
    MultiTaskRegressor(),
    MultiTaskRegressor(penalty="trace", alpha=0.1),
    MultiTaskRegressor(penalty="mean", alpha=0.1, solver="fista"),
    MultiTaskRegressor(penalty=GraphRegularized(ridge=1.0), alpha=0.1),
    MultiTaskRegressor(penalty="dirty", alpha=0.1),
    MultiTaskClassifier(alpha=0.01),
    MultiTaskClassifier(penalty="l2", alpha=0.01, loss="squared_hinge"),
    MultiTaskClassifier(penalty="cluster", alpha=0.01),
    MultiTaskRegressor(penalty="relationship", alpha=0.1),
    MultiTaskRegressor(penalty="robust", alpha=0.1),
    MultiTaskClassifier(penalty="relationship", alpha=0.01),
    MultiTaskRegressorCV(alphas=4, cv=2),
    MultiTaskRegressorCV(penalty=[Dirty(l1_ratio=0.3), "trace"], alphas=3, cv=2),
    MultiTaskClassifierCV(alphas=3, cv=2),
]
try:
    import torch  # noqa: F401
except ImportError:  # the torch backend is an optional extra
    pass
else:
    from skmtl import MultiTaskEstimator

    TORCH = dict(backend="torch", hidden_layer_sizes=(16,), max_epochs=20, random_state=0,
                 learning_rate=1e-2)
    ESTIMATORS += [
        MultiTaskRegressor(**TORCH),
        # the default tanh trunk needs 40 epochs for check_class_weight_classifiers
        MultiTaskClassifier(**{**TORCH, "max_epochs": 40}),
        MultiTaskClassifier(**TORCH, architecture="mmoe", n_experts=2,
                            loss_weighting="pcgrad"),
        MultiTaskEstimator(**{k: v for k, v in TORCH.items() if k != "backend"}),
    ]


# The expected failures, check name -> reason.  sklearn ignores a name that is not
# one of its checks, so a renamed check would fail silently: see
# test_expected_failures_name_existing_checks.
TORCH_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training: weighted rows and repeated rows make different "
        "batches, so the two fits differ"),
    "check_sample_weight_equivalence_on_sparse_data": (
        "mini-batch training: weighted rows and repeated rows make different "
        "batches, so the two fits differ"),
    "check_methods_subset_invariance": (
        "float32 matrix products differ at 1e-7 with the batch's shape"),
}
CLASSIFIER_FAILURES = {
    "check_classifier_multioutput": (
        "a 2-D Y follows MultiOutputClassifier's convention (classes_ and "
        "predict_proba are lists with one entry per task), while this check "
        "assumes the multilabel one (a single classes_ array)"),
}
# sklearn checks that set a parameter which some configurations do not read, and
# so refuse: each runs again below with the refusal let through.
NETWORK_REGRESSOR_FAILURES = {
    "check_regressors_train": (
        "sets alpha=0.01, a parameter the network refuses (it does not read it)"),
}
LINEAR_CLASSIFIER_FAILURES = {
    "check_class_weight_classifiers": (
        "sets n_iter_no_change=20, a network parameter the linear model refuses"),
}
META_FAILURES = {}  # meta-training takes no sample_weight: sklearn skips those checks
EXPECTED_FAILURES = {"torch": TORCH_FAILURES, "classifier": CLASSIFIER_FAILURES,
                     "network regressor": NETWORK_REGRESSOR_FAILURES,
                     "linear classifier": LINEAR_CLASSIFIER_FAILURES,
                     "meta": META_FAILURES}


def _is_torch(estimator):
    """The torch backend (MultiTaskEstimator has no other, and no backend parameter)."""
    return getattr(estimator, "backend", None) == "torch" or \
        type(estimator).__name__ == "MultiTaskEstimator"


def _expected_failures(estimator):
    failures = {}
    if _is_torch(estimator):
        failures.update(TORCH_FAILURES)
    if isinstance(estimator, MultiTaskClassifier):
        failures.update(CLASSIFIER_FAILURES)
    if isinstance(estimator, MultiTaskRegressor) and _is_torch(estimator):
        failures.update(NETWORK_REGRESSOR_FAILURES)
    if isinstance(estimator, MultiTaskClassifier) and not _is_torch(estimator) and \
            not isinstance(estimator, MultiTaskClassifierCV):  # the CV has no such param
        failures.update(LINEAR_CLASSIFIER_FAILURES)
    return failures


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _refused_by_checks():
    """(estimator, check) for each expected failure above that is only a refusal."""
    cases = []
    for est in ESTIMATORS:
        names = []
        if isinstance(est, MultiTaskRegressor) and _is_torch(est):
            names = list(NETWORK_REGRESSOR_FAILURES)
        if isinstance(est, MultiTaskClassifier) and not _is_torch(est) and \
                not isinstance(est, MultiTaskClassifierCV):
            names = list(LINEAR_CLASSIFIER_FAILURES)
        cases += [(est, name) for name in names]
    return cases


@pytest.mark.parametrize("estimator, name", _refused_by_checks(),
                         ids=lambda v: v if isinstance(v, str) else repr(v))
def test_checks_that_set_refused_parameters_pass_otherwise(estimator, name, monkeypatch):
    from skmtl._estimators import _base

    # the check's parameter let through; everything else it checks, checked
    monkeypatch.setattr(_base, "check_configuration", lambda *args, **kwargs: None)
    getattr(estimator_checks, name)(type(estimator).__name__, clone(estimator))


try:
    from skmtl.meta import MetaLearnerClassifier, MetaLearnerRegressor
except ImportError:  # torch is an optional extra
    META = []
else:
    META = [MetaLearnerClassifier(n_way=3, k_shot=1, n_query=1, n_episodes=40,
                                  hidden_layer_sizes=(16,), learning_rate=1e-2,
                                  random_state=0),
            MetaLearnerRegressor(k_shot=2, n_query=2, n_episodes=20,
                                 hidden_layer_sizes=(16,), learning_rate=1e-2,
                                 random_state=0)]


def _meta_expected_failures(estimator):
    return dict(META_FAILURES)


@parametrize_with_checks(META, expected_failed_checks=_meta_expected_failures)
def test_meta_learner_is_sklearn_compatible(estimator, check):
    check(estimator)


def _is_check(name):
    return name.startswith("check_") and inspect.isfunction(
        getattr(estimator_checks, name, None))


@pytest.mark.parametrize("table", list(EXPECTED_FAILURES))
def test_expected_failures_name_existing_checks(table):
    """Every expected failure names a check of the installed scikit-learn (one that
    was renamed or removed would otherwise be dropped without a word)."""
    stale = sorted(name for name in EXPECTED_FAILURES[table] if not _is_check(name))
    assert not stale, (f"{table}: not checks of scikit-learn {sklearn.__version__} "
                       f"(sklearn.utils.estimator_checks): {stale}")

