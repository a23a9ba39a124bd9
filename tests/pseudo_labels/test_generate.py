"""``wsvol pseudo-labels`` on the tiny synthetic set with a tiny CLIP-ES saved to a weights file:
maps equal the source run directly, SIGKILL then resume equals an uninterrupted run, ranks split
the shards, a changed source is refused, and training reads the cache."""

from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("open_clip")

from wsvol.data.dataset import FoldDataset  # noqa: E402
from wsvol.data.folds import read_split  # noqa: E402
from wsvol.data.pseudo_label_cache import CacheError, PseudoLabelCache  # noqa: E402
from wsvol.data.synthetic import generate_synthetic  # noqa: E402
from wsvol.evaluation import evaluate_localization  # noqa: E402
from wsvol.pseudo_labels.clip_es import ClipES  # noqa: E402
from wsvol.pseudo_labels.generate import generate_pseudo_labels, open_pseudo_labels  # noqa: E402

TINY = dict(embed_dim=32, vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8, head_width=16),
            text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
SOURCE = dict(model_overrides=TINY, attn_layers=2, logit_scale=None)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """The tiny synthetic set and a tiny random CLIP saved as a weights file."""
    tmp = tmp_path_factory.mktemp("generate")
    generate_synthetic(tmp / "data", size="tiny", progress=False)
    torch.manual_seed(0)
    weights = tmp / "clip_tiny.pt"
    torch.save(ClipES(**SOURCE).model.state_dict(), weights)
    return {"tmp": tmp, "data": tmp / "data", "weights": weights}


def config(world: dict, cache: Path, **section) -> dict:
    data = world["data"]
    dataset = {"type": "youtube_objects", "data_root": str(data), "folds_root": str(data / "folds"), "split": "train"}
    return {
        "model": {"type": "resnet50_cam", "backbone": "resnet18"},
        "train_dataloader": {"batch_size": 4, "dataset": dataset},
        "pseudo_labels": {
            "source": {"type": "clip_es", "pretrained": str(world["weights"]), **SOURCE},
            "cache_dir": str(cache), "size": None, "batch_size": 4, "shard_size": 8, "num_workers": 0,
            **section,
        },
    }


def shards(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("shard-*.npy"))}


@pytest.fixture(scope="module")
def full(world) -> Path:
    """An uninterrupted generation."""
    root = world["tmp"] / "full"
    generate_pseudo_labels(config(world, root), progress=False)
    return root


def test_maps_are_the_source_run_on_resized_normalized_frames(world, full):
    source = ClipES(**SOURCE, pretrained=str(world["weights"]))
    split = read_split(world["data"] / "folds", "val")
    cache = PseudoLabelCache.open(full / "val")
    assert cache.size == (32, 32) and len(cache) == len(split.frames) == 30  # size null: the source's
    mean, std = np.float32(source.mean), np.float32(source.std)
    for start in range(0, 8, 4):  # the first shard, in the same batches as the generation
        frames = split.frames[start : start + 4]
        imgs = []
        for f in frames:
            rgb = cv2.cvtColor(cv2.imread(str(world["data"] / f.frame_id)), cv2.COLOR_BGR2RGB)
            rgb = cv2.resize(rgb, (32, 32), interpolation=cv2.INTER_AREA)
            imgs.append(torch.from_numpy((rgb.astype(np.float32) / 255 - mean) / std).permute(2, 0, 1))
        want = source(torch.stack(imgs), torch.tensor([f.label for f in frames])).numpy()
        for f, w in zip(frames, want):
            np.testing.assert_array_equal(cache.read_uint8(f.frame_id), np.floor(w.astype(np.float64) * 255))


def test_eval_report_is_corloc_of_the_cached_maps(world, full):
    report = json.loads((full / "eval.json").read_text())
    assert set(report["splits"]) == {"val", "test"}  # the train split has no boxes
    for name in ("val", "test"):
        split = read_split(world["data"] / "folds", name)
        cache = PseudoLabelCache.open(full / name)
        res = evaluate_localization([cache(f.frame_id) for f in split.frames], [f.boxes for f in split.frames],
                                    [f.size for f in split.frames], [f.label for f in split.frames],
                                    num_classes=10)
        got = report["splits"][name]
        assert got["frames"] == 30 and got["corloc"] == pytest.approx(res.corloc)
        assert got["corloc_mean"] == pytest.approx(res.corloc_mean)


SLOW_RUN = """
import json, sys, time
import torch
torch.set_num_threads(1)
from wsvol.pseudo_labels.clip_es import ClipES
forward = ClipES.forward
def slow(self, images, labels):  # slow enough to be killed mid-way
    out = forward(self, images, labels)
    time.sleep(0.15)
    return out
ClipES.forward = slow
from wsvol.pseudo_labels.generate import generate_pseudo_labels
generate_pseudo_labels(json.load(open(sys.argv[1])), progress=False)
"""


