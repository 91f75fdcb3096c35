"""Regularized multi-task linear models (numpy/scipy backend)."""

from ._estimators import MultiTaskClassifier, MultiTaskRegressor
from ._penalties import (
    L1,
    L2,
    L21,
    ClusteredNorm,
    Dirty,
    GraphRegularized,
    MeanRegularized,
    Penalty,
    TraceNorm,
    get_penalty,
)

__all__ = [
    "MultiTaskRegressor",
    "MultiTaskClassifier",
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
