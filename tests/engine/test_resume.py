"""Kill a run with SIGKILL at a named point, rerun it with --resume, and end exactly where an
uninterrupted run ends: the same checkpoints (weights, optimizer, schedulers, message hub), the
same best checkpoint on validation, the same report. And two writers of one work dir never mix.

The kill points are deterministic: ``WSVOL_KILL_AT=<hook>:<n>`` makes the runner SIGKILL itself
as it reaches the n-th call of a runner hook (``wsvol/engine/runner.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from tiny_configs import (  # beside this file (pytest puts its folder on sys.path)
    NARROW_RESNET,
    tiny_config,
)

from wsvol.data.synthetic import generate_synthetic

TINY = """\
model: {backbone: resnet18, backbone_kwargs: """ + NARROW_RESNET + """}
optim_wrapper: {optimizer: {type: SGD, lr: 0.05, momentum: 0.9, nesterov: true}}
param_scheduler: [{type: MultiStepLR, by_epoch: true, milestones: [2, 3], gamma: 0.5}]
train_cfg: {by_epoch: true, max_epochs: 4}
default_hooks: {checkpoint: {type: CheckpointHook, interval: 1, max_keep_ckpts: 5, save_best: corloc_mean,
                             rule: greater}}
"""


def wsvol(*args, cwd, kill_at: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("WSVOL_KILL_AT", None)
    if kill_at:
        env["WSVOL_KILL_AT"] = kill_at
    return subprocess.Popen([sys.executable, "-m", "wsvol", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finished(run: subprocess.Popen, timeout: float = 900) -> int:
    code = run.wait(timeout=timeout)
    run.stderr_text = run.stderr.read()
    return code


def checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_checkpoint(a: Path, b: Path) -> None:
    """Weights, optimizer, schedulers and message hub equal (timings and paths aside)."""
    x, y = checkpoint(a), checkpoint(b)
    assert x["state_dict"].keys() == y["state_dict"].keys()
    for k in x["state_dict"]:
        assert torch.equal(x["state_dict"][k], y["state_dict"][k]), f"{a.name}: {k}"
    assert_same(x.get("optimizer"), y.get("optimizer"), f"{a.name}: optimizer")
    assert_same(x.get("param_schedulers"), y.get("param_schedulers"), f"{a.name}: param_schedulers")
    hub_x, hub_y = x["message_hub"], y["message_hub"]
    scalars = {k for k in hub_x["log_scalars"] if "time" not in k}
    assert scalars == {k for k in hub_y["log_scalars"] if "time" not in k}
    for k in scalars:
        assert_same(hub_x["log_scalars"][k], hub_y["log_scalars"][k], f"{a.name}: message hub {k}")
    info = lambda h: {k: Path(v).name if isinstance(v, str) and "/" in v else v  # noqa: E731
                      for k, v in h["runtime_info"].items() if k not in ("dataset_meta", "cfg", "experiment_name", "eta")}
    assert info(hub_x) == info(hub_y), a.name
    assert (x["meta"]["epoch"], x["meta"]["iter"]) == (y["meta"]["epoch"], y["meta"]["iter"])


def assert_same(x, y, what: str) -> None:
    if isinstance(x, torch.Tensor):
        assert isinstance(y, torch.Tensor) and torch.equal(x, y), what
    elif isinstance(x, dict):
        assert isinstance(y, dict) and x.keys() == y.keys(), what
        for k in x:
            assert_same(x[k], y[k], f"{what}.{k}")
    elif isinstance(x, (list, tuple)):
        assert isinstance(y, (list, tuple)) and len(x) == len(y), what
        for i, (a, b) in enumerate(zip(x, y)):
            assert_same(a, b, f"{what}[{i}]")
    else:
        assert x == y, f"{what}: {x!r} != {y!r}"


def checkpoints(work: Path) -> list[str]:
    return sorted(p.name for p in work.glob("*.pth"))


def validations(work: Path) -> list[str]:
    """The validations a run did (the ``val_overlays`` hook writes a folder for each)."""
    return sorted(p.name for p in (work / "overlays").glob("val_epoch_*"))


@pytest.fixture(scope="module")
def tiny_full(tmp_path_factory) -> Path:
    """Tiny synthetic data, ``tiny.yaml`` (4 epochs, validated after each, best kept) and ``full/``,
    its uninterrupted training."""
    root = tmp_path_factory.mktemp("resume")
    generate_synthetic(root / "data", size="tiny", progress=False)
    tiny_config(root, root / "data", TINY, validate=True)
    full = wsvol("train", "tiny.yaml", "--work-dir", "full", cwd=root)
    assert finished(full) == 0, full.stderr_text
    assert len([n for n in checkpoints(root / "full") if n.startswith("best_")]) == 1
    return root


#: One training killed five times, each kill counted over its own process, in the order a run
#: reaches the points; with each, the epoch checkpoints on disk when it lands (epoch_N.pth waits for
#: epoch N's validation: a run killed before it redoes epoch N).
KILL_CHAIN = {
    "during validation 2, before its best checkpoint": ("after_val_epoch:2", [1]),
    # resumed from epoch_1.pth: epoch 2 again
    "after validation 2's best checkpoint hook, before epoch_2.pth": ("after_val:1", [1]),
    # from epoch_1.pth again: epoch 2's 5 iterations, then 3 of epoch 3
    "mid-epoch 3": ("after_train_iter:8", [1, 2]),
    # from epoch_2.pth: epoch 3's validation, then epoch 4's
    "after the final epoch's training, before its validation": ("before_val:2", [1, 2, 3]),
    "right after the final checkpoint": ("after_train:1", [1, 2, 3, 4]),
}
#: The same when validation 2 finds a new best: mmengine's CheckpointHook then saves epoch_2.pth
#: again right after the best one (in after_val_epoch), so it is on disk at the second point and
#: the next resume starts from it.
KILL_CHAIN_NEW_BEST_AT_2 = {
    **{k: v for k, v in list(KILL_CHAIN.items())[:1]},
    "after validation 2's best checkpoint hook, which saved epoch_2.pth again": ("after_val:1", [1, 2]),
    # from epoch_2.pth: 3 of epoch 3's iterations
    "mid-epoch 3": ("after_train_iter:3", [1, 2]),
    **{k: v for k, v in list(KILL_CHAIN.items())[3:]},
}


def new_best_at_epoch_2(work: Path) -> bool:
    """Whether the run's validation 2 beat validation 1 on its save_best metric (corloc_mean)."""
    [scalars] = work.glob("*/vis_data/scalars.json")
    values = [row["corloc_mean"] for row in map(json.loads, scalars.read_text().splitlines()) if "corloc_mean" in row]
    return values[1] > values[0]


