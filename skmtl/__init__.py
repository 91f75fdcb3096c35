"""skmtl: multi-task and meta-learning estimators for scikit-learn."""

from .linear import (
    MultiTaskClassifier,
    MultiTaskClassifierCV,
    MultiTaskRegressor,
    MultiTaskRegressorCV,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "MultiTaskRegressor",
    "MultiTaskClassifier",
    "MultiTaskRegressorCV",
    "MultiTaskClassifierCV",
    "__version__",
]
