"""Backbones: the standard Conv-4 for images and an MLP for tabular rows."""

from torch import nn

from ..nn._modules import mlp


CONV4_MIN_SIZE = 16  # 4 max-pools of 2: 16 -> 1


def conv4(in_channels=1, width=64):
    """4 x [conv 3x3 (width), batch norm, ReLU, 2x2 max-pool], flattened.

    Batch norm uses the statistics of the batch it sees (no running averages), as
    in MAML's reference implementation, in meta-training and adaptation; an adapted
    model then predicts with its support set's statistics (unless the estimator is
    ``transductive``).
    """
    layers, c = [], in_channels
    for _ in range(4):
        layers += [nn.Conv2d(c, width, 3, padding=1),
                   nn.BatchNorm2d(width, track_running_stats=False),
                   nn.ReLU(), nn.MaxPool2d(2)]
        c = width
    return nn.Sequential(*layers, nn.Flatten())


def make_backbone(backbone, input_shape, hidden_layer_sizes):
    """The backbone and its input shape (one row)."""
    if isinstance(backbone, nn.Module):
        return backbone
    if backbone == "conv4":
        if len(input_shape) != 3 or min(input_shape[1:]) < CONV4_MIN_SIZE:
            raise ValueError(
                f"backbone='conv4' halves the image size 4 times: it needs images of "
                f"shape (C, H, W) with H and W at least {CONV4_MIN_SIZE}; got "
                f"{tuple(input_shape)}.  Use backbone='mlp' on flat rows (or upsample).")
        return conv4(input_shape[0])
    return mlp(input_shape[0], hidden_layer_sizes, "relu")[0]
