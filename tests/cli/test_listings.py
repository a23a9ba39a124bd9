"""`wsvol plugins list` and `wsvol weights list` read at 80 columns: one block per entry, no name
cut, no line wider than the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import wsvol
from wsvol.cli.main import main


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


BUILT_IN = {"hook": ["epoch_seed", "rich_progress", "size_barrier_schedule", "val_overlays"],
            "loss": ["crf", "partial_ce", "size_barrier"],
            "cam_method": ["cam", "gradcam", "gradcampp", "layercam", "smooth_gradcampp", "xgradcam"],
            "pseudo_label_source": ["cam", "clip_es"], "metric": ["corloc"]}


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


def test_weights_list_at_80_columns(columns80, capsys, tmp_path, monkeypatch):
    import wsvol.weights as w

    monkeypatch.setenv(w.ENV, str(tmp_path))
    assert main(["weights", "list"]) == 0
    text = capsys.readouterr().out
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= 80
    lines = [line.strip() for line in text.splitlines()]
    for name, known in w.known_weights().items():
        assert name in lines  # each entry starts with its name on a line of its own
        assert f"file expected    {known.file.filename}" in lines
