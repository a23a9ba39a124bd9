"""`wsvol run` end to end on tiny synthetic data: baseline → pseudo-labels → TrCAM-V → report,
and a second run with --resume that redoes no stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from tiny_configs import NARROW_RESNET  # beside this file (pytest puts its folder on sys.path)

CONFIGS = Path(__file__).parents[2] / "configs"
OVERRIDES = """
synthetic: {out: data/tiny, size: tiny}
train_dataloader: {batch_size: 8, num_workers: 0, persistent_workers: false,
                   dataset: {data_root: data/tiny, folds_root: data/tiny/folds}}
val_dataloader: {num_workers: 0, dataset: {data_root: data/tiny, folds_root: data/tiny/folds}}
test_dataloader: {num_workers: 0, dataset: {data_root: data/tiny, folds_root: data/tiny/folds}}
train_cfg: {max_epochs: 1, val_interval: 1}
report: {overlays: 3, n_boot: 50}
"""


def wsvol(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "-m", "wsvol", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.mark.slow
def test_trcamv_run_end_to_end_then_resume(tmp_path):
    (tmp_path / "over.yaml").write_text(textwrap.dedent(OVERRIDES))
    (tmp_path / "base.yaml").write_text(f"_base_: [{CONFIGS / 'cam/layercam_synthetic.yaml'}, over.yaml]\n"
                                        f"model: {{backbone_kwargs: {NARROW_RESNET}}}\n")
    (tmp_path / "trc.yaml").write_text(f"_base_: [{CONFIGS / 'trcamv_synthetic.yaml'}, over.yaml]\n"
                                       "baseline: {config: base.yaml}\n")
    out = wsvol("run", "trc.yaml", "--work-dir", "run", cwd=tmp_path)
    work = tmp_path / "run"
    report = json.loads((work / "report" / "report.json").read_text())
    methods = [row["method"] for row in report["summary"]]
    assert methods == ["pseudo-labels", "baseline: resnet18 (layercam)", "trcamv"]
    assert report["meta"]["reference"] == "pseudo-labels"  # differences are TrCAM-V − its pseudo-labels
    assert any(r["method"] == "trcamv" and "corloc[pseudo-labels]" in r["statistic"] for r in report["bootstrap"])
    assert (work / "report" / "report.html").stat().st_size > 10_000
    pngs = list((work / "overlays").rglob("*.png"))
    assert len([p for p in pngs if not p.parent.name.startswith("val_epoch")]) == 9  # 3 per method
    assert any(p.parent.name.startswith("val_epoch") for p in pngs)  # the val_overlays hook
    assert (work / "pseudo_labels" / "train" / "index.json").is_file()
    assert list((work / "baseline").glob("best_*.pth")) and list(work.glob("best_*.pth"))
    assert "centred-box baseline" in out.stdout

    stamps = {p: p.stat().st_mtime_ns for p in [*work.glob("*.pth"), *(work / "baseline").glob("*.pth"),
                                                 *(work / "pseudo_labels").rglob("shard-*.npy")]}
    wsvol("run", "trc.yaml", "--work-dir", "run", "--resume", cwd=tmp_path)
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # no stage was redone


@pytest.mark.slow
def test_tcam_run_end_to_end(tmp_path):
    """configs/tcam_synthetic.yaml shrunk, with --seed: the baseline keeps both bests, its best-CorLoc CAMs are
    cached at feature resolution, TCAM loads the best-CL encoder and head, and the report puts it
    next to its pseudo-labels and the baseline; then the n = 0 ablation trains on the same stage A."""
    import torch

    from wsvol.weights.loading import file_digest

    (tmp_path / "over.yaml").write_text(textwrap.dedent(OVERRIDES))
    (tmp_path / "base.yaml").write_text(f"_base_: [{CONFIGS / 'cam/cam_synthetic.yaml'}, over.yaml]\n"
                                        f"model: {{backbone_kwargs: {NARROW_RESNET}}}\n")
    (tmp_path / "narrow.yaml").write_text(f"model: {{backbone: {NARROW_RESNET}}}\n")  # TCAM's encoder: the baseline's
    (tmp_path / "tcam.yaml").write_text(f"_base_: [{CONFIGS / 'tcam_synthetic.yaml'}, over.yaml, narrow.yaml]\n"
                                        "baseline: {config: base.yaml}\n")
    wsvol("run", "tcam.yaml", "--work-dir", "run", "--seed", "3", cwd=tmp_path)
    work = tmp_path / "run"
    for stage in (work, work / "baseline"):  # --seed seeds every stage: a replicate of the whole run
        assert yaml.safe_load((stage / "config.yaml").read_text())["randomness"]["seed"] == 3
    report = json.loads((work / "report" / "report.json").read_text())
    assert [row["method"] for row in report["summary"]] == ["pseudo-labels", "baseline: resnet18 (cam)", "tcam"]
    assert any(r["method"] == "tcam" and "corloc[pseudo-labels]" in r["statistic"] for r in report["bootstrap"])
    [best_cl] = (work / "baseline").glob("best_cl_epoch_*.pth")
    [best_loc] = (work / "baseline").glob("best_corloc_epoch_*.pth")
    index = json.loads((work / "pseudo_labels" / "train" / "index.json").read_text())
    assert index["size"] == [12, 12] and index["describe"]["source"]["resolution"] == "feature"
    assert index["describe"]["source"]["checkpoint"] == f"sha256:{file_digest(best_loc)}"  # the best-CorLoc CAMs
    [best] = work.glob("best_*.pth")
    ckpt = torch.load(best, map_location="cpu", weights_only=True)
    run_cfg = ckpt["meta"]["wsvol"]["config"]
    best_cl = best_cl.relative_to(tmp_path)  # as the run names it (its work dir is relative)
    assert f"pretrained: {best_cl}" in run_cfg and f"cls_head_checkpoint: {best_cl}" in run_cfg
    baseline = torch.load(tmp_path / best_cl, map_location="cpu", weights_only=True)["state_dict"]
    assert torch.equal(ckpt["state_dict"]["cls_head.weight"], baseline["head.weight"])  # frozen through training
    assert torch.equal(ckpt["state_dict"]["backbone.model.layer4.1.bn2.running_var"],
                       baseline["backbone.layer4.1.bn2.running_var"])

    # configs/ablation/tcam_synthetic_n0.yaml: the same stage A (checkpoints, CAM cache), its own training
    (tmp_path / "n0.yaml").write_text(f"_base_: [{CONFIGS / 'ablation/tcam_synthetic_n0.yaml'}, over.yaml, narrow.yaml]\n")
    wsvol("train", "n0.yaml", "--work-dir", "n0", "--cfg-options", f"model.backbone.pretrained={best_cl}",
          f"model.cls_head_checkpoint={best_cl}", f"pseudo_labels.source.checkpoint={best_loc}",
          f"pseudo_labels.cache_dir={work / 'pseudo_labels'}", cwd=tmp_path)
    n0 = torch.load(next((tmp_path / "n0").glob("epoch_1.pth")), map_location="cpu", weights_only=True)
    ran = yaml.safe_load((tmp_path / "n0" / "config.yaml").read_text())
    assert ran["train_dataloader"]["dataset"]["pseudo_label_transform"] == {"type": "temporal_max", "n": 0,
                                                                           "mode": "before"}
    assert torch.equal(n0["state_dict"]["cls_head.weight"], baseline["head.weight"])


def test_test_metrics_keep_every_method_by_name(tmp_path):
    from wsvol.engine.pipeline import write_test_metrics

    one = {"corloc": 50.0, "cl": 75.0}
    write_test_metrics(tmp_path, {"resnet18 (cam)": one})
    assert json.loads((tmp_path / "test_metrics.json").read_text()) == one  # one method: as it was
    both = {"resnet18 (cam)": one, "resnet18 (layercam)": {"corloc": 60.0, "cl": 75.0}}
    write_test_metrics(tmp_path, both)
    assert json.loads((tmp_path / "test_metrics.json").read_text()) == both


def test_reproducibility_names_seed_config_and_checkpoints(tmp_path):
    import datetime
    import hashlib

    from mmengine.config import Config

    from wsvol.engine.pipeline import reproducibility

    (tmp_path / "config.yaml").write_text("model: {type: trcamv}\nrandomness: {seed: 7, deterministic: true}\n")
    cfg = Config({"model": {"type": "trcamv"}, "randomness": {"seed": 7, "deterministic": True}},
                 filename=str(tmp_path / "mine.py"), cfg_text="# mine.py")
    rep = reproducibility(tmp_path, cfg, {"trcamv": "w/best.pth"})
    assert (rep["training_seed"], rep["deterministic"]) == (7, True)
    assert rep["config"] == str(tmp_path / "mine.py")
    assert rep["config_sha256"] == hashlib.sha256((tmp_path / "config.yaml").read_bytes()).hexdigest()
    assert rep["checkpoints"] == {"trcamv": "w/best.pth"}
    created = datetime.datetime.fromisoformat(rep["created"])
    assert created.tzinfo is not None and abs(datetime.datetime.now().astimezone() - created).total_seconds() < 60
    bare = reproducibility(tmp_path / "none", Config({"model": {"type": "trcamv"}}))
    assert (bare["training_seed"], bare["deterministic"], bare["config_sha256"], bare["checkpoints"], bare["segments"],
            bare["checkpoint_runs"]) == (None, False, None, {}, [], {})


def test_reproducibility_says_which_parts_of_a_resumed_run_ran_elsewhere(tmp_path):
    """Each part of the run (its start, each resume) against the report's environment: what
    differed, nothing, or unknown (a resume recorded before environments were: a bare time)."""
    import json

    from mmengine.config import Config

    from wsvol.engine.pipeline import reproducibility

    now = {"threads": 8, "device": "cpu", "libraries": {"torch": "2.14.1", "timm": "1.0"}}
    marker = {"created": "2026-12-01 08:00:00",
              "environment": {"threads": 2, "device": "cpu", "libraries": {"torch": "2.13.0", "timm": "1.0"}},
              "resumed": ["2026-12-02 08:00:00", {"at": "2026-12-03 08:00:00", "environment": now}]}
    (tmp_path / "wsvol-run.json").write_text(json.dumps(marker))
    rep = reproducibility(tmp_path, Config({}), None, now)
    assert rep["segments"] == [
        {"at": "2026-12-01 08:00:00", "resumed": False,
         "differences": ["libraries.torch: '2.13.0' → '2.14.1'", "threads: 2 → 8"]},
        {"at": "2026-12-02 08:00:00", "resumed": True, "differences": None},
        {"at": "2026-12-03 08:00:00", "resumed": True, "differences": []},
    ]


def test_a_test_of_another_runs_checkpoint_records_where_that_run_ran(tmp_path):
    """`wsvol test --checkpoint`: the run that trained the checkpoint (its folder, or the one above
    a baseline's stage folder) is recorded once, with its parts; the test's own run and loose
    checkpoints add nothing."""
    import json

    from mmengine.config import Config

    from wsvol.engine.pipeline import reproducibility

    now = {"threads": 2, "device": "cpu"}
    train, test = tmp_path / "train", tmp_path / "test"
    (train / "baseline").mkdir(parents=True)
    test.mkdir()
    (train / "wsvol-run.json").write_text(json.dumps({"created": "2026-12-01 08:00:00",
                                                      "environment": {"threads": 2, "device": "NVIDIA H100"}}))
    (test / "wsvol-run.json").write_text(json.dumps({"created": "2026-12-02 08:00:00", "environment": now}))
    (test / "baseline").mkdir()  # this run's own baseline stage, a run of its own
    (test / "baseline" / "wsvol-run.json").write_text(json.dumps({"created": "2026-12-02 08:00:00"}))
    checkpoints = {"a": str(train / "epoch_1.pth"), "b": str(train / "baseline" / "best.pth"), "c": None,
                   "d": str(test / "epoch_1.pth"), "e": str(tmp_path / "loose.pth"),
                   "f": str(test / "baseline" / "best.pth")}
    rep = reproducibility(test, Config({}), checkpoints, now)
    assert rep["checkpoint_runs"] == {str(train): [{"at": "2026-12-01 08:00:00", "resumed": False,
                                                    "differences": ["device: 'NVIDIA H100' → 'cpu'"]}]}
    assert rep["segments"] == [{"at": "2026-12-02 08:00:00", "resumed": False, "differences": []}]


@pytest.mark.slow
def test_run_then_test_with_two_cams_record_what_their_numbers_depend_on(tmp_path):
    """A tiny ``wsvol run`` and ``wsvol test --cams cam layercam`` of its checkpoint: every method's
    test metrics by name, the report's reproducibility block and centred-box baseline."""
    import hashlib

    from tiny_configs import tiny_config

    from wsvol.data.synthetic import generate_synthetic

    generate_synthetic(tmp_path / "data", size="tiny", progress=False)
    cfg = tiny_config(tmp_path, tmp_path / "data", "randomness: {seed: 3, deterministic: true}\n")
    out = wsvol("run", str(cfg), "--work-dir", "a", cwd=tmp_path)
    run = json.loads((tmp_path / "a" / "report" / "report.json").read_text())
    rep = run["meta"]["reproducibility"]
    assert (rep["training_seed"], rep["deterministic"], rep["config"]) == (3, True, str(cfg))
    assert rep["config_sha256"] == hashlib.sha256((tmp_path / "a" / "config.yaml").read_bytes()).hexdigest()
    assert rep["checkpoints"] == {"resnet10t (gradcam)": "a/epoch_1.pth"}  # no validation: the last epoch's
    assert "wsvol_commit" in run["meta"]["environment"] and "cudnn" in run["meta"]["environment"]
    (part,) = rep["segments"]  # started and reported in one process: nothing differs
    assert (part["resumed"], part["differences"]) == (False, [])
    (box,) = run["baselines"]
    assert json.loads((tmp_path / "a" / "report" / "baselines.json").read_text()) == \
           {"centred_box_corloc": box["corloc"], "side": box["side"], "frames": box["frames"]}
    assert f"CorLoc {box['corloc']:.1f} %" in out.stdout
    html = (tmp_path / "a" / "report" / "report.html").read_text()
    assert "<h2>Reproducibility</h2>" in html and "id='baselines'" in html

    wsvol("test", str(cfg), "--checkpoint", "a/epoch_1.pth", "--cams", "cam", "layercam", "--work-dir", "b",
          cwd=tmp_path)
    metrics = json.loads((tmp_path / "b" / "test_metrics.json").read_text())
    summary = {r["method"]: r for r in json.loads((tmp_path / "b" / "report" / "report.json").read_text())["summary"]}
    assert list(metrics) == list(summary) == ["resnet10t (cam)", "resnet10t (layercam)"]
    for method, row in summary.items():  # each method's own numbers
        assert metrics[method]["corloc"] == pytest.approx(row["corloc"])
        assert metrics[method]["cl"] == pytest.approx(row["cl"])
    rep = json.loads((tmp_path / "b" / "report" / "report.json").read_text())["meta"]["reproducibility"]
    assert rep["checkpoints"] == {"resnet10t (cam)": "a/epoch_1.pth", "resnet10t (layercam)": "a/epoch_1.pth"}
    # the run that trained them, once, in this same environment
    assert {run: [(p["resumed"], p["differences"]) for p in parts] for run, parts in rep["checkpoint_runs"].items()} \
           == {"a": [(False, [])]}
