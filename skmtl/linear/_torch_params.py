"""The parameters of the torch backend, shared by the estimators that have it."""

_TORCH_PARAMS = (
    "backend", "hidden_layer_sizes", "activation", "dropout", "batch_norm",
    "architecture", "n_experts", "module", "loss_weighting", "learning_rate",
    "weight_decay", "batch_size", "max_epochs", "early_stopping",
    "validation_fraction", "n_iter_no_change", "random_state", "device", "dtype",
)
WEIGHTINGS = ("equal", "uncertainty", "dwa", "gradnorm", "pcgrad", "mgda", "cagrad",
              "nash_mtl", "upgrad")


def _set_torch_params(est, params):
    for name in _TORCH_PARAMS:
        setattr(est, name, params[name])


def _is_torch(est):
    return est.backend == "torch"
