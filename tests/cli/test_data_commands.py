"""`wsvol data synth` and `wsvol data check` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CONFIG = Path(__file__).parents[2] / "configs" / "cam" / "layercam_synthetic.yaml"


def wsvol(*args, cwd):
    return subprocess.run([sys.executable, "-m", "wsvol", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})


def test_synth_then_check_then_a_corrupt_frame_is_reported(tmp_path):
    out = wsvol("data", "synth", "--out", "syn", "--size", "tiny", "--seed", "3", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    cfg = tmp_path / "chk.yaml"
    cfg.write_text(f"_base_: {CONFIG}\nsynthetic: {{out: syn, size: tiny, seed: 3}}\n"
                   + "".join(f"{k}_dataloader: {{dataset: {{data_root: syn, folds_root: syn/folds}}}}\n"
                             for k in ("train", "val", "test")))
    ok = wsvol("data", "check", str(cfg), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "split 'test'" in ok.stdout and "total" in ok.stdout
    frame = next((tmp_path / "syn").rglob("frame_*.jpg"))
    frame.write_bytes(frame.read_bytes()[:200])  # truncated JPEG
    bad = wsvol("data", "check", str(cfg), cwd=tmp_path)
    assert bad.returncode == 1
    assert frame.relative_to(tmp_path / "syn").as_posix() in bad.stdout + bad.stderr


def test_check_goes_on_after_a_split_that_cannot_be_read(tmp_path):
    assert wsvol("data", "synth", "--out", "syn", "--size", "tiny", cwd=tmp_path).returncode == 0
    cfg = tmp_path / "chk.yaml"
    cfg.write_text(f"_base_: {CONFIG}\nsynthetic: {{out: syn, size: tiny}}\n"
                   + "".join(f"{k}_dataloader: {{dataset: {{data_root: syn, folds_root: syn/folds}}}}\n"
                             for k in ("train", "val", "test")))
    for name in ("image_ids.txt", "class_labels.txt"):
        (tmp_path / "syn" / "folds" / "val" / name).unlink()  # the split in the middle is broken
    out = wsvol("data", "check", str(cfg), "--no-decode", cwd=tmp_path)
    assert out.returncode == 1
    assert "val: cannot read split 'val'" in out.stdout and "image_ids.txt" in out.stdout
    assert "split 'train'" in out.stdout and "split 'test'" in out.stdout  # before and after it
