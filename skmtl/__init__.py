"""skmtl: multi-task and meta-learning estimators for scikit-learn."""

from .linear import MultiTaskClassifier, MultiTaskRegressor

__version__ = "0.1.0.dev0"

__all__ = ["MultiTaskRegressor", "MultiTaskClassifier", "__version__"]
