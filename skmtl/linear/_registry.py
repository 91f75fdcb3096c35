"""Penalties by name."""

from sklearn.utils._param_validation import validate_params

from ._coupling import ClusteredNorm, GraphRegularized, MeanRegularized
from ._penalties import L1, L2, L21, Dirty, Penalty, TraceNorm
from ._relationship import TaskRelationship
from ._robust import RobustLowRank

PENALTIES = {
    "l21": L21,
    "l1": L1,
    "l2": L2,
    "trace": TraceNorm,
    "mean": MeanRegularized,
    "graph": GraphRegularized,
    "cluster": ClusteredNorm,
    "dirty": Dirty,
    "relationship": TaskRelationship,
    "robust": RobustLowRank,
}


@validate_params(
    {"penalty": [str, Penalty]}, prefer_skip_nested_validation=True
)
def get_penalty(penalty):
    """Return a penalty object from its name (``"l21"``, ``"trace"``, ...) or itself.

    Examples
    --------
    >>> from skmtl.linear import get_penalty
    >>> get_penalty("trace")
    TraceNorm()
    """
    if isinstance(penalty, Penalty):
        return penalty
    if penalty not in PENALTIES:
        raise ValueError(f"Unknown penalty {penalty!r}; choose one of {sorted(PENALTIES)}.")
    return PENALTIES[penalty]()
