"""Test-wide settings: one torch thread (2-core machines run 5-100x slower with 2 busy threads)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` run when a CUDA device is present and are skipped otherwise."""
    if torch.cuda.is_available():
        return
    import pytest

    skip = pytest.mark.skip(reason="needs a CUDA device (none found)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