def test_sigkill_mid_generation_then_resume_gives_the_same_cache(world, full, tmp_path):
    root = tmp_path / "killed"
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(config(world, root, splits=["train"])))
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(SLOW_RUN))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.Popen([sys.executable, str(script), str(cfg_path)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while len(list((root / "train").glob("shard-*.npy"))) < 3:
        assert run.poll() is None, f"generation ended before it could be killed: {run.stderr.read()}"
        assert time.time() < deadline
        time.sleep(0.02)
    time.sleep(0.4)  # most likely mid-shard
    run.send_signal(signal.SIGKILL)
    run.wait()
    done = {p.name: p.stat().st_mtime_ns for p in (root / "train").glob("shard-*.npy")}
    cache = PseudoLabelCache.open(root / "train")
    assert 3 <= len(done) < cache.num_shards  # killed mid-way
    for k in range(cache.num_shards):  # every shard on disk is whole
        if cache.shard_path(k).is_file():
            cache.read_uint8(cache.frame_ids[cache.shard_rows(k)[-1]])

    generate_pseudo_labels(config(world, root, splits=["train"]), progress=False)  # resume
    assert all((root / "train" / n).stat().st_mtime_ns == t for n, t in done.items())  # not recomputed
    assert not list(root.rglob(".*.tmp"))
    assert shards(root) == {k: v for k, v in shards(full).items() if k.startswith("train")}


def test_ranks_split_the_shards(world, full, tmp_path, monkeypatch):
    import mmengine.dist

    root = tmp_path / "ranks"
    cfg = config(world, root)
    PseudoLabelCache.open(full / "train")  # (rank 0 creates the index before the others start)
    monkeypatch.setattr(mmengine.dist, "get_dist_info", lambda: (0, 2))
    generate_pseudo_labels(copy.deepcopy(cfg), progress=False)
    train = PseudoLabelCache.open(root / "train")
    assert train.missing_shards() == train.missing_shards(1, 2) == [1, 3, 5, 7, 9]  # rank 0 wrote its own
    assert not (root / "eval.json").exists()  # not evaluated while rank 1's shards are missing
    monkeypatch.setattr(mmengine.dist, "get_dist_info", lambda: (1, 2))
    generate_pseudo_labels(copy.deepcopy(cfg), progress=False)
    assert shards(root) == shards(full)


def test_a_changed_source_is_refused_until_overwrite(world, full, tmp_path):
    root = tmp_path / "stale"
    generate_pseudo_labels(config(world, root, splits=["val"]), progress=False)
    changed = config(world, root, splits=["val"])
    changed["pseudo_labels"]["source"]["template"] = "a photo of a {}."
    with pytest.raises(CacheError, match=r"source\.template: 'a clean origami \{\}\.' → 'a photo of a \{\}\.'"):
        generate_pseudo_labels(copy.deepcopy(changed), progress=False)
    other = tmp_path / "other.pt"  # same config, other weights content at the same path
    state = torch.load(world["weights"], weights_only=True)
    state["visual.proj"] = state["visual.proj"] * 2
    torch.save(state, other)
    moved = config(world, root, splits=["val"])
    moved["pseudo_labels"]["source"]["pretrained"] = str(other)
    with pytest.raises(CacheError, match=r"source\.pretrained: 'sha256:"):
        generate_pseudo_labels(copy.deepcopy(moved), progress=False)
    generate_pseudo_labels(copy.deepcopy(changed), overwrite=True, progress=False)
    assert shards(root) != {k: v for k, v in shards(full).items() if k.startswith("val")}
    # a copy of the same weights elsewhere is the same source: the cache is reused as it is
    same = tmp_path / "copy.pt"
    same.write_bytes(world["weights"].read_bytes())
    again = config(world, tmp_path / "reuse", splits=["val"])
    generate_pseudo_labels(copy.deepcopy(again), progress=False)
    before = shards(tmp_path / "reuse")
    again["pseudo_labels"]["source"]["pretrained"] = str(same)
    generate_pseudo_labels(again, progress=False)
    assert shards(tmp_path / "reuse") == before


def test_training_reads_the_cache(world, full, tmp_path):
    cfg = config(world, full)
    cache = open_pseudo_labels(cfg, "train")
    ds = FoldDataset(world["data"], world["data"] / "folds", "train", pseudo_label_reader=cache)
    item = ds.load(5)
    frame = ds.frames[5]
    assert item["pseudo_map"].shape == (frame.height, frame.width)  # resized to the frame
    want = cv2.resize(cache(frame.frame_id), frame.size, interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(item["pseudo_map"], want)
    with pytest.raises(CacheError, match="no pseudo-label cache"):
        open_pseudo_labels(config(world, tmp_path / "none"), "train")
    partial = tmp_path / "partial"
    PseudoLabelCache.create(partial / "train", key=cache.index["key"], frame_ids=cache.frame_ids,
                            size=cache.size, shard_size=8, describe=cache.index["describe"])
    with pytest.raises(CacheError, match="incomplete"):
        open_pseudo_labels(config(world, partial), "train")


def test_cli_pseudo_labels_and_weights_list(world, full, tmp_path, capsys, monkeypatch):
    from wsvol.cli import pseudo_label_commands, weights_commands

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    pseudo_label_commands.add_commands(sub)
    weights_commands.add_commands(sub)
    cfg = config(world, full)
    cfg["train_dataloader"]["dataset"]["pipeline"] = [{"type": "pack_inputs"}]
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    args = parser.parse_args(["pseudo-labels", str(path), "--cfg-options", "pseudo_labels.splits=[val]"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "CorLoc" in out and "val" in out and str(full) in out
    monkeypatch.setenv("WSVOL_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setenv("COLUMNS", "250")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "ViT-B-16.pt").write_bytes(b"x")
    args = parser.parse_args(["weights", "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "clip_vit_b16_openai" in out and "dino_vits16" in out and "  found    no\n" in out
    # the CLIP file found, the rest missing (a long path may wrap the "(weights folder)" note)
    assert " ".join(out.split()).count("(weights folder)") == 1


TORCHRUN = """
import argparse, sys
import torch
torch.set_num_threads(1)
from wsvol.cli.pseudo_label_commands import add_commands
parser = argparse.ArgumentParser()
add_commands(parser.add_subparsers())
args = parser.parse_args(["pseudo-labels", sys.argv[1], "--launcher", "pytorch"])
sys.exit(args.func(args))
"""


@pytest.mark.slow
def test_torchrun_ranks_write_their_own_shards(world, full, tmp_path):
    root = tmp_path / "torchrun"
    cfg = config(world, root, splits=["train", "val"])
    cfg["train_dataloader"]["dataset"]["pipeline"] = [{"type": "pack_inputs"}]
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(TORCHRUN))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", str(29500 + os.getpid() % 1000), str(script), str(path)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert shards(root) == {k: v for k, v in shards(full).items() if not k.startswith("test")}
    assert json.loads((root / "eval.json").read_text())["splits"]["val"]["frames"] == 30


HOLDER = """
import sys, time
from pathlib import Path
from wsvol.utils.files import lock_folder, temp_path
root = Path(sys.argv[1])
lock_folder(root, "pseudo-label cache", command="wsvol pseudo-labels first.yaml")
half = temp_path(root / "train" / "shard-00000.npy")  # a shard this writer is writing
half.parent.mkdir(parents=True, exist_ok=True)
half.write_bytes(b"half a shard")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
sys.exit(0 if half.exists() else 3)  # 3: another process deleted it while this one was alive
"""


def test_a_second_writer_of_a_cache_waits_for_the_first_and_deletes_none_of_its_files(world, full, tmp_path, capsys):
    root = tmp_path / "shared"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), "8"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert first.stdout.readline().strip() == "locked"
        generate_pseudo_labels(config(world, root, splits=["train"]), progress=False)  # waits for the first
        assert first.wait(timeout=60) == 0  # its half-written shard survived while it lived
    finally:
        first.kill()
        first.wait()
    out = capsys.readouterr().out
    assert (f"pseudo-label cache {root} is in use by another wsvol process (pid {first.pid}" in out
            and "`wsvol pseudo-labels first.yaml`" in out and "waiting for it to finish" in out)
    assert shards(root) == {k: v for k, v in shards(full).items() if k.startswith("train")}
    # the first writer is gone (and reaped): the next run removes what it left, and computes nothing
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("shard-*.npy")}
    generate_pseudo_labels(config(world, root, splits=["train"]), progress=False)
    assert not list(root.rglob(".*.tmp"))
    assert {p: p.stat().st_mtime_ns for p in root.rglob("shard-*.npy")} == stamps


def test_cli_pseudo_labels_fills_work_dir_given_and_refuses_it_unknown(world, tmp_path, monkeypatch):
    from wsvol.cli import pseudo_label_commands
    from wsvol.config.loader import ConfigError

    parser = argparse.ArgumentParser()
    pseudo_label_commands.add_commands(parser.add_subparsers(dest="command"))
    monkeypatch.chdir(tmp_path)
    cfg = config(world, Path("{work_dir}/pseudo_labels"), splits=["val"])
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as err:  # no work dir given: the value is unknown
        args = parser.parse_args(["pseudo-labels", str(path)])
        args.func(args)
    assert "`wsvol pseudo-labels` cannot fill" in str(err.value)
    assert "pseudo_labels.cache_dir: {work_dir}" in str(err.value)
    assert not any("{" in p.name for p in tmp_path.rglob("*"))  # no literal '{work_dir}' folder
    args = parser.parse_args(["pseudo-labels", str(path), "--work-dir", str(tmp_path / "run")])
    assert args.func(args) == 0
    assert (tmp_path / "run" / "pseudo_labels" / "val").is_dir()  # where `wsvol train --work-dir` reads it
