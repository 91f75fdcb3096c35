"""The parameters of the torch backend, shared by the estimators that have it."""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

_TORCH_PARAMS = (
    "backend", "hidden_layer_sizes", "activation", "dropout", "batch_norm",
    "architecture", "n_experts", "module", "loss_weighting", "learning_rate",
    "weight_decay", "batch_size", "max_epochs", "early_stopping",
    "validation_fraction", "n_iter_no_change", "random_state", "device", "dtype",
)
WEIGHTINGS = ("equal", "uncertainty", "dwa", "gradnorm", "pcgrad", "mgda", "cagrad",
              "nash_mtl", "upgrad")

# their constraints, in the order of _TORCH_PARAMS
_TORCH_CONSTRAINTS = {
    "backend": [StrOptions({"numpy", "torch"})],
    "hidden_layer_sizes": [tuple, list],
    "activation": [StrOptions({"relu", "tanh", "logistic", "gelu", "identity"})],
    "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
    "architecture": [StrOptions({"shared", "mmoe"})],
    "n_experts": [Interval(numbers.Integral, 1, None, closed="left")],
    "module": "no_validation",
    "loss_weighting": [StrOptions(set(WEIGHTINGS))],
    "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
    "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
    "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "device": [str],
    "dtype": [StrOptions({"float32", "float64"})],
}


def _is_torch(est):
    return est.backend == "torch"
