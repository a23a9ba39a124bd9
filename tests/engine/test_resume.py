"""Kill a training run with SIGKILL, resume it, and end with the same weights as an
uninterrupted run with the same seed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from tiny_configs import tiny_config  # beside this file (pytest puts its folder on sys.path)

from wsvol.data.synthetic import generate_synthetic

TINY = """\
model: {backbone: resnet18}
optim_wrapper: {optimizer: {type: SGD, lr: 0.05, momentum: 0.9, nesterov: true}}
param_scheduler: [{type: StepLR, by_epoch: true, step_size: 2, gamma: 0.5}]
train_cfg: {by_epoch: true, max_epochs: 4}
default_hooks: {checkpoint: {type: CheckpointHook, interval: 1, max_keep_ckpts: 5}}
"""


def wsvol(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen([sys.executable, "-m", "wsvol", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_once_written(run: subprocess.Popen, checkpoint: Path, timeout: float) -> None:
    """SIGKILL ``run`` half a second after ``checkpoint`` appears (i.e. in the next epoch)."""
    deadline = time.time() + timeout
    while not checkpoint.exists():
        assert run.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    time.sleep(0.5)
    run.send_signal(signal.SIGKILL)
    run.wait()


def weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_same_weights(tmp_path):
    data = tmp_path / "data"
    generate_synthetic(data, size="tiny", progress=False)
    cfg = tiny_config(tmp_path, data, TINY)

    full = wsvol("train", str(cfg), "--work-dir", "full", cwd=tmp_path)
    assert full.wait(timeout=600) == 0, full.stderr.read()

    run = wsvol("train", str(cfg), "--work-dir", "killed", cwd=tmp_path)
    kill_once_written(run, tmp_path / "killed" / "epoch_2.pth", timeout=600)  # kill during epoch 3
    assert not (tmp_path / "killed" / "epoch_4.pth").exists()
    kept = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "killed").glob("epoch_*.pth")}

    resumed = wsvol("train", str(cfg), "--work-dir", "killed", "--resume", cwd=tmp_path)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()

    # it resumed rather than restarting: the checkpoints written before the kill are untouched
    assert all((tmp_path / "killed" / n).stat().st_mtime_ns == t for n, t in kept.items() if n != "epoch_3.pth")
    a, b = weights(tmp_path / "full" / "epoch_4.pth"), weights(tmp_path / "killed" / "epoch_4.pth")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not list((tmp_path / "killed").glob(".*.partial"))  # no half-written checkpoint left


TRCAMV_OVERRIDES = """
synthetic: {{out: {data}, size: tiny}}
train_dataloader: {{batch_size: 8, num_workers: 0, persistent_workers: false,
                   dataset: {{data_root: {data}, folds_root: {data}/folds}}}}
val_dataloader: {{num_workers: 0, dataset: {{data_root: {data}, folds_root: {data}/folds}}}}
test_dataloader: {{num_workers: 0, dataset: {{data_root: {data}, folds_root: {data}/folds}}}}
train_cfg: {{max_epochs: {epochs}, val_interval: 2}}
default_hooks: {{checkpoint: {{type: CheckpointHook, interval: 1, max_keep_ckpts: 5, save_best: null}}}}
report: {{overlays: 0, n_boot: 20}}
"""


@pytest.mark.slow
def test_trcamv_run_sigkill_then_resume_gives_the_same_weights_and_report(tmp_path):
    """``wsvol run`` of TrCAM-V killed in its third epoch and rerun with --resume ends where an
    uninterrupted run ends: the same weights (the pseudo-pixel draws continue their sequence)."""
    import json

    configs = Path(__file__).parents[2] / "configs"
    data = tmp_path / "data"
    for name, epochs in (("base", 1), ("trc", 4)):
        (tmp_path / f"over_{name}.yaml").write_text(textwrap.dedent(TRCAMV_OVERRIDES.format(data=data, epochs=epochs)))
    (tmp_path / "base.yaml").write_text(f"_base_: [{configs / 'cam/layercam_synthetic.yaml'}, over_base.yaml]\n")
    (tmp_path / "trc.yaml").write_text(f"_base_: [{configs / 'trcamv_synthetic.yaml'}, over_trc.yaml]\n"
                                       "baseline: {config: base.yaml}\n")

    full = wsvol("run", "trc.yaml", "--work-dir", "full", cwd=tmp_path)
    assert full.wait(timeout=900) == 0, full.stderr.read()

    run = wsvol("run", "trc.yaml", "--work-dir", "killed", cwd=tmp_path)
    kill_once_written(run, tmp_path / "killed" / "epoch_2.pth", timeout=900)  # TrCAM-V's own: kill in epoch 3
    assert not (tmp_path / "killed" / "epoch_4.pth").exists()
    assert not (tmp_path / "killed" / "report").exists()

    resumed = wsvol("run", "trc.yaml", "--work-dir", "killed", "--resume", cwd=tmp_path)
    assert resumed.wait(timeout=900) == 0, resumed.stderr.read()

    a, b = weights(tmp_path / "full" / "epoch_4.pth"), weights(tmp_path / "killed" / "epoch_4.pth")
    assert a.keys() == b.keys() and "sampler_step" in a
    for k in a:
        assert torch.equal(a[k], b[k]), k
    summary = [json.loads((tmp_path / w / "report" / "report.json").read_text())["summary"] for w in ("full", "killed")]
    assert summary[0] == summary[1]
