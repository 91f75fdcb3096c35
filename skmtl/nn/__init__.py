"""The torch backend: shared-parameter networks and loss weighting (needs torch)."""

from ._mixed import MultiTaskEstimator
from ._weighting import WEIGHTINGS

__all__ = ["MultiTaskEstimator", "WEIGHTINGS"]
