"""Regularized multi-task linear models: the numpy/scipy math (no torch).

Penalties, losses, data-fit terms, the solvers, regularization paths and the numpy
engine behind ``MultiTaskRegressor`` / ``MultiTaskClassifier(backend="numpy")``;
the estimators themselves are ``skmtl.MultiTaskRegressor`` and friends.
"""

from ._coupling import ClusteredNorm, GraphRegularized, MeanRegularized
from ._elastic import ElasticMix
from ._path import multitask_path
from ._penalties import L1, L2, L21, Dirty, Penalty, TraceNorm
from ._registry import PENALTIES, get_penalty
from ._relationship import TaskRelationship
from ._robust import RobustLowRank

__all__ = [
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
    "ElasticMix",
    "TaskRelationship",
    "RobustLowRank",
    "PENALTIES",
    "get_penalty",
]
