"""The estimators' front doors, above both backends (``skmtl.linear``, ``skmtl.nn``)."""

from ._classifier import MultiTaskClassifier
from ._cv import MultiTaskClassifierCV, MultiTaskRegressorCV
from ._mixed import MultiTaskEstimator
from ._regressor import MultiTaskRegressor

__all__ = ["MultiTaskRegressor", "MultiTaskClassifier", "MultiTaskRegressorCV",
           "MultiTaskClassifierCV", "MultiTaskEstimator"]