@pytest.mark.slow
def test_sigkilled_five_times_then_resumed_ends_as_an_uninterrupted_run(tiny_full):
    """A training killed at five points in turn, rerun with --resume after each, ends with the
    uninterrupted run's checkpoints (weights, optimizer, schedulers, message hub), best checkpoint
    and validations; each resume continued rather than restarted."""
    root = tiny_full
    work = root / "killed"
    kept: dict[str, int] = {}
    chain = KILL_CHAIN_NEW_BEST_AT_2 if new_best_at_epoch_2(root / "full") else KILL_CHAIN
    for i, (point, (kill_at, epochs)) in enumerate(chain.items()):
        resume = ["--resume"] if i else []
        killed = wsvol("train", "tiny.yaml", "--work-dir", work.name, *resume, cwd=root, kill_at=kill_at)
        assert finished(killed) == -9, f"not killed {point}: {killed.stderr_text}"  # at the point, not an error before it
        assert [n for n in checkpoints(work) if n.startswith("epoch_")] == [f"epoch_{e}.pth" for e in epochs], point
        for name in checkpoints(work):
            if name.startswith("epoch_"):
                kept.setdefault(name, (work / name).stat().st_mtime_ns)

    resumed = wsvol("train", "tiny.yaml", "--work-dir", work.name, "--resume", cwd=root)
    assert finished(resumed) == 0, resumed.stderr_text

    assert checkpoints(work) == checkpoints(root / "full")  # the same epochs and the same best one
    assert validations(work) == validations(root / "full") == [f"val_epoch_{e}" for e in range(1, 5)]
    for name in checkpoints(work):
        assert_same_checkpoint(root / "full" / name, work / name)
    # each resume continued rather than restarting: an epoch checkpoint, once written, is never rewritten
    assert {n: (work / n).stat().st_mtime_ns for n in kept} == kept
    assert not list(work.rglob(".*.tmp"))  # no half-written file left


