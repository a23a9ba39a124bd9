"""Distributed runs under torchrun with gloo on CPU.

Two processes with batch B train like one process with batch 2B (same global batch): the shot
sampler gives the two ranks the two halves of each global batch, every frame's augmentation is
seeded by (dataset seed, epoch, frame), and DDP averages the gradients. The networks here use
per-sample normalisation (GroupNorm with one group), so nothing depends on how a batch is split
and the two runs differ only by float summation order: weights within 1e-5, every metric within
0.1 percentage points (measured: 1.2e-7 and identical CorLoc/CL, PxAP 6e-6 points apart). With
BatchNorm they would not match (statistics over B frames, not 2B).

Evaluation gathered over two ranks is compared exactly with one process evaluating the same
checkpoint, on a BatchNorm network whose per-rank statistics the runner averages after every
epoch. Kill/resume under torchrun ends with bit-identical weights.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_configs import tiny_config  # beside this file (pytest puts its folder on sys.path)

from wsvol.data.frame_samplers import FrameSampler
from wsvol.evaluation.metrics import CorLocMetric

pytestmark = pytest.mark.dist

TINY = """\
synthetic: {{out: {data}, size: tiny, seed: 0}}
model: {{cam: {{type: cam}}, backbone_kwargs: {{norm_layer: {norm}}}}}
train_dataloader: {{batch_size: 4}}
param_scheduler: [{{type: StepLR, by_epoch: true, step_size: 2, gamma: 0.5}}]
train_cfg: {{by_epoch: true, max_epochs: 3, val_interval: 1}}
report: {{overlays: 2}}
default_hooks: {{checkpoint: {{type: CheckpointHook, interval: 1, max_keep_ckpts: 5}}}}
"""
WEIGHT_ATOL = 1e-5  # float summation order (two ranks' gradients averaged vs one batch)
METRIC_ATOL = 0.1  # percentage points; one frame of the 30 would move CorLoc by 3.3
TIMEOUT = 300


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> Path:
    """A folder with the configs: ``gn.yaml`` (GroupNorm) and ``bn.yaml`` (BatchNorm)."""
    root = tmp_path_factory.mktemp("dist")
    for name, norm in (("gn", "groupnorm1"), ("bn", "batchnorm2d")):
        tiny_config(root, root / "data", TINY.format(data=root / "data", norm=norm), f"{name}.yaml", validate=True)
    return root


def launch(args: list[str], cwd: Path, log: str, procs: int = 1) -> subprocess.Popen:
    """``python -m wsvol ARGS``, or under torchrun with ``procs`` processes (free port, gloo)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    if procs == 1:
        cmd = [sys.executable, "-m", "wsvol", "--debug", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs),
               "-m", "wsvol", "--debug", *args, "--launcher", "pytorch"]
    with open(cwd / log, "w") as out:  # a file, not a pipe: nothing blocks on a full pipe
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, cwd: Path, log: str) -> str:
    """Wait for a launch to succeed; its output."""
    code = proc.wait(timeout=TIMEOUT)
    text = (cwd / log).read_text()
    assert code == 0, text[-4000:]
    return text


def wsvol(args: list[str], cwd: Path, procs: int = 1) -> str:
    log = f"{args[0]}-{args[-1].replace('/', '_')}-{procs}.log"
    return finish(launch(args, cwd, log, procs), cwd, log)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def val_metrics(work: Path) -> list[dict[str, float]]:
    """The validation metrics of every epoch, from mmengine's scalar log."""
    (log,) = work.glob("*/vis_data/scalars.json")
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("step", "time", "data_time")} for r in rows if "corloc" in r]


def assert_metrics_close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert abs(a[key] - b[key]) <= METRIC_ATOL, (key, a[key], b[key])


def listing(work: Path) -> list[str]:
    """Every file of a work dir, mmengine's timestamped folder names masked."""
    return sorted(re.sub(r"\d{8}_\d{6}", "TS", str(p.relative_to(work))) for p in work.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def bn_run(space) -> Path:
    """An uninterrupted 2-process ``wsvol run`` of the BatchNorm config."""
    wsvol(["run", "bn.yaml", "--work-dir", "bn2"], space, procs=2)
    return space / "bn2"


@pytest.mark.slow
def test_two_processes_train_like_one_with_the_same_global_batch(space):
    out2 = wsvol(["run", "gn.yaml", "--work-dir", "gn2"], space, procs=2)  # batch 4 per rank
    wsvol(["run", "gn.yaml", "--work-dir", "gn1", "--cfg-options", "train_dataloader.batch_size=8"], space)
    one, two = space / "gn1", space / "gn2"

    a, b = weights(one / "epoch_3.pth"), weights(two / "epoch_3.pth")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=WEIGHT_ATOL, msg=k)
    va, vb = val_metrics(one), val_metrics(two)
    assert len(va) == len(vb) == 3  # validation after every epoch, logged once
    for ma, mb in zip(va, vb):
        assert_metrics_close(ma, mb)
    assert_metrics_close(json.loads((one / "test_metrics.json").read_text()),
                         json.loads((two / "test_metrics.json").read_text()))
    # rank 0 alone writes: the same files as a 1-process run, and one report printed
    assert listing(one) == listing(two)
    assert out2.count("report: ") == 1


