"""skmtl: multi-task and meta-learning estimators for scikit-learn."""

from .linear import (
    MultiTaskClassifier,
    MultiTaskClassifierCV,
    MultiTaskRegressor,
    MultiTaskRegressorCV,
)

__version__ = "0.1.0.dev0"


def __getattr__(name):  # the torch backend's own estimator, imported on demand
    if name == "MultiTaskEstimator":
        from .nn._mixed import MultiTaskEstimator

        return MultiTaskEstimator
    raise AttributeError(f"module 'skmtl' has no attribute {name!r}")

__all__ = [
    "MultiTaskRegressor",
    "MultiTaskClassifier",
    "MultiTaskRegressorCV",
    "MultiTaskClassifierCV",
    "MultiTaskEstimator",
    "__version__",
]