@pytest.mark.slow
def test_a_resumed_run_continues_the_message_hub_and_schedulers_exactly(tmp_path):
    """Branching off the epoch_1.pth of an uninterrupted run (``--resume FILE --work-dir NEW``)
    gives the same epoch_2.pth: weights, optimizer, MultiStepLR state and message hub."""
    generate_synthetic(tmp_path / "data", size="tiny", progress=False)
    tiny_config(tmp_path, tmp_path / "data", TINY.replace("max_epochs: 4", "max_epochs: 2")
                .replace("milestones: [2, 3]", "milestones: [1]"), validate=True)
    full = wsvol("train", "tiny.yaml", "--work-dir", "full", cwd=tmp_path)
    assert finished(full) == 0, full.stderr_text
    branch = wsvol("train", "tiny.yaml", "--resume", "full/epoch_1.pth", "--work-dir", "branch", cwd=tmp_path)
    assert finished(branch) == 0, branch.stderr_text
    assert_same_checkpoint(tmp_path / "full" / "epoch_2.pth", tmp_path / "branch" / "epoch_2.pth")
    hub = checkpoint(tmp_path / "branch" / "epoch_2.pth")["message_hub"]
    assert len(hub["log_scalars"]["train/loss"]["log"]) == 10  # both epochs' losses, 5 iterations each
    lrs = hub["log_scalars"]["train/lr"]["log"].tolist()
    assert lrs == pytest.approx([0.05] * 5 + [0.025] * 5)  # milestone 1: halved for epoch 2, after the resume


@pytest.mark.slow
def test_a_second_writer_of_a_work_dir_stops_and_runs_never_mix(tiny_full):
    """While a training writes into a work dir, a second one there stops at once naming the first;
    afterwards a run with another seed there is refused without --resume, and with --resume too
    (its config differs): two runs' results never mix in one work dir."""
    root = tiny_full
    first = wsvol("train", "tiny.yaml", "--work-dir", "shared", "--cfg-options", "train_cfg.max_epochs=50", cwd=root)
    try:
        deadline = time.time() + 600
        while not (root / "shared" / ".wsvol.lock.json").is_file():
            assert first.poll() is None and time.time() < deadline, first.stderr.read()
            time.sleep(0.05)
        second = wsvol("train", "tiny.yaml", "--work-dir", "shared", "--seed", "1", cwd=root)
        assert finished(second) == 1
        assert first.poll() is None  # the first was running all along
        assert f"work dir shared is in use by another wsvol process (pid {first.pid}" in second.stderr_text
    finally:
        first.kill()
        first.wait()
    again = wsvol("train", "tiny.yaml", "--work-dir", "shared", "--seed", "1", cwd=root)
    assert finished(again) == 1
    assert "work dir shared already holds a run (wsvol-run.json): add --resume" in again.stderr_text
    mixed = wsvol("train", "tiny.yaml", "--work-dir", "shared", "--seed", "1", "--resume", cwd=root)
    assert finished(mixed) == 1
    assert "was started with another config" in mixed.stderr_text
    assert "randomness.seed: 0 → 1" in mixed.stderr_text and "train_cfg.max_epochs: 50 → 4" in mixed.stderr_text


TRCAMV_OVERRIDES = """
synthetic: {{out: {data}, size: tiny}}
train_dataloader: {{batch_size: 8, num_workers: 0, persistent_workers: false,
                   dataset: {{data_root: {data}, folds_root: {data}/folds}}}}
val_dataloader: {{num_workers: 0, dataset: {{data_root: {data}, folds_root: {data}/folds}}}}
test_dataloader: {{num_workers: 0, dataset: {{data_root: {data}, folds_root: {data}/folds}}}}
train_cfg: {{max_epochs: {epochs}, val_interval: {val_interval}}}
default_hooks: {{checkpoint: {{type: CheckpointHook, interval: 1, max_keep_ckpts: 5, save_best: {best}}}}}
report: {{overlays: 0, n_boot: 20}}
"""


