"""sklearn's estimator checks over every public estimator."""

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
    MultiTaskRegressorCV(alphas=4, cv=2),
    MultiTaskRegressorCV(penalty=[Dirty(l1_ratio=0.3), "trace"], alphas=3, cv=2),
    MultiTaskClassifierCV(alphas=3, cv=2),
]


def _expected_failures(estimator):
    if isinstance(estimator, MultiTaskClassifier):
        return {
            "check_classifier_multioutput": (
                "a 2-D Y follows MultiOutputClassifier's convention (classes_ and "
                "predict_proba are lists with one entry per task), while this check "
                "assumes the multilabel one (a single classes_ array)"
            )
        }
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)
