"""Networks: a shared trunk with task heads, and Multi-gate Mixture-of-Experts.

Every network maps a batch ``x`` to ``(features, Z)``: ``features`` is the last
representation shared by all tasks (what gradient-aggregation methods differentiate
against) and ``Z`` of shape (batch, n_outputs) holds every task's outputs; task
``t`` reads its own columns.
"""

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid,
               "gelu": nn.GELU, "identity": nn.Identity}


def mlp(n_in, hidden, activation="relu", dropout=0.0, batch_norm=False):
    """``Linear -> [BatchNorm] -> activation -> [Dropout]`` per hidden layer."""
    layers = []
    for width in hidden:
        layers.append(nn.Linear(n_in, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    return nn.Sequential(*layers), n_in


def output_size(module, n_in, dtype=torch.float32):
    """Width of ``module``'s output on a dummy batch (custom trunks)."""
    was_training = module.training
    module.eval()
    with torch.no_grad():
        out = module(torch.zeros(2, n_in, dtype=dtype))
    module.train(was_training)
    if out.ndim != 2 or out.shape[0] != 2:
        raise ValueError(
            "A custom trunk must map (batch, n_features) to (batch, width); it returned "
            f"shape {tuple(out.shape)} for a batch of 2 rows of {n_in} features."
        )
    return out.shape[1]


class SharedBottom(nn.Module):
    """Hard parameter sharing: one trunk, then a linear head per task.

    The heads are stored as one ``Linear(width, n_outputs)``: column ``j`` of the
    output belongs to one task, so the heads share no weight.
    """

    def __init__(self, trunk, width, n_outputs):
        super().__init__()
        self.trunk = trunk
        self.heads = nn.Linear(width, n_outputs)

    def forward(self, x):
        features = self.trunk(x)
        return features, self.heads(features)


class MMoE(nn.Module):
    """Multi-gate Mixture-of-Experts (Ma et al., KDD 2018).

    ``n_experts`` expert networks are shared; each task mixes them with its own
    softmax gate over the input and reads its outputs from the mixture.
    """

    def __init__(self, experts, width, n_in, out_task, n_tasks):
        super().__init__()
        self.experts = nn.ModuleList(experts)
        self.gates = nn.Linear(n_in, n_tasks * len(experts))
        self.heads = nn.Parameter(torch.empty(len(out_task), width))
        self.bias = nn.Parameter(torch.zeros(len(out_task)))
        nn.init.kaiming_uniform_(self.heads, a=5 ** 0.5)
        self.register_buffer("out_task", torch.as_tensor(out_task, dtype=torch.long))
        self.n_tasks = n_tasks

    def forward(self, x):
        features = torch.stack([e(x) for e in self.experts], dim=1)  # (B, E, d)
        gates = self.gates(x).view(x.shape[0], self.n_tasks, -1).softmax(dim=-1)
        mixed = torch.einsum("bte,bed->btd", gates, features)  # (B, T, d)
        Z = (mixed[:, self.out_task, :] * self.heads).sum(-1) + self.bias
        return features, Z
