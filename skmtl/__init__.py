"""skmtl: multi-task and meta-learning estimators for scikit-learn."""

from ._estimators import (
    MultiTaskClassifier,
    MultiTaskClassifierCV,
    MultiTaskEstimator,
    MultiTaskRegressor,
    MultiTaskRegressorCV,
)

__version__ = "0.1.0.dev0"

# The meta-learners, imported on first use: ``import skmtl`` loads no torch.
_LAZY = {
    "MetaLearnerClassifier": ".meta",
    "MetaLearnerRegressor": ".meta",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'skmtl' has no attribute {name!r}")
    import importlib

    try:
        module = importlib.import_module(_LAZY[name], __name__)
    except ImportError as exc:
        if exc.name != "torch" and "torch" not in str(exc):
            raise
        raise ImportError(
            f"skmtl.{name} needs torch: pip install 'skmtl[torch]'.") from exc
    return getattr(module, name)


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = [
    "MultiTaskRegressor",
    "MultiTaskClassifier",
    "MultiTaskRegressorCV",
    "MultiTaskClassifierCV",
    "MultiTaskEstimator",
    "MetaLearnerClassifier",
    "MetaLearnerRegressor",
    "__version__",
]
