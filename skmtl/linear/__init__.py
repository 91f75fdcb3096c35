"""Regularized multi-task linear models (numpy/scipy backend)."""

from ._classifier import MultiTaskClassifier
from ._estimators import MultiTaskRegressor
from ._coupling import ClusteredNorm, GraphRegularized, MeanRegularized
from ._cv import MultiTaskClassifierCV, MultiTaskRegressorCV
from ._path import multitask_path
from ._penalties import L1, L2, L21, Dirty, Penalty, TraceNorm
from ._registry import get_penalty

__all__ = [
    "MultiTaskRegressor",
    "MultiTaskClassifier",
    "MultiTaskRegressorCV",
    "MultiTaskClassifierCV",
    "multitask_path",
    "Penalty",
    "L21",
    "L1",
    "L2",
    "TraceNorm",
    "MeanRegularized",
    "GraphRegularized",
    "ClusteredNorm",
    "Dirty",
    "get_penalty",
]
