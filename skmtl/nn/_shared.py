"""The part of a multi-task network common to all tasks, and its task heads.

A row of a task the fit never saw (``predict(..., unknown_task="shared")``) goes
through the shared trunk (for MMoE: the experts, mixed by the average of the task
gates) and the average of the task heads; :func:`head_weights` gives the heads
that ``task_similarity_`` compares.  Every task must have the same number of
outputs (for a classifier: the same classes).
"""

import numpy as np
import torch

from ._backend import input_batches
from ._modules import MMoE
from ._state import check_finite_outputs


def head_weights(net):
    """The weights of the task heads, one row an output: (n_outputs, width)."""
    W = net.heads if isinstance(net, MMoE) else net.heads.weight
    return W.detach().double().cpu().numpy()


def _average_head(net, n_tasks, mean=0.0, scale=1.0):
    """The task heads' mean weight (k, width) and bias (k,), k outputs a task, in the
    targets' units: each head unscaled by its output's (mean, scale) before the
    average (the network learns standardised regression targets)."""
    if isinstance(net, MMoE):
        W, b = net.heads, net.bias
    else:
        W, b = net.heads.weight, net.heads.bias
    k = W.shape[0] // n_tasks
    scale = torch.as_tensor(np.broadcast_to(scale, (W.shape[0],)), dtype=W.dtype,
                            device=W.device)
    mean = torch.as_tensor(np.broadcast_to(mean, (W.shape[0],)), dtype=W.dtype,
                           device=W.device)
    W, b = W * scale[:, None], b * scale + mean
    return W.view(n_tasks, k, -1).mean(0), b.view(n_tasks, k).mean(0)


def shared_forward(net, x, n_tasks, mean=0.0, scale=1.0):
    """The shared model's outputs for a batch ``x``: (batch, k), in the targets'
    units (``mean``, ``scale``: each output's, as :func:`_average_head`)."""
    W, b = _average_head(net, n_tasks, mean, scale)
    if isinstance(net, MMoE):
        experts = torch.stack([e(x) for e in net.experts], dim=1)  # (B, E, d)
        gates = net.gates(x).view(x.shape[0], net.n_tasks, -1).softmax(dim=-1).mean(1)
        features = torch.einsum("be,bed->bd", gates, experts)
    else:
        features = net.trunk(x)
    return features @ W.T + b


def shared_outputs(est, X, batch_size=4096):
    """The outputs of the model common to all tasks for the rows of ``X``:
    (n_samples, k), computed in batches as the network's own outputs are."""
    net = est.module_
    param = next(net.parameters())
    mean, scale = getattr(est, "_target_scale", (0.0, 1.0))
    net.eval()
    with torch.no_grad():
        out = [shared_forward(net, xb, est.n_tasks_, mean, scale).double().cpu().numpy()
               for xb in input_batches(X, param, batch_size)]
    Z = np.concatenate(out)
    return check_finite_outputs(Z, est.dtype, "on these rows of X: scale X as in fit, "
                                "or use dtype='float64'.")