@pytest.mark.slow
def test_evaluation_over_two_ranks_equals_one_process_on_the_same_checkpoint(space, bn_run):
    ckpt = str(bn_run / "epoch_3.pth")
    runs = {n: launch(["test", "bn.yaml", "--work-dir", f"bn_test{n}", "--checkpoint", ckpt], space, f"test{n}.log", n)
            for n in (1, 2)}
    for n, proc in runs.items():
        finish(proc, space, f"test{n}.log")
    # exact: the frames gathered from both ranks are the 1-process frames, in the same order, and
    # the ranks of `wsvol run` evaluated with the BatchNorm statistics that rank 0 saved
    # (averaged over the ranks after every epoch)
    one = space / "bn_test1"
    for two in (space / "bn_test2", bn_run):
        assert (two / "test_metrics.json").read_text() == (one / "test_metrics.json").read_text()
        for table in sorted((one / "report" / "tables").glob("*.csv")):
            assert (two / "report" / "tables" / table.name).read_text() == table.read_text(), (two, table.name)


def workers(pid: int) -> list[int]:
    """The worker processes torchrun ``pid`` started."""
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(k) for k in kids if b"wsvol" in Path(f"/proc/{k}/cmdline").read_bytes()]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds torchrun's workers in /proc")
def test_killed_two_process_run_resumes_to_the_same_weights(space, bn_run):
    work = space / "bn_killed"
    run = launch(["train", "bn.yaml", "--work-dir", "bn_killed"], space, "killed.log", procs=2)
    deadline = time.time() + TIMEOUT
    while not (work / "epoch_1.pth").exists():  # kill both ranks during epoch 2
        assert run.poll() is None and time.time() < deadline, (space / "killed.log").read_text()[-4000:]
        time.sleep(0.02)
    for pid in workers(run.pid):
        os.kill(pid, signal.SIGKILL)
    assert run.wait(timeout=60) != 0  # torchrun reports the failed workers and stops
    assert not (work / "epoch_3.pth").exists(), "training ended before it could be killed"
    kept = {p.name: p.stat().st_mtime_ns for p in work.glob("epoch_*.pth")}

    wsvol(["train", "bn.yaml", "--work-dir", "bn_killed", "--resume"], space, procs=2)

    # it resumed rather than restarting: the checkpoints written before the kill are untouched
    assert all((work / n).stat().st_mtime_ns == t for n, t in kept.items() if n != "epoch_2.pth")
    a, b = weights(bn_run / "epoch_3.pth"), weights(work / "epoch_3.pth")  # BatchNorm buffers too
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# -- the metric's gathering, without a model ---------------------------------------------------
CLASSES = ["a", "b", "c"]


def frame_outputs(n: int, boxless: int, seed: int = 0) -> list[dict]:
    """``n`` model outputs with random maps and boxes; frame ``boxless`` has no true box."""
    rng = np.random.default_rng(seed)
    outs = []
    for i in range(n):
        x0, y0 = rng.integers(0, 30), rng.integers(0, 20)
        boxes = np.array([[x0, y0, x0 + rng.integers(5, 30), y0 + rng.integers(5, 25)]], float)
        label = i % 3
        outs.append({"frame_id": f"c/v-{i // 2}/s/f{i}.jpg", "video_id": f"c/v-{i // 2}", "gt_label": label,
                     "ori_size": (64, 48), "gt_boxes": boxes if i != boxless else np.zeros((0, 4)),
                     "cam": torch.rand(16, 16, generator=torch.Generator().manual_seed(seed + i)),
                     "pred_label": int(rng.integers(0, 3)), "scores": torch.full((3,), 1 / 3)})
    return outs


def _gather_worker(rank: int, world: int, store: str, outs: list[dict], result: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        metric = CorLocMetric(classes=CLASSES, tau_step=0.01)
        for i in FrameSampler(list(range(len(outs))), shuffle=False, seed=0):  # this rank's share, padded
            metric.process({}, [outs[i]])
        values = metric.evaluate(len(outs))
        if rank == 0:
            loc = metric.last_result.localization  # boxes traced from both ranks' map files
            Path(result).write_bytes(pickle.dumps((values, loc.frame_ids, loc.at().boxes.tolist())))
    finally:
        torch.distributed.destroy_process_group()


def test_metric_gathers_the_frames_of_both_ranks_in_dataset_order(tmp_path):
    # 7 frames on 2 ranks: the sampler pads rank 1 with frame 0, and frame 3 has no true box
    outs = frame_outputs(7, boxless=3)
    result = tmp_path / "result.pkl"
    torch.multiprocessing.spawn(_gather_worker, args=(2, str(tmp_path / "store"), outs, str(result)), nprocs=2)
    values, frame_ids, boxes = pickle.loads(result.read_bytes())

    single = CorLocMetric(classes=CLASSES, tau_step=0.01)
    single.process({}, outs)
    assert values == single.evaluate(len(outs))
    assert frame_ids == [o["frame_id"] for i, o in enumerate(outs) if i != 3]
    assert boxes == single.last_result.localization.at().boxes.tolist()
