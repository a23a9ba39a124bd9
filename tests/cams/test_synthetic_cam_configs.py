"""Every CAM baseline config on the synthetic data (``configs/cam/*_synthetic.yaml``, by glob) runs
``wsvol run`` through train → test → report on the ``tiny`` synthetic set, one epoch; its model
(a ResNet-18, here at a quarter of its widths: a tenth of the time), CAM method and evaluation are
the config's own. (The YouTube-Objects ones: tests/rehearsal.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from config_options import narrow_resnet_options

from wsvol.config import load_config
from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs" / "cam").glob("*_synthetic.yaml"))
#: the tiny set, written once into the shared folder by the first run (`ensure_data` keeps it)
SHRINK = ["synthetic.out=data/tiny", "synthetic.size=tiny", "train_cfg.max_epochs=1", "train_cfg.val_interval=1",
          "report.n_boot=50", "report.overlays=2", "train_dataloader.persistent_workers=false",
          *narrow_resnet_options(),
          *(f"{s}_dataloader.{k}" for s in ("train", "val", "test")
            for k in ("num_workers=0", "dataset.data_root=data/tiny", "dataset.folds_root=data/tiny/folds"))]


def wsvol(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "-m", "wsvol", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synthetic")


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_cam_config_runs_every_stage(config, shared):
    cam = load_config(config).model.cam.type
    work = shared / "work_dirs" / config.stem
    run = wsvol("run", config, "--work-dir", work, "--cfg-options", *SHRINK, cwd=shared)
    assert "centred-box baseline" in run.stdout
    report = json.loads((work / "report" / "report.json").read_text())
    assert [row["method"] for row in report["summary"]] == [f"resnet18 ({cam})"]  # the config's CAM method
    assert [row["class"] for row in report["per_class"]] == list(YOUTUBE_OBJECTS_CLASSES)
    assert list(work.glob("best_*.pth")) and (work / "test_metrics.json").is_file()
