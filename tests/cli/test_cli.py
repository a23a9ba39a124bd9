"""The command line: cheap to start, one clear line per error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(*args, env=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def imported_modules(code: str) -> set[str]:
    out = run("-X", "importtime", "-c", code)
    assert out.returncode == 0, out.stderr
    return {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}


def test_import_and_help_do_not_import_torch():
    assert "torch" not in imported_modules("import wsvol")
    mods = imported_modules("import sys; sys.argv=['wsvol','--help']\nfrom wsvol.cli.main import main\ntry: main()\nexcept SystemExit: pass")
    assert "torch" not in mods and "mmengine" not in mods


def test_help_lists_core_commands():
    out = run("-m", "wsvol", "--help")
    assert out.returncode == 0
    for cmd in ("run", "train", "test", "config", "plugins"):
        assert f"    {cmd} " in out.stdout


def test_errors_are_one_clear_message_and_debug_shows_traceback(tmp_path):
    missing = tmp_path / "nope.yaml"
    out = run("-m", "wsvol", "config", "show", str(missing))
    assert out.returncode == 1
    assert out.stderr.splitlines()[0] == f"wsvol: error: config file not found: {missing}"
    assert "Traceback" not in out.stderr
    dbg = run("-m", "wsvol", "--debug", "config", "show", str(missing))
    assert "Traceback" in dbg.stderr


def test_config_show_prints_merged_yaml(tmp_path):
    (tmp_path / "base.yaml").write_text("model: {type: m, depth: 2}\n")
    (tmp_path / "exp.yaml").write_text("_base_: base.yaml\nmodel: {depth: 3}\n")
    out = run("-m", "wsvol", "config", "show", str(tmp_path / "exp.yaml"), "--cfg-options", "model.width=4")
    assert out.returncode == 0, out.stderr
    import yaml

    assert yaml.safe_load(out.stdout) == {"model": {"type": "m", "depth": 3, "width": 4}}


def test_config_check_refuses_python_tags_before_any_work(tmp_path):
    marker = tmp_path / "pwned"
    cfg = tmp_path / ("long-folder-name-" * 5) / "evil.yaml"  # longer than a narrow terminal is wide
    cfg.parent.mkdir()
    cfg.write_text(f"model: !!python/object/apply:os.system ['touch {marker}']\n")
    out = run("-m", "wsvol", "config", "check", str(cfg), env={"COLUMNS": "80"})
    assert out.returncode == 1 and f"{cfg}:1" in out.stderr and not marker.exists()


def test_amp_without_cuda_stops_before_any_work(tmp_path):
    out = run("-m", "wsvol", "train", str(Path(__file__).parents[2] / "configs/cam/layercam_synthetic.yaml"),
              "--amp", "--device", "cpu", "--work-dir", str(tmp_path / "run"))
    assert out.returncode == 1
    assert "--amp" in out.stderr and "CUDA device" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "run").exists()


def test_predict_stride_must_be_positive_before_any_work(tmp_path):
    out = run("-m", "wsvol", "predict", str(tmp_path / "a.pth"), str(tmp_path / "v.mp4"), "--out", str(tmp_path / "o"),
              "--stride", "0")
    assert out.returncode == 2 and "argument --stride: must be >= 1, got 0" in out.stderr
    assert not (tmp_path / "o").exists()


def test_a_distributed_command_ends_by_closing_its_process_group(tmp_path):
    """Left open, gloo's threads raced the interpreter's exit and a rank now and then aborted."""
    import torch.distributed as dist

    from wsvol.cli.main import end_distributed

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    assert dist.is_initialized()
    end_distributed()
    assert not dist.is_initialized()
    end_distributed()  # nothing to close: nothing happens
