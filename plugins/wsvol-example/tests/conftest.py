"""Shared by the plugin's tests: one torch thread, the source tree importable, an installed copy."""

import os
import shutil
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
def installed(tmp_path_factory) -> dict[str, str]:
    """The environment under which Python finds this plugin installed: as it is, or else
    pip-installed into a folder of its own (tests in other processes never see that copy)."""
    probe = [sys.executable, "-c", "import importlib.metadata as md; md.distribution('wsvol-example')"]
    if subprocess.run(probe, cwd=tmp_path_factory.getbasetemp(), capture_output=True).returncode == 0:
        return {}  # this process sees the source tree (sys.path above), a fresh interpreter does not
    tmp = tmp_path_factory.mktemp("wsvol-example")
    source = shutil.copytree(PLUGIN_ROOT, tmp / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "tests"))
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps",
                    "--no-build-isolation", "--target", str(tmp / "site"), str(source)], check=True)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp / "site"), os.environ.get("PYTHONPATH")]))}
