"""``wsvol compare``: run dirs read back (and refused when unfinished), the release and the published
method of each row read from the configs, and one comparison of two tiny real runs end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_configs import tiny_config  # beside this file

from wsvol.cli.main import main
from wsvol.config import load_config
from wsvol.data.synthetic import generate_synthetic
from wsvol.engine.compare import FinishedRun, detect_release, load_run, method_key
from wsvol.report.compare import ComparisonError

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
