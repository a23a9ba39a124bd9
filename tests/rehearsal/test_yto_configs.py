"""Rehearsal: every YouTube-Objects config (``configs/**/*ytov*.yaml``, found by glob) runs
``wsvol data check`` and ``wsvol run`` through every stage — data check → pseudo-labels (CLIP-ES or
CLIPSeg, at the source's own input size) → train → test → report — on real fold lines (v1.0: the
published folds; v2.2: folds that ``wsvol data prepare`` made from a stand-in release) with
stand-in frames, and the published weight files' layouts in WSVOL_WEIGHTS (random weights).

Only the amount of work is shrunk (``--cfg-options``: one epoch, small batches, no loader
workers, a short bootstrap); models, input sizes, pseudo-label sources, losses and metrics are the
configs' own. The configs run from the workspace folder, so their own ``data_root`` and
``folds_root`` are used. Configs of one dataset share the workspace, hence the pseudo-label cache
of their ``cache_dir`` where their sources are the same (it is keyed by source and weights).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rehearsal_runs import PER_CLASS, wsvol

from wsvol.config import load_config
from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.data.folds import read_split
from wsvol.engine.job import dataset_configs

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*ytov*.yaml") if "_base_" not in p.parts)

def name_of(path: Path) -> str:
    return path.relative_to(ROOT / "configs").as_posix()


def shrink(cfg) -> list[str]:
    """``--cfg-options`` that shrink the work of ``cfg`` and nothing else (only keys it has)."""
    out = ["train_cfg.max_epochs=1", "train_cfg.val_interval=1", "report.n_boot=50", "report.overlays=2"]
    for split, batch in (("train", 4), ("val", 8), ("test", 8)):
        loader = cfg.get(f"{split}_dataloader")
        if loader:
            out += [f"{split}_dataloader.batch_size={batch}", f"{split}_dataloader.num_workers=0"]
            if "persistent_workers" in loader:
                out.append(f"{split}_dataloader.persistent_workers=false")
    if (cfg.get("default_hooks") or {}).get("checkpoint"):
        out.append("default_hooks.checkpoint.interval=1")
    if cfg.get("pseudo_labels"):
        out += ["pseudo_labels.num_workers=0", "pseudo_labels.batch_size=8"]
    return out


def test_every_youtube_objects_config_is_rehearsed():
    """The glob finds the shipped YTO configs (a typo in it would quietly rehearse nothing)."""
    names = {name_of(p) for p in CONFIGS}
    assert {"trcamv_ytov1.yaml", "trcamv_ytov22.yaml", "trcamv_ytov1_deit.yaml", "trcamv_ytov22_deit.yaml",
            "trcamv_ytov1_clipseg.yaml", "trcamv_ytov22_clipseg.yaml", "ablation/trcamv_ytov1_pce.yaml",
            "cam/layercam_ytov1.yaml", "cam/xgradcam_ytov22.yaml"} <= names
    assert len([n for n in names if n.startswith("ablation/")]) == 4
    assert len([n for n in names if n.startswith("cam/")]) == 12


@pytest.mark.rehearsal
@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=name_of)
def test_config_runs_every_stage(config, request, official_weights):
    cfg = load_config(config)
    source = (cfg.get("pseudo_labels") or {}).get("source") or {}
    if source.get("type") == "clipseg":
        from wsvol.registry import PSEUDO_LABEL_SOURCES

        if "clipseg" not in PSEUDO_LABEL_SOURCES.entries():
            pytest.skip("needs the wsvol-clipseg plugin and transformers (`tox -e rehearsal` installs both)")
    version = "ytov22" if "ytov22" in config.stem else "ytov1"
    work_space = request.getfixturevalue(f"{version}_workspace")
    env = {"WSVOL_WEIGHTS": str(official_weights)}

    # 1. data check: every split the config reads passes, and the stand-ins are named as such
    checked = wsvol("data", "check", config, cwd=work_space, env=env)
    assert "holds stand-in frames" in checked.stdout
    assert all(f"split '{s}'" in checked.stdout for s in ("train", "val", "test")), checked.stdout

    # 2.-5. pseudo-labels → train → test → report, in a work dir of its own
    work = work_space / "work_dirs" / "rehearsal" / config.stem
    run = wsvol("run", config, "--work-dir", work, "--cfg-options", *shrink(cfg), cwd=work_space, env=env)
    assert "centred-box baseline" in run.stdout

    splits = {name: read_split(work_space / ds["folds_root"], ds["split"], data_root=work_space / ds["data_root"])
              for name, ds in dataset_configs(cfg).items()}
    for name, split in splits.items():  # the subset: PER_CLASS entries of every class
        assert len(split.entries) == PER_CLASS * len(YOUTUBE_OBJECTS_CLASSES), name
    if source:  # the cache covers every frame the run read, with the config's own source and weights
        from wsvol.data.pseudo_label_cache import PseudoLabelCache

        cache_dir = work_space / cfg.pseudo_labels.cache_dir
        for name in cfg.pseudo_labels.get("splits", ["train", "val", "test"]):
            cache = PseudoLabelCache.open(cache_dir / name)
            assert cache.complete
            assert cache.frame_ids == [f.frame_id for f in splits[name].frames]
            assert cache.index["describe"]["source"]["type"] == source["type"]
            weights = cache.index["describe"]["source"]["pretrained"]
            assert weights.startswith("sha256:"), weights  # a file was read: the official-layout one
        assert (cache_dir / "eval.json").is_file()

    assert list(work.glob("best_*.pth")) or (work / "epoch_1.pth").is_file()
    metrics = json.loads((work / "test_metrics.json").read_text())
    assert metrics, "no test metrics"
    report = json.loads((work / "report" / "report.json").read_text())
    methods = [row["method"] for row in report["summary"]]
    for method in methods:  # the report names the real classes, each judged on its test frames
        rows = [row for row in report["per_class"] if row["method"] == method]
        assert [row["class"] for row in rows] == list(YOUTUBE_OBJECTS_CLASSES), method
        assert all(row["frames"] == PER_CLASS for row in rows), method
    assert methods[-1] == str(cfg.model.type) or cfg.model.type in methods[-1], methods
    if source:
        assert methods[0] == "pseudo-labels"
    assert {row["frames"] for row in report["summary"]} == {len(splits["test"].frames)}
    assert (work / "report" / "report.html").is_file()
