"""The shell blocks of README.md and docs/ run as written (shrunk; see shell_blocks.py for the
marker convention and the shell they run in)."""

from __future__ import annotations

import subprocess

import pytest
from shell_blocks import DOCS, ROOT, blocks, prepare, shrunk_argv

ALL = {path: blocks(path) for path in DOCS}
RUNNABLE = [path for path, found in ALL.items() if any(b.skip is None for b in found)]


def test_every_bash_block_runs_or_says_why_not():
    found = [b for bs in ALL.values() for b in bs]
    assert len(found) > 10
    for block in found:
        assert block.skip is None or len(block.skip) > 10, f"{block.where}: say why the block is not run"
    assert any(b.path.name == "README.md" and b.skip is None for b in found)  # the quick start runs


def test_shrinking_keeps_the_commands_own_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".docs-test-bin").mkdir()
    cfg = str(ROOT / "configs" / "trcamv_synthetic.yaml")
    argv = shrunk_argv(["run", cfg, "--cfg-options", "train_cfg.max_epochs=2"])
    assert argv[:3] == ["run", cfg, "--cfg-options"] and argv[-1] == "train_cfg.max_epochs=2"  # theirs last: theirs win
    assert "synthetic.size=tiny" in argv and "train_cfg.max_epochs=1" in argv
    baseline = next(a for a in argv if a.startswith("baseline.config="))
    assert (tmp_path / ".docs-test-bin" / "shrunk_layercam_synthetic.yaml").read_text().startswith("_base_: ")
    assert baseline.endswith("shrunk_layercam_synthetic.yaml")
    assert shrunk_argv(["run", str(ROOT / "configs" / "trcamv_ytov1.yaml")]) == ["run", str(ROOT / "configs" / "trcamv_ytov1.yaml")]
    assert shrunk_argv(["config", "check", cfg]) == ["config", "check", cfg]


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_the_blocks_of_a_page_run(path, tmp_path):
    env = prepare(tmp_path)
    for block in ALL[path]:
        if block.skip is not None:
            continue
        script = "set -euo pipefail\n" + block.code
        out = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=1800)
        assert out.returncode == 0, f"{block.where} failed:\n{block.code}\n--- output ---\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
