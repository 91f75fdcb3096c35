"""Test-wide settings."""

try:
    import torch
except ImportError:  # the torch backend is optional
    torch = None

if torch is not None:
    # pytest-xdist runs one worker a core: one thread each avoids oversubscription
    torch.set_num_threads(1)
