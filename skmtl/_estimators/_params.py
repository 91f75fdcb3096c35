"""The estimators' parameter constraints, and the check that every parameter set
away from its default is one the chosen configuration (engine) uses."""

import numbers

from sklearn.utils._param_validation import Interval, StrOptions

from ..base import refuse_unused
from ..linear._engine import LinearEngine
from ..linear._penalties import Penalty
from ..linear._registry import PENALTIES

LINEAR_CONSTRAINTS = {
    "penalty": [StrOptions(set(PENALTIES)), Penalty],
    "alpha": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
    "fit_intercept": ["boolean"],
    "solver": [StrOptions({"auto", "fista", "cd", "exact", "admm"})],
    "positive": ["boolean"],
    "precompute": [StrOptions({"auto"}), "boolean"],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "warm_start": ["boolean"],
    "verbose": ["verbose"],
}

# The torch backend's parameters.  Options with a registry (activation,
# loss_weighting) are checked against it by the network engine, which imports torch.
TORCH_CONSTRAINTS = {
    "backend": [StrOptions({"numpy", "torch"})],
    "hidden_layer_sizes": [tuple, list],
    "activation": [str],
    "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
    "architecture": [StrOptions({"shared", "mmoe"})],
    "n_experts": [Interval(numbers.Integral, 1, None, closed="left")],
    "module": "no_validation",
    "loss_weighting": "no_validation",  # a name or a configured object: the engine checks
    "learning_rate": [StrOptions({"auto"}), Interval(numbers.Real, 0, None, closed="neither")],
    "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
    "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    "early_stopping": [StrOptions({"auto"}), "boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "device": [str],
    "dtype": [StrOptions({"float32", "float64"})],
    "callbacks": [list, tuple, None],
}

# Parameters of the front door itself, read at predict time by every configuration.
FRONT_CONSTRAINTS = {
    "unknown_task": [StrOptions({"error", "shared"})],
}
TORCH_PARAMS = tuple(TORCH_CONSTRAINTS)

# Parameters every configuration accepts: the one that picks it, progress output,
# and the seed (the numpy solvers are deterministic: it changes nothing there).
FRONT_PARAMS = ("backend", "verbose", "random_state", "unknown_task")


def _torch_engines():
    try:
        from ..nn._engines import ENGINES
    except ImportError:  # no torch: its parameters are all backend="torch" ones
        return ()
    return ENGINES


def _users(name, engine, engines):
    if name in engine.conditions:
        return engine.conditions[name][1]
    settings = [e.setting for e in engines if name in e.params]
    if settings:
        return " or ".join(settings)
    return 'backend="torch"' if name in TORCH_PARAMS else "another configuration"


def check_configuration(est, engine, own=()):
    """Raise a ValueError naming any parameter set away from its default that
    ``engine`` (the configuration ``est`` runs) does not use.

    ``own``: parameters the front door itself uses (e.g. a CV estimator's grid).
    """
    used = engine.uses(est) | set(FRONT_PARAMS) | set(own)
    refuse_unused(est, used, f"{engine.name} ({engine.setting})",
                  lambda name: _users(name, engine, (LinearEngine,) + _torch_engines()))
