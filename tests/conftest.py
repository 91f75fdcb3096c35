"""Test-wide settings."""

import pytest
import sklearn


@pytest.fixture
def routing():
    """Metadata routing on for one test (sklearn keeps it behind a flag)."""
    with sklearn.config_context(enable_metadata_routing=True):
        yield


try:
    import torch
except ImportError:  # the torch backend is optional
    torch = None

if torch is not None:
    # pytest-xdist runs one worker a core: one thread each avoids oversubscription
    torch.set_num_threads(1)
