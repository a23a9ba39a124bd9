"""The same command gives the same numbers: the README's job (TrCAM-V on synthetic data, shrunk)
run twice in fresh work dirs gives identical report numbers, and the report and the work dir
record the threads and library versions they were made with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tiny_configs import NARROW_RESNET  # beside this file (pytest puts its folder on sys.path)

CONFIGS = Path(__file__).parents[2] / "configs"
#: the README job on the tiny synthetic data, 1 epoch per stage
OVERRIDES = """
synthetic: {out: data/tiny, size: tiny}
train_dataloader: {batch_size: 8, num_workers: 0, persistent_workers: false,
                   dataset: {data_root: data/tiny, folds_root: data/tiny/folds}}
val_dataloader: {num_workers: 0, dataset: {data_root: data/tiny, folds_root: data/tiny/folds}}
test_dataloader: {num_workers: 0, dataset: {data_root: data/tiny, folds_root: data/tiny/folds}}
train_cfg: {max_epochs: 1, val_interval: 1}
report: {overlays: 1, n_boot: 100}
"""


def run(tmp_path: Path, work: str) -> dict:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-m", "wsvol", "run", "trc.yaml", "--work-dir", work, "--threads", "2"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "environment: threads 2, cpu; wsvol " in out.stdout
    return json.loads((tmp_path / work / "report" / "report.json").read_text())


@pytest.mark.slow
def test_two_runs_of_the_same_command_give_identical_reports(tmp_path):
    (tmp_path / "over.yaml").write_text(textwrap.dedent(OVERRIDES))
    (tmp_path / "base.yaml").write_text(f"_base_: [{CONFIGS / 'cam/layercam_synthetic.yaml'}, over.yaml]\n"
                                        f"model: {{backbone_kwargs: {NARROW_RESNET}}}\n")
    (tmp_path / "trc.yaml").write_text(f"_base_: [{CONFIGS / 'trcamv_synthetic.yaml'}, over.yaml]\n"
                                       "baseline: {config: base.yaml}\n")
    first, second = run(tmp_path, "first"), run(tmp_path, "second")
    assert [r["method"] for r in first["summary"]] == ["pseudo-labels", "baseline: resnet18 (layercam)", "trcamv"]
    # when, and in which work dir (its config.yaml names it, hence another sha256)
    made = [r["meta"].pop("reproducibility") for r in (first, second)]
    assert first == second  # every table and number, exactly (floats compared bit for bit through JSON)
    same = [{k: v for k, v in m.items() if k not in ("created", "config_sha256", "checkpoints", "segments")} for m in made]
    assert [[(s["resumed"], s["differences"]) for s in m["segments"]] for m in made] == [[(False, [])]] * 2
    assert same[0] == same[1] and made[0]["checkpoints"] == {
        m: p.replace("second", "first", 1) for m, p in made[1]["checkpoints"].items()}
    assert made[0]["config_sha256"] and made[0]["training_seed"] == 0 and made[0]["deterministic"] is False

    env = first["meta"]["environment"]
    assert env["threads"] == 2 and env["device"] == "cpu"
    import cv2
    import numpy
    import torch

    import wsvol

    libs = env["libraries"]
    assert (libs["wsvol"], libs["torch"].split("+")[0], libs["numpy"]) == (
        wsvol.__version__, torch.__version__.split("+")[0], numpy.__version__)
    assert libs["opencv"].startswith(cv2.__version__) and libs["timm"] and libs["mmengine"] and libs["scikit-image"]
    html = (tmp_path / "first" / "report" / "report.html").read_text()
    assert f"Environment: threads 2, cpu; wsvol {wsvol.__version__}" in html
    marker = json.loads((tmp_path / "first" / "wsvol-run.json").read_text())
    assert marker["environment"]["threads"] == 2 and marker["environment"]["libraries"] == libs
