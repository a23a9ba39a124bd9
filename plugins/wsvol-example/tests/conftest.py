"""Shared by the plugin's tests: one torch thread, the source tree importable, an installed copy."""

import importlib.metadata as md
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

PLUGIN_ROOT = Path(__file__).resolve().parents[1]
# The components are tested from this source tree, installed or not.
sys.path.insert(0, str(PLUGIN_ROOT))


@pytest.fixture(scope="session")
def installed():
    """``pip install -e`` this plugin unless it is installed; uninstall it afterwards if we did."""
    try:
        md.distribution("wsvol-example")
        ours = False
    except md.PackageNotFoundError:
        ours = True
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    if ours:
        subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", "-e", str(PLUGIN_ROOT)],
                       check=True)
    yield
    if ours:
        subprocess.run([*pip, "uninstall", "-y", "wsvol-example"], check=True)
