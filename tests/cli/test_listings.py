"""`wsvol plugins list` reads at 80 columns: one block per entry, no name cut, no line wider than
the terminal (`wsvol weights list`: tests/cli/test_weights_commands.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import wsvol


@pytest.fixture
def columns80(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def wsvol_80(*args: str) -> str:
    """stdout of ``python -m wsvol ARGS`` in a fresh process (the plugin records as a user gets
    them) with ``COLUMNS=80``."""
    env = {**os.environ, "COLUMNS": "80", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    out = subprocess.run([sys.executable, "-m", "wsvol", *args], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


KINDS = ("hook", "loss", "cam_method", "pseudo_label_source", "metric")


def built_in(kind: str) -> list[str]:
    """wsvol's own names of a registry kind, sorted (as the listing shows them)."""
    from wsvol.registry import registry_for_kind

    return sorted(n for n, provider in registry_for_kind(kind).entries().items() if provider == "wsvol")


BUILT_IN = {kind: built_in(kind) for kind in KINDS}


def test_plugins_list_at_80_columns():
    text = wsvol_80("plugins", "list")
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= 80
    lines = text.splitlines()
    assert lines[0].split() == ["wsvol", "(distribution", "wsvol", f"{wsvol.__version__})", "ok"]
    block = " ".join(text.split("\n\n")[0].replace(",", " ").split())
    for kind, names in BUILT_IN.items():  # every name whole, after its kind
        assert f" {kind} {' '.join(names)} " in f" {block} ", kind


def test_plugins_list_long_gives_each_component_its_description():
    from wsvol.registry import registry_for_kind

    text = " ".join(wsvol_80("plugins", "list", "--long").split())
    for kind, names in BUILT_IN.items():
        for name in names:
            doc = registry_for_kind(kind).lookup(name).__doc__
            first_line = " ".join(doc.strip().splitlines()[0].split()).replace("``", "`")
            assert f"{kind} {name} {first_line}" in text, (kind, name)


def wsvol_piped(*args: str) -> subprocess.CompletedProcess:
    """``python -m wsvol ARGS`` in a fresh process, its output piped (not a terminal), no ``COLUMNS``."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env |= {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.run([sys.executable, "-m", "wsvol", *args], capture_output=True, text=True, env=env)


def test_piped_output_has_no_trailing_blanks(tmp_path):
    out = wsvol_piped("plugins", "list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("wsvol  (distribution wsvol ") and lines[1].split()[0] == "runner"
    assert [ln for ln in lines if ln != ln.rstrip()] == []
    assert max(map(len, lines)) < 300  # rich would pad to LOG_WIDTH (1000) columns
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  type: no_such_model\n")
    out = wsvol_piped("config", "check", str(bad))
    lines = out.stderr.splitlines()
    assert out.returncode == 1 and lines[0].startswith("FAIL 1 problem in config ")  # "FAIL " kept its space
    assert [ln for ln in lines if ln != ln.rstrip()] == []
