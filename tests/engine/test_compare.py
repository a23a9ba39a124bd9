"""``wsvol compare``: run dirs read back (and refused when unfinished), the release and the published
method of each row read from the configs, and one comparison of two tiny real runs end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from tiny_configs import tiny_config  # beside this file

from wsvol.cli.main import main
from wsvol.config import load_config
from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.data.synthetic import generate_synthetic
from wsvol.engine.compare import (
    FinishedRun,
    compare_runs,
    describe_data,
    detect_release,
    load_run,
    method_key,
)
from wsvol.evaluation.classification import evaluate_classification
from wsvol.evaluation.corloc import LocalizationResult
from wsvol.evaluation.metrics import EvaluationResult
from wsvol.report.compare import ComparisonError
from wsvol.report.frames import save_frames

CONFIGS = Path(__file__).parents[2] / "configs"


def finished_run(config: str) -> FinishedRun:
    return FinishedRun(Path("run"), Path(config).stem, load_config(CONFIGS / config).to_dict(), {})


@pytest.mark.parametrize(("config", "release"), [
    ("cam/layercam_ytov1.yaml", "ytov1"), ("cam/gradcampp_ytov22.yaml", "ytov22"), ("trcamv_ytov1.yaml", "ytov1"),
    ("trcamv_ytov22_clipseg.yaml", "ytov22"), ("trcamv_synthetic.yaml", None), ("cam/layercam_synthetic.yaml", None),
    ("cam/layercam_own_videos.yaml", None),
])
def test_release_is_read_from_the_config(config, release):
    assert detect_release(finished_run(config)) == release


def test_renamed_folders_are_not_guessed():
    run = finished_run("cam/layercam_ytov1.yaml")
    run.config["test_dataloader"]["dataset"] |= {"data_root": "/data/yto", "folds_root": "/data/yto/folds"}
    run.name = "mine"
    assert detect_release(run) is None


def test_each_row_is_matched_to_its_published_method():
    v1 = finished_run("trcamv_ytov1.yaml").config
    clipseg = finished_run("trcamv_ytov1_clipseg.yaml").config
    assert method_key("trcamv", v1) == "trcamv_clip"
    assert method_key("trcamv", clipseg) == "trcamv_clipseg"
    assert method_key("trcamv", finished_run("trcamv_synthetic.yaml").config) is None  # CAM pseudo-labels
    assert method_key("resnet50 (smooth_gradcampp)", v1) == "smooth_gradcampp"
    assert method_key("baseline: resnet18 (layercam)", v1) == "layercam"
    assert method_key("pseudo-labels", v1) is None
    assert method_key("tcam", {}) == "tcam"
    assert method_key("resnet50 (mycam)", v1) is None


def test_unfinished_run_dirs_are_refused_by_what_they_miss(tmp_path):
    with pytest.raises(ComparisonError, match="nowhere: no such run dir"):
        load_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ComparisonError, match="empty is not a finished run: wsvol-run.json, config.yaml, "
                                              "report/report.json, report/frames.npz missing \\(not a wsvol work dir"):
        load_run(tmp_path / "empty")
    run = tmp_path / "stopped"
    (run / "report").mkdir(parents=True)
    (run / "wsvol-run.json").write_text("{}")
    (run / "config.yaml").write_text("{}")
    with pytest.raises(ComparisonError, match="report/report.json, report/frames.npz missing \\(the run has not "
                                              "finished"):
        load_run(run)
    (run / "report" / "report.json").write_text("{}")
    with pytest.raises(ComparisonError, match="report/frames.npz missing \\(the report has no per-frame results"):
        load_run(run)


# -- hand-made run dirs (no training) -------------------------------------------------------------
def fake_run(path: Path, *, config: dict | None = None, shift: int = 0, method: str = "resnet50 (layercam)") -> Path:
    """A finished run dir holding one method on 20 YouTube-Objects-class frames; ``shift`` moves
    the true box of frame 3 (as another synthetic seed would: same ids, other boxes)."""
    n = 20
    labels = np.array([i // 2 for i in range(n)])
    frames = [f"{YOUTUBE_OBJECTS_CLASSES[c]}/video-0001/shot-000001/frame_{i:06d}.jpg" for i, c in enumerate(labels)]
    boxes = [np.array([[i, i, 20 + i + (shift if i == 3 else 0), 20 + i]]) for i in range(n)]
    correct = np.array([[i % 3 == 0, i % 2 == 0] for i in range(n)])
    loc = LocalizationResult(taus=np.array([0.2, 0.6]), correct=correct, labels=labels, gt_boxes=boxes,
                             num_classes=10, eval_size=(224, 224), frame_ids=frames,
                             video_ids=[f.rsplit("/", 2)[0] for f in frames])
    result = EvaluationResult(loc, evaluate_classification(labels, labels, 10), list(YOUTUBE_OBJECTS_CLASSES),
                              scores=np.full(n, 0.5), areas=np.full(n, 0.1))
    (path / "report").mkdir(parents=True)
    (path / "wsvol-run.json").write_text(json.dumps({"config": f"{path.name}.yaml"}))
    (path / "config.yaml").write_text(yaml.safe_dump(config or {}))
    (path / "report" / "report.json").write_text("{}")
    save_frames(path / "report" / "frames.npz", {method: result})
    return path


def synthetic_config(seed: int) -> dict:
    data = {"type": "youtube_objects", "data_root": "data/synthetic-tiny", "folds_root": "data/synthetic-tiny/folds"}
    return {"synthetic": {"out": "data/synthetic-tiny", "size": "tiny", "seed": seed},
            "test_dataloader": {"dataset": data}}


def ytov1_config() -> dict:
    return {"test_dataloader": {"dataset": {"data_root": "data/YouTube-Objects-v1.0", "folds_root": "data/folds"}}}


def test_runs_on_other_data_are_refused_naming_the_frame_and_both_runs(tmp_path, capsys):
    a = fake_run(tmp_path / "a", config=synthetic_config(0))
    d = fake_run(tmp_path / "d", config=synthetic_config(1), shift=5)
    assert main(["compare", str(a), str(d), "--out", str(tmp_path / "c"), "--n-boot", "20"]) == 1
    err = capsys.readouterr().err
    assert "frame bird/video-0001/shot-000001/frame_000003.jpg has other true boxes in " \
           f"{d} (resnet50 (layercam))" in err
    assert f"than in {a} (resnet50 (layercam))" in err and "different data" in err
    assert not (tmp_path / "c").exists()
    same = fake_run(tmp_path / "same", config=synthetic_config(0), method="resnet50 (cam)")
    assert main(["compare", str(a), str(same), "--out", str(tmp_path / "ok"), "--n-boot", "20"]) == 0


def test_data_is_described_from_the_config(tmp_path):
    def run(config):
        return FinishedRun(tmp_path, "x", config, {})

    assert describe_data(run(synthetic_config(3))) == ("synthetic data (size tiny, seed 3)", True)
    assert describe_data(run(ytov1_config())) == ("YouTube-Objects v1.0", True)
    generated = tmp_path / "gen"
    (generated / "folds").mkdir(parents=True)
    (generated / "folds" / "synthetic.json").write_text(json.dumps({"seed": 0, "size": "tiny"}))
    config = {"test_dataloader": {"dataset": {"data_root": str(generated), "folds_root": str(generated / "folds")}}}
    assert describe_data(run(config)) == ("synthetic data (size tiny, seed 0)", True)  # no section, its marker
    assert describe_data(run({"test_dataloader": {"dataset": {"data_root": "/data/yto"}}})) == \
           ("the data in /data/yto", False)


def test_published_rows_of_another_dataset_are_flagged(tmp_path, capsys):
    """--published ytov1 on synthetic runs: the rows are kept (the user asked), marked as another dataset's."""
    a = fake_run(tmp_path / "a", config=synthetic_config(0))
    assert main(["compare", str(a), "--published", "ytov1", "--out", str(tmp_path / "c"), "--n-boot", "20"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    data = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert "LayerCAM (published)" in [r["method"] for r in data["summary"]]
    warning = data["meta"]["published_warning"]
    assert warning == ("the published rows are the papers' numbers on YouTube-Objects v1.0, but these runs were "
                       f"tested on other data: {a} (synthetic data (size tiny, seed 0)); their numbers do not "
                       "compare with the papers'")
    assert f"warning: {warning}" in out
    page = (tmp_path / "c" / "compare.html").read_text()
    assert "<strong>Warning: " in page and "Data: YouTube-Objects v1.0" not in page
    # a config that does not show the release: a softer note; one that shows it: none
    b = fake_run(tmp_path / "b", config={"test_dataloader": {"dataset": {"data_root": "/data/yto"}}})
    c = compare_runs([b], published="ytov1", out=tmp_path / "cb", n_boot=20)
    assert c["meta"]["published_warning"] == (f"{b} (the data in /data/yto): the config does not show "
                                              "YouTube-Objects v1.0; the published rows compare only if it was "
                                              "tested on that release")
    v1 = fake_run(tmp_path / "v1", config=ytov1_config())
    for published in ("ytov1", "auto"):
        c = compare_runs([v1], published=published, out=tmp_path / f"cv1-{published}", n_boot=20)
        assert c["meta"]["release"] == "ytov1" and c["meta"]["published_warning"] is None
    capsys.readouterr()


def test_compare_json_holds_absolute_run_paths(tmp_path, monkeypatch):
    fake_run(tmp_path / "a")
    fake_run(tmp_path / "b", method="resnet50 (cam)")
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "a", "./b", "--reference", "b", "--out", "c", "--n-boot", "20"]) == 0
    meta = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert meta["meta"]["runs"] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert [r["origin"] for r in meta["methods"]] == [f"{tmp_path / 'a'} (resnet50 (layercam))",
                                                      f"{tmp_path / 'b'} (resnet50 (cam))"]
    assert meta["meta"]["reference"] == "resnet50 (cam)"


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--confidence", "95", "argument --confidence: a fraction strictly between 0 and 1, got 95 (for 95 % write 0.95)"),
    ("--confidence", "0", "argument --confidence: a fraction strictly between 0 and 1, got 0"),
    ("--confidence", "high", "argument --confidence: a fraction between 0 and 1 such as 0.95, not 'high'"),
    ("--n-boot", "0", "argument --n-boot: must be >= 1, got 0"),
    ("--n-boot", "1e3", "argument --n-boot: expected an integer >= 1, got '1e3'"),
])
def test_bootstrap_flags_are_checked_when_parsed(flag, value, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:  # before any run dir is read: this one does not exist
        main(["compare", str(tmp_path / "nowhere"), flag, value])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(ComparisonError, match="n_boot >= 1 and 0 < confidence < 1, got 1000 and 95"):
        compare_runs([tmp_path / "nowhere"], confidence=95)  # the API checks before reading too


# -- end to end ----------------------------------------------------------------------------------
def wsvol(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "-m", "wsvol", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A tiny ``wsvol run`` (GradCAM) and a ``wsvol test --cams cam layercam`` of its checkpoint
    (about a minute on 2 cores: the slow tests below share it)."""
    root = tmp_path_factory.mktemp("compare")
    generate_synthetic(root / "data", size="tiny", progress=False)
    cfg = tiny_config(root, root / "data")
    wsvol("run", str(cfg), "--work-dir", "a", cwd=root)
    wsvol("test", str(cfg), "--checkpoint", "a/epoch_1.pth", "--cams", "cam", "layercam", "--work-dir", "b", cwd=root)
    return root


@pytest.mark.slow
def test_compare_two_tiny_runs(two_runs, capsys, monkeypatch):
    root = two_runs
    monkeypatch.chdir(root)
    assert main(["compare", "a", "b", "--out", "c", "--n-boot", "50"]) == 0
    stdout = capsys.readouterr().out
    data = json.loads((root / "c" / "compare.json").read_text())
    reports = {**{r["method"]: r for r in json.loads((root / "a/report/report.json").read_text())["summary"]},
               **{r["method"]: r for r in json.loads((root / "b/report/report.json").read_text())["summary"]}}
    assert [r["method"] for r in data["summary"]] == ["resnet10t (gradcam)", "resnet10t (cam)", "resnet10t (layercam)"]
    assert data["meta"]["reference"] == "resnet10t (gradcam)"  # the first run's own model
    for row in data["summary"]:  # the numbers each run's own report gave
        mine = reports[row["method"]]
        assert (row["frames"], row["corloc"], row["corloc_mean"], row["cl"]) == \
               (mine["frames"], mine["corloc"], mine["corloc_mean"], mine["cl"])
    cam = data["summary"][1]
    assert cam["d_corloc"] == pytest.approx(reports["resnet10t (cam)"]["corloc"] - reports["resnet10t (gradcam)"]["corloc"])
    assert cam["d_cl"] == pytest.approx(0)  # one checkpoint: the same classifier
    assert all(r["source"] == "measured" for r in data["summary"])  # synthetic data: nothing published
    assert data["meta"]["release"] is None
    for name in ("summary", "per_class", "differences", "methods"):
        assert (root / "c" / "tables" / f"{name}.csv").is_file()
    assert "<table id='per_class'>" in (root / "c" / "compare.html").read_text()
    assert "CorLoc per class" in stdout and "comparison: c/compare.html" in stdout


@pytest.mark.slow
def test_compare_refusals_name_the_fault(two_runs, capsys):
    root = two_runs
    shutil.copytree(root / "a", root / "old")
    (root / "old" / "report" / "frames.npz").unlink()
    assert main(["compare", str(root / "a"), str(root / "old")]) == 1
    assert "old is not a finished run: report/frames.npz missing" in capsys.readouterr().err
    assert main(["compare", str(root / "a"), str(root / "b"), "--reference", "nope"]) == 1
    assert "--reference nope: neither one of the run dirs nor a method label" in capsys.readouterr().err
    # --reference by run dir: b's last method
    assert main(["compare", str(root / "a"), str(root / "b"), "--reference", str(root / "b"), "--n-boot", "20",
                 "--out", str(root / "d")]) == 0
    assert json.loads((root / "d" / "compare.json").read_text())["meta"]["reference"] == "resnet10t (layercam)"
