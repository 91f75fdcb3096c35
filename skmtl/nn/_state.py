"""What every torch estimator does the same way: its seed, its outputs' overflow
check, and its state pickled on the CPU (so it loads on a machine without a GPU)."""

import copy

import numpy as np
import torch


def seed_from(random_state):
    """The one int seed of a fit (torch's generator and the numpy draws), from an
    int, a ``RandomState`` or None."""
    return int(np.random.RandomState(random_state).randint(np.iinfo(np.int32).max))


def check_finite_outputs(out, dtype, advice):
    """Raise a ValueError when the outputs ``out`` (array or tensor) overflow ``dtype``."""
    finite = torch.isfinite(out).all() if isinstance(out, torch.Tensor) \
        else np.isfinite(out).all()
    if not finite:
        raise ValueError(f"The network's outputs overflow {dtype} {advice}")
    return out


def to_cpu(value):
    """A copy of a module, a tensor, or a pytree of them, on the CPU."""
    if isinstance(value, torch.nn.Module):
        return copy.deepcopy(value).cpu()
    return torch.utils._pytree.tree_map(
        lambda v: v.detach().cpu() if isinstance(v, torch.Tensor) else v, value)


def cpu_state(state, keys):
    """``state`` (a ``__getstate__`` dict) with its entries ``keys`` on the CPU."""
    for key in keys:
        if key in state:
            state[key] = to_cpu(state[key])
    if "device_" in state:
        state["device_"] = torch.device("cpu")
    return state
