"""The torch backend: shared-parameter networks, their training loop, loss weighting,
and the torch engines behind ``backend="torch"`` (needs torch)."""

from ._callbacks import Callback, EarlyStopping, Timer
from ._modules import ACTIVATIONS
from ._weighting import WEIGHTINGS

__all__ = ["ACTIVATIONS", "WEIGHTINGS", "Callback", "EarlyStopping", "Timer"]
