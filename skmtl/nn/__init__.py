"""The torch backend: shared-parameter networks, their training loop, loss weighting,
and the torch engines behind ``backend="torch"`` (needs torch)."""

from ._aggregators import (DWA, FAMO, MGDA, RLW, WEIGHTINGS, AlignedMTL, CAGrad, ConFIG,
                           DualProj, Equal, FairGrad, GradNorm, GradVac, IMTLG, NashMTL,
                           PCGrad, Uncertainty, UPGrad)
from ._callbacks import Callback, EarlyStopping, Timer
from ._modules import ACTIVATIONS
from ._weighting import LossWeighting, Weighting

__all__ = ["ACTIVATIONS", "WEIGHTINGS", "Callback", "EarlyStopping", "Timer",
           "LossWeighting", "Weighting", "AlignedMTL", "CAGrad", "ConFIG", "DWA",
           "DualProj", "Equal", "FAMO", "FairGrad", "GradNorm", "GradVac", "IMTLG", "MGDA",
           "NashMTL", "PCGrad", "RLW", "Uncertainty", "UPGrad"]
