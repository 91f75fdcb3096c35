"""The torch engines behind ``backend="torch"``: the linear model with X on a device,
and the shared-parameter network.

Both follow :class:`skmtl.linear._engine.LinearEngine`'s interface (``params``,
``attributes``, ``fit``, ``outputs``); the front door picks one with
:func:`torch_engine`.
"""

import functools

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_parameter_constraints

from ..base import Engine
from ..linear._engine import LinearEngine
from ._backend import DTYPES, fit_network, network_outputs, resolve_device
from ._linear import TorchDesignFit
from ._modules import ACTIVATIONS
from ._rows import as_lazy, is_streamed
from ._state import check_finite_outputs
from ._weighting import check_weighting


class TorchLinearEngine(LinearEngine):
    """The numpy backend's penalized linear model, with the products with X on the
    torch device (the same objective, penalty and solver: the same solution)."""

    name = "the linear model on a torch device"
    setting = 'backend="torch", hidden_layer_sizes=()'
    params = tuple(p for p in LinearEngine.params if p != "precompute") + (
        "device", "dtype")
    selects = ("hidden_layer_sizes", "architecture", "module")

    def __init__(self, est):
        super().__init__(est)
        self.precompute = "auto"
        if self.solver == "cd":
            raise ValueError(
                "solver='cd' runs on the numpy backend only; backend='torch' with "
                "hidden_layer_sizes=() solves with solver='fista' (or 'auto').")
        self.dtype = str(self.dtype)  # "float32" / "float64": a name, not a numpy.dtype

    def _design(self):
        return functools.partial(TorchDesignFit, device=resolve_device(self.device),
                                 dtype=DTYPES[self.dtype])


class NetworkEngine(Engine):
    """A trunk shared by all tasks and a head per task (or MMoE), trained by AdamW."""

    name = "the torch network"
    setting = 'backend="torch" with hidden layers (or module=, architecture="mmoe")'
    params = ("hidden_layer_sizes", "activation", "dropout", "batch_norm", "architecture",
              "n_experts", "module", "loss_weighting", "learning_rate", "weight_decay",
              "batch_size", "max_epochs", "early_stopping", "validation_fraction",
              "n_iter_no_change", "device", "dtype", "tol", "warm_start", "loss",
              "callbacks")
    attributes = ("module_", "loss_curve_", "task_loss_curve_", "validation_scores_",
                  "n_iter_", "device_", "callbacks_")
    network = True
    # the option lists, read from the registries where the implementations live
    _constraints = {"activation": [StrOptions(set(ACTIVATIONS))]}

    # parameters read only under another setting: name -> (test, that setting)
    conditions = {
        "n_experts": (lambda est: est.architecture == "mmoe", 'architecture="mmoe"'),
        "validation_fraction": (lambda est: est.early_stopping, 'early_stopping=True (or "auto")'),
        **{name: (lambda est: est.module is None, "module=None (the MLP trunk)")
           for name in ("hidden_layer_sizes", "activation", "dropout", "batch_norm")},
    }

    def __init__(self, est):
        validate_parameter_constraints(
            self._constraints, {k: getattr(est, k) for k in self._constraints},
            caller_name=type(est).__name__)
        check_weighting(est.loss_weighting)  # a name in WEIGHTINGS or a LossWeighting
        self.dtype = str(est.dtype)

    def fit(self, est, X, y, tasks, sample_weight, *, partial, resume=False):
        """Validate, encode and train (one epoch with ``partial``; ``resume``: continue
        the previous call's network and optimizer)."""
        before = (est.tasks_, est.n_tasks_, getattr(est, "_classes", None)) \
            if resume else None
        table, targets, _ = est._tables(X, y, tasks, sample_weight, reset=not resume)
        if resume and not _same_tasks(
                before, (est.tasks_, est.n_tasks_, getattr(est, "_classes", None))):
            raise ValueError(
                "partial_fit got other tasks or classes than the first call; fit again "
                "to change them.")
        fit_network(est, table, targets, est._regression_tasks(table), partial=partial,
                    resume=resume or est.warm_start)

    def outputs(self, est, X, cols=slice(None)):
        """The network's outputs ``cols`` for ``X``, refused when they overflow its dtype."""
        Z = check_finite_outputs(network_outputs(est, X), est.dtype, "on these rows of "
                                 "X: scale X as in fit, or use dtype='float64'.")
        return Z[:, cols]

    @staticmethod
    def streamed(est, X, reset):
        """A memmap or torch Dataset, lazy (on disk); ``None`` for other X.

        Each batch is checked when it is read; here only the shape.
        """
        if not is_streamed(X):
            return None
        X = as_lazy(X)
        if X.ndim != 2:
            raise ValueError(f"Expected 2D rows, got rows of shape {X.shape[1:]}.")
        if reset:
            est.n_features_in_ = X.shape[1]
            est.__dict__.pop("feature_names_in_", None)
        elif X.shape[1] != est.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(est).__name__} is "
                f"expecting {est.n_features_in_} features as input.")
        return X


def _same_tasks(a, b):
    (ta, na, ca), (tb, nb, cb) = a, b
    same = na == nb and (ta is None) == (tb is None)
    same = same and (ta is None or np.array_equal(ta, tb))
    if same and ca is not None:
        same = cb is not None and all(np.array_equal(x, y) for x, y in zip(ca, cb))
    return bool(same)


def torch_engine(est, network=None):
    """The torch engine for ``est``'s settings: the linear model for
    ``hidden_layer_sizes=()`` with the MLP trunk, the network otherwise."""
    if network is None:
        network = not (len(est.hidden_layer_sizes) == 0 and est.module is None
                       and est.architecture == "shared")
    return NetworkEngine if network else TorchLinearEngine


ENGINES = (TorchLinearEngine, NetworkEngine)
