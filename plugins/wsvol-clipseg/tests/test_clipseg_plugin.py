"""The distribution: its hook registers ``clipseg``; installed, wsvol discovers it by entry point."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys

import pytest
import wsvol_clipseg
from wsvol_clipseg.source import ClipSeg

from wsvol.hookspecs import ENTRY_POINT_GROUP
from wsvol.registry import WsvolRegistry


def installed_entry_point() -> md.EntryPoint:
    eps = [ep for ep in md.entry_points(group=ENTRY_POINT_GROUP) if ep.name == "clipseg"]
    if not eps:
        pytest.skip("wsvol-clipseg is not installed: pip install -e plugins/wsvol-clipseg")
    return eps[0]


# One interpreter (importing wsvol's components takes seconds): ``python -m wsvol plugins list``
# run as ``-m`` does it, then the source built by name through the registry.
SCRIPT = """
import json, runpy, sys, torch
folder, sys.argv = sys.argv[1], ["wsvol", "plugins", "list"]
try:
    runpy.run_module("wsvol", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    assert not exit.code, exit.code
from wsvol.registry import PSEUDO_LABEL_SOURCES
src = PSEUDO_LABEL_SOURCES.build(dict(type="clipseg", pretrained=folder, image_size=32))
maps = src(torch.zeros(2, 3, 32, 32), torch.tensor([0, 1]))
print(json.dumps(dict(module=type(src).__module__, shape=list(maps.shape),
                      provider=PSEUDO_LABEL_SOURCES.provider("clipseg"))))
"""


@pytest.fixture(scope="module")
def wsvol_run(clipseg_dir) -> tuple[str, dict]:
    """(the ``plugins list`` table, what building ``clipseg`` by name gave) in a fresh process."""
    installed_entry_point()
    env = dict(os.environ, COLUMNS="250", OMP_NUM_THREADS="1")  # rich must not truncate names
    env.pop("WSVOL_DISABLE_PLUGINS", None)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(clipseg_dir)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    table, _, last = proc.stdout.rstrip().rpartition("\n")
    return table, json.loads(last)


class FreshRegistries:
    """Only the registry the hook needs, outside the process-wide ones."""

    pseudo_label_sources = WsvolRegistry("pseudo_label_source")


def test_hook_registers_the_source():
    wsvol_clipseg.wsvol_register(registries=FreshRegistries)
    assert FreshRegistries.pseudo_label_sources.module_dict == {"clipseg": ClipSeg}


def test_entry_point_names_the_package():
    ep = installed_entry_point()
    assert ep.value == "wsvol_clipseg" and ep.dist.name == "wsvol-clipseg"
    assert ep.load() is wsvol_clipseg


def test_plugins_list_shows_the_plugin_and_its_source(wsvol_run):
    table, _ = wsvol_run
    lines = table.splitlines()
    at = [i for i, line in enumerate(lines) if "wsvol-clipseg" in line]
    assert len(at) == 1, table
    assert lines[at[0]].split() == ["clipseg", "(distribution", "wsvol-clipseg", "0.1.0)", "ok"]
    assert lines[at[0] + 1].split() == ["pseudo_label_source", "clipseg"]  # its components, by kind


def test_built_by_name_through_the_registry(wsvol_run):
    _, built = wsvol_run
    assert built == {"module": "wsvol_clipseg.source", "shape": [2, 32, 32], "provider": "clipseg"}
