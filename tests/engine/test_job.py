"""Job setup: one order for every command, a fixed thread rule, no work dir before the checks pass."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from wsvol.engine.job import available_cores, set_threads, setup_job


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_threads_are_the_cores_the_process_may_use_whatever_the_load(monkeypatch, restore_threads):
    """The default does not follow the machine's load: two spinning processes change nothing."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    idle = set_threads()
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.3)
        busy = set_threads()
    finally:
        for p in spin:
            p.kill()
            p.wait()
    assert idle == busy == available_cores() == torch.get_num_threads()


def test_threads_flag_then_environment(monkeypatch, restore_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert set_threads() == 1 == torch.get_num_threads()
    assert set_threads(2) == 2 == torch.get_num_threads()
    with pytest.raises(ValueError, match="--threads 0"):
        set_threads(0)


def test_a_failed_preflight_leaves_no_work_dir(tmp_path):
    """Data missing: the job stops before any file is written."""
    cfg = tmp_path / "c.yaml"
    nowhere = tmp_path / "nowhere"
    cfg.write_text(
        "model: {type: resnet50_cam, backbone: resnet18, num_classes: 10}\n"
        f"test_dataloader: {{batch_size: 1, dataset: {{type: youtube_objects, data_root: {nowhere}, "
        f"folds_root: {nowhere}/folds, split: test}}}}\n")
    args = argparse.Namespace(config=str(cfg), cfg_options=[], work_dir=str(tmp_path / "work"))
    from wsvol.data.folds import DataError

    with pytest.raises(DataError, match="dataset files are missing"):
        setup_job(args)
    assert not (tmp_path / "work").exists()


def test_method_label_names_what_the_model_is():
    from mmengine.config import Config

    from wsvol.engine.pipeline import method_label

    resnet = Config({"model": {"type": "resnet50_cam", "backbone": "resnet18", "cam": {"type": "layercam"}}})
    assert method_label(resnet) == "resnet18 (layercam)"  # the architecture, not the model type's name
    assert method_label(resnet, "gradcam") == "resnet18 (gradcam)"
    trcamv = Config({"model": {"type": "trcamv", "backbone": {"type": "timm_vit", "arch": "vit_small_patch16_224"}}})
    assert method_label(trcamv) == "trcamv"


def test_a_run_that_cannot_start_leaves_no_work_dir_but_a_started_one_keeps_its_own(tmp_path):
    """The model cannot be built (its pretrained file is another model's): the fresh work dir goes.
    An existing work dir is never removed, whatever fails."""
    import sys

    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from tiny_configs import tiny_config

    from wsvol.data.synthetic import generate_synthetic
    from wsvol.engine.pipeline import train_model

    generate_synthetic(tmp_path / "data", size="tiny", progress=False)
    torch.save({"backbone.fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    cfg = tiny_config(tmp_path, tmp_path / "data", f"model: {{pretrained: {tmp_path / 'other.pth'}}}\n")
    args = argparse.Namespace(config=str(cfg), cfg_options=[], work_dir=str(tmp_path / "work"), resume=None)
    with pytest.raises(ValueError, match="do not match ResNetCAM"):
        train_model(args)
    assert not (tmp_path / "work").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="do not match ResNetCAM"):
        train_model(argparse.Namespace(**{**vars(args), "work_dir": str(tmp_path / "mine")}))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def test_test_and_visualize_never_write_into_a_work_dir_that_holds_a_run(tmp_path):
    """``wsvol test --work-dir RUN`` would overwrite the training run's config.yaml and marker:
    refused, and both are left byte for byte; a folder without a run is used as asked."""
    from mmengine.config import Config

    from wsvol.engine.job import prepare_work_dir

    run = tmp_path / "run"
    prepare_work_dir(Config({"model": {"type": "trained"}}), tmp_path / "train.yaml", run, None, training=True)
    kept = {name: (run / name).read_bytes() for name in ("config.yaml", "wsvol-run.json")}
    assert b"trained" in kept["config.yaml"]
    with pytest.raises(FileExistsError, match=f"work dir {run} already holds a run .*choose another --work-dir"):
        prepare_work_dir(Config({"model": {"type": "tested"}}), tmp_path / "test.yaml", run, None, training=False)
    assert {name: (run / name).read_bytes() for name in kept} == kept
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert prepare_work_dir(Config({"model": {"type": "tested"}}), tmp_path / "test.yaml", mine, None) == mine
    assert b"tested" in (mine / "config.yaml").read_bytes() and (mine / "notes.txt").read_text() == "mine"


def test_resume_continues_the_newest_run_even_before_its_first_checkpoint(tmp_path, monkeypatch, capsys):
    """A run stopped in its baseline or pseudo-labels has no checkpoint of its own yet: `--resume`
    continues it (its finished stages are skipped) instead of starting another run or taking up an
    older, finished one; the marker keeps when the run was created."""
    import json

    from mmengine.config import Config

    from wsvol.engine.job import prepare_work_dir

    monkeypatch.chdir(tmp_path)
    config = tmp_path / "mine.yaml"
    runs = Path("work_dirs") / "mine"  # relative, as the default work dirs are

    def cfg():
        return Config({"model": {"type": "mine"}})

    older, newest = runs / "20261201-080000-aaaaaa", runs / "20261202-080000-bbbbbb"
    for run in (older, newest):
        prepare_work_dir(cfg(), config, run, None, training=True)
    (older / "epoch_6.pth").write_bytes(b"")  # finished long ago
    (newest / "baseline").mkdir()  # stopped while training its baseline
    (runs / "20261203-080000-cccccc").mkdir()  # a folder that holds no run
    created = json.loads((newest / "wsvol-run.json").read_text())["created"]
    capsys.readouterr()

    resumed = cfg()
    assert prepare_work_dir(resumed, config, None, "auto", training=True) == newest
    assert not resumed.resume and "load_from" not in resumed
    assert f"resuming the run in {newest}, whose training has no checkpoint yet" in capsys.readouterr().err
    marker = json.loads((newest / "wsvol-run.json").read_text())
    assert marker["created"] == created and len(marker["resumed"]) == 1
    assert prepare_work_dir(cfg(), config, None, str(newest), training=True) == newest  # --resume DIR
    assert len(json.loads((newest / "wsvol-run.json").read_text())["resumed"]) == 2
    with pytest.raises(FileNotFoundError, match="cccccc: that folder holds no wsvol run"):
        prepare_work_dir(cfg(), config, None, str(runs / "20261203-080000-cccccc"), training=True)


def test_a_resume_keeps_the_first_environment_and_records_its_own(tmp_path, monkeypatch):
    """The marker's environment is the one the run started in; each resume adds when and in which
    environment it ran (a resume on another machine may give other numbers)."""
    import json

    from mmengine.config import Config

    from wsvol.engine import job

    machines = iter([{"threads": 2, "device": "cpu"}, {"threads": 8, "device": "cpu"},
                     {"threads": 8, "device": "NVIDIA H100"}])
    monkeypatch.setattr(job, "environment", lambda: next(machines))
    work = tmp_path / "run"
    job.prepare_work_dir(Config({"model": {"type": "m"}}), tmp_path / "m.yaml", work, None, training=True)
    for _ in range(2):
        job.prepare_work_dir(Config({"model": {"type": "m"}}), tmp_path / "m.yaml", None, str(work), training=True)
    marker = json.loads((work / "wsvol-run.json").read_text())
    assert marker["environment"] == {"threads": 2, "device": "cpu"}
    assert [r["environment"] for r in marker["resumed"]] == [{"threads": 8, "device": "cpu"},
                                                             {"threads": 8, "device": "NVIDIA H100"}]
    assert all(r["at"] >= marker["created"] for r in marker["resumed"])


def test_an_interrupted_run_says_how_to_continue_it(monkeypatch, capsys):
    from wsvol.cli import main as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", lambda real=cli.build_parser: _with_func(real(), interrupted))
    assert cli.main(["train", "configs/x.yaml", "--work-dir", "w"]) == 130
    assert capsys.readouterr().err.strip() == \
        "wsvol: interrupted; `wsvol train configs/x.yaml --work-dir w --resume` continues it"
    assert cli.main(["data", "synth", "--out", "d"]) == 130
    assert capsys.readouterr().err.strip() == "wsvol: interrupted"


def _with_func(parser, func):
    """``parser`` whose commands all run ``func``."""
    parser.set_defaults(func=func)
    for action in parser._subparsers._group_actions:
        for sub in action.choices.values():
            sub.set_defaults(func=func)
            for inner in getattr(sub, "_subparsers", None) and sub._subparsers._group_actions or ():
                for leaf in inner.choices.values():
                    leaf.set_defaults(func=func)
    return parser


def test_a_cuda_device_torch_does_not_see_is_refused(monkeypatch):
    """mmengine's runner would train on the CPU without a word."""
    from wsvol.engine.job import select_device

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"^--device cuda: torch sees no CUDA device here \(CUDA_VISIBLE_DEVICES=0\)"):
        select_device("cuda")
    with pytest.raises(ValueError, match=r"^--device cuda:3: torch sees no CUDA device here \(CUDA_VISIBLE_DEVICES=3\)"):
        select_device("cuda:3")
    with pytest.raises(ValueError, match="--device 'cuda:x': expected cpu, cuda or cuda:N"):
        select_device("cuda:x")
    select_device("cpu")
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""


def test_the_environment_records_wsvol_commit_cuda_and_cudnn():
    from wsvol.engine.job import environment

    env = environment()
    assert {"cuda", "cudnn", "wsvol_commit"} <= set(env)
    if not torch.cuda.is_available():
        assert env["cuda"] is None and env["cudnn"] is None
    source = Path(__file__).resolve().parents[2]
    head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0 and (source / "wsvol" / "__init__.py").is_file():  # tests of a wsvol checkout
        assert env["wsvol_commit"] == head.stdout.strip()


def test_no_wsvol_commit_without_git_or_outside_wsvol_own_checkout(monkeypatch):
    from wsvol.engine import job

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert job.wsvol_commit() is None

    def another_repository(cmd, **kwargs):  # an installed wsvol inside some project's repository
        return subprocess.CompletedProcess(cmd, 0, stdout="/home/me/project\n" + "a" * 40 + "\n", stderr="")

    monkeypatch.setattr(subprocess, "run", another_repository)
    assert job.wsvol_commit() is None

    def failing(cmd, **kwargs):
        raise subprocess.CalledProcessError(128, cmd, stderr="fatal: not a git repository")

    monkeypatch.setattr(subprocess, "run", failing)
    assert job.wsvol_commit() is None
