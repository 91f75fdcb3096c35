"""Test-wide settings."""

import re

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


# Without torch (`make test-core`), a doctest of the package that fits or imports a
# torch estimator is skipped (the doctests of skmtl.nn and skmtl.meta themselves are
# not collected there: those modules import torch).
_NEEDS_TORCH = re.compile(r"\btorch\b|MultiTaskEstimator|MetaLearner|skmtl\.(nn|meta)\b")


def pytest_collection_modifyitems(config, items):
    if torch is not None:
        return
    skip = pytest.mark.skip(reason="needs torch: pip install 'skmtl[torch]'")
    for item in items:
        examples = getattr(getattr(item, "dtest", None), "examples", ())
        if any(_NEEDS_TORCH.search(example.source) for example in examples):
            item.add_marker(skip)