@pytest.fixture(scope="module")
def trcamv_full(tmp_path_factory) -> Path:
    """``trc.yaml``: a 2-epoch CAM baseline (validated and its best kept each epoch) → pseudo-labels →
    4 epochs of TrCAM-V (validated every 2nd); and ``full/``, its uninterrupted ``wsvol run``."""
    root = tmp_path_factory.mktemp("resume_run")
    configs = Path(__file__).parents[2] / "configs"
    data = root / "data"
    for name, epochs, val, best in (("base", 2, 1, "corloc_mean"), ("trc", 4, 2, "null")):
        (root / f"over_{name}.yaml").write_text(textwrap.dedent(
            TRCAMV_OVERRIDES.format(data=data, epochs=epochs, val_interval=val, best=best)))
    (root / "base.yaml").write_text(f"_base_: [{configs / 'cam/layercam_synthetic.yaml'}, over_base.yaml]\n"
                                    f"model: {{backbone_kwargs: {NARROW_RESNET}}}\n")
    (root / "trc.yaml").write_text(f"_base_: [{configs / 'trcamv_synthetic.yaml'}, over_trc.yaml]\n"
                                   "baseline: {config: base.yaml}\n")
    full = wsvol("run", "trc.yaml", "--work-dir", "full", cwd=root)
    assert finished(full) == 0, full.stderr_text
    return root


#: One run killed three times, each kill counted over its own process (the baseline's hooks come
#: first): a kill lands in a fresh run, in a resumed one and in a run resumed twice. With each: a
#: checkpoint written before it (in the work dir) and the next one, not yet written.
RUN_KILL_CHAIN = {
    # epoch_1.pth waits for its validation: the resumed run starts the baseline over
    "during the baseline's first validation": ("after_val_epoch:1", None, "baseline/epoch_1.pth"),
    # resumed: the baseline's epochs 1, 2, then TrCAM-V's 1, 2, 3
    "at the start of TrCAM-V's third epoch": ("before_train_epoch:5", "epoch_2.pth", "epoch_3.pth"),
    # resumed again: the baseline is done
    "right after TrCAM-V's final checkpoint": ("after_train:1", "epoch_4.pth", None),
}


@pytest.mark.slow
def test_trcamv_run_sigkilled_three_times_then_resumed_gives_the_same_weights_and_report(trcamv_full):
    """``wsvol run`` (baseline → pseudo-labels → TrCAM-V → report) killed at three points in turn,
    rerun with --resume after each, ends where the uninterrupted run ends: the baseline's best
    epoch, the pseudo-labels, TrCAM-V's weights (its pseudo-pixel draws continue their sequence)
    and the report."""
    root = trcamv_full
    work = root / "killed"
    for i, (point, (kill_at, written, not_yet)) in enumerate(RUN_KILL_CHAIN.items()):
        resume = ["--resume"] if i else []
        killed = wsvol("run", "trc.yaml", "--work-dir", work.name, *resume, cwd=root, kill_at=kill_at)
        assert finished(killed) == -9, f"not killed {point}: {killed.stderr_text}"
        assert (written is None or (work / written).is_file()) and not (not_yet and (work / not_yet).exists()), point
        assert not (work / "report").exists(), point

    resumed = wsvol("run", "trc.yaml", "--work-dir", work.name, "--resume", cwd=root)
    assert finished(resumed) == 0, resumed.stderr_text

    for sub in ("baseline", "."):
        assert checkpoints(work / sub) == checkpoints(root / "full" / sub)
        assert validations(work / sub) == validations(root / "full" / sub)
        for name in checkpoints(work / sub):
            assert_same_checkpoint(root / "full" / sub / name, work / sub / name)
    assert "sampler_step" in checkpoint(work / "epoch_4.pth")["state_dict"]
    summary = [json.loads((w / "report" / "report.json").read_text())["summary"] for w in (root / "full", work)]
    assert summary[0] == summary[1]
    assert not list(work.rglob(".*.tmp"))
