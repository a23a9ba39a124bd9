"""Rehearsal: every YouTube-Objects config (``configs/**/*ytov*.yaml``, found by glob) runs
``wsvol data check`` and ``wsvol run`` through every stage — data check → pseudo-labels (CLIP-ES or
CLIPSeg, at the source's own input size) → train → test → report — on real fold lines (v1.0: the
published folds; v2.2: folds that ``wsvol data prepare`` made from a stand-in release) with
stand-in frames, and the published weight files' layouts in WSVOL_WEIGHTS (random weights).

Only the amount of work is shrunk (``--cfg-options``: one epoch, small batches, no loader
workers, a short bootstrap, and the ResNet configs' frames at 64² instead of 224²); models,
weights, pseudo-label sources at their own input size, losses and metrics are the configs' own.
The configs run from the workspace folder, so their own ``data_root`` and ``folds_root`` are
used. Configs of one dataset share the workspace, hence the pseudo-label cache of their
``cache_dir`` where their sources are the same (it is keyed by source and weights).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from config_options import options_as_config
from rehearsal_runs import AT_MOST, wsvol

from wsvol.config import load_config
from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.data.folds import read_split
from wsvol.engine.job import dataset_configs
from wsvol.engine.pipeline import method_label

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*ytov*.yaml") if "_base_" not in p.parts)


def name_of(path: Path) -> str:
    return path.relative_to(ROOT / "configs").as_posix()


#: Side of the ResNet configs' frames (CAM baselines, TCAM and its stage A) for the configs' 224:
#: their ResNet-50 at output stride 8 is fully convolutional, and at 224 it was most of the
#: rehearsal's time (the ViTs and the pseudo-label sources keep their input sizes).
RESNET_SIDE = 64


def smaller_frames(cfg) -> list[str]:
    """``--cfg-options`` scaling the sizes in a ResNet config's pipelines by RESNET_SIDE / 224."""
    if (cfg.get("model") or {}).get("type") not in ("resnet50_cam", "tcam"):
        return []

    def scaled(size):  # an int or [h, w]
        return [scaled(s) for s in size] if isinstance(size, list) else round(size * RESNET_SIDE / 224)

    out = []
    for split in ("train", "val", "test"):
        pipeline = ((cfg.get(f"{split}_dataloader") or {}).get("dataset") or {}).get("pipeline")
        if pipeline:
            steps = [{**step, "size": scaled(step["size"])} if "size" in step else dict(step) for step in pipeline]
            out.append(f"{split}_dataloader.dataset.pipeline={json.dumps(steps)}")
    return out


def shrink(cfg) -> list[str]:
    """``--cfg-options`` that shrink the work of ``cfg`` and nothing else (only keys it has)."""
    out = ["train_cfg.max_epochs=1", "train_cfg.val_interval=1", "report.n_boot=50", "report.overlays=2",
           *smaller_frames(cfg)]
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
    assert {"tcam_ytov1.yaml", "tcam_ytov22.yaml"} <= names
    assert len([n for n in names if n.startswith("ablation/") and "ytov" in n]) == 4
    assert len([n for n in names if n.startswith("cam/")]) >= 12


def version_of(path: Path) -> str:
    return "ytov22" if "ytov22" in path.stem else "ytov1"


def run_order(paths: list[Path]) -> list[Path]:
    """The configs taking turns by dataset and kind (with or without pseudo-labels): under
    pytest-xdist the first tests of the workers then make different caches and weights files
    (a worker that needs one another is making waits for it: they are shared, under a lock)."""
    kinds: dict[tuple, list[Path]] = {}
    for p in paths:
        kinds.setdefault((version_of(p), not load_config(p).get("pseudo_labels")), []).append(p)
    turns = [kinds[k] for k in sorted(kinds)]
    return [t[i] for i in range(max(map(len, turns))) for t in turns if i < len(t)]


def weights_names(node) -> set[str]:
    """The weights names a config's sections give in a weights argument (``pretrained``, ...)."""
    from wsvol.weights import WEIGHT_KEYS, WEIGHTS

    if isinstance(node, dict):
        return {v for k, v in node.items() if k in WEIGHT_KEYS and isinstance(v, str) and v in WEIGHTS} | {
            n for v in node.values() for n in weights_names(v)}
    if isinstance(node, (list, tuple)):
        return {n for v in node for n in weights_names(v)}
    return set()


@pytest.mark.rehearsal
@pytest.mark.slow
@pytest.mark.parametrize("config", run_order(CONFIGS), ids=name_of)
def test_config_runs_every_stage(config, request, monkeypatch, capsys):
    from wsvol.cli.main import main

    cfg = load_config(config)
    source = (cfg.get("pseudo_labels") or {}).get("source") or {}
    if source.get("type") == "clipseg":
        from wsvol.registry import PSEUDO_LABEL_SOURCES

        if "clipseg" not in PSEUDO_LABEL_SOURCES.entries():
            pytest.skip("needs the wsvol-clipseg plugin and transformers (`tox -e rehearsal` installs both)")
    work_space, weights = request.getfixturevalue(f"{version_of(config)}_workspace")
    baseline = load_config(config.parent / cfg.baseline["config"]) if cfg.get("baseline") else None
    for name in weights_names(cfg.to_dict()) | (weights_names(baseline.to_dict()) if baseline else set()):
        weights.provide(name)
    env = {"WSVOL_WEIGHTS": str(weights.folder)}

    # 1. data check (in this process: it only reads): every split passes, the stand-ins are named
    monkeypatch.chdir(work_space)
    assert main(["data", "check", str(config)]) == 0, capsys.readouterr()
    checked = capsys.readouterr().out
    assert "holds stand-in frames" in checked
    assert all(f"split '{s}'" in checked for s in ("train", "val", "test")), checked

    # 2.-5. pseudo-labels → train → test → report, in a work dir of its own
    work = work_space / "work_dirs" / "rehearsal" / config.stem
    options = shrink(cfg)
    if baseline is not None:  # the baseline stage (TCAM's stage A) is shrunk alike, through a config of its own
        shrunk = work_space / "work_dirs" / "rehearsal" / f"{config.stem}_baseline.yaml"
        shrunk.parent.mkdir(parents=True, exist_ok=True)
        shrunk.write_text(options_as_config(shrink(baseline), base=str(config.parent / cfg.baseline["config"])))
        options.append(f"baseline.config={shrunk}")
    run = wsvol("run", config, "--work-dir", work, "--cfg-options", *options, cwd=work_space, env=env)
    assert "centred-box baseline" in run.stdout

    splits = {name: read_split(work_space / ds["folds_root"], ds["split"], data_root=work_space / ds["data_root"])
              for name, ds in dataset_configs(cfg).items()}
    for name, split in splits.items():  # the subset: one entry per class, at most AT_MOST of them
        assert len(split.entries) == AT_MOST.get(name, len(YOUTUBE_OBJECTS_CLASSES)), name
    if source:  # the cache covers every frame the run read, with the config's own source and weights
        from wsvol.data.pseudo_label_cache import PseudoLabelCache

        cache_dir = work_space / cfg.pseudo_labels.cache_dir.replace("{work_dir}", str(work))
        for name in cfg.pseudo_labels.get("splits", ["train", "val", "test"]):
            cache = PseudoLabelCache.open(cache_dir / name)
            assert cache.complete
            assert cache.frame_ids == [f.frame_id for f in splits[name].frames]
            assert cache.index["describe"]["source"]["type"] == source["type"]
            described = cache.index["describe"]["source"]
            weights = described.get("pretrained") or described["checkpoint"]  # CLIP's, or the baseline's
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
        assert all(row["frames"] == 1 for row in rows), method
    assert methods[-1] == method_label(cfg), methods  # the config's model (and CAM method), last
    if source:
        assert methods[0] == "pseudo-labels"
    assert {row["frames"] for row in report["summary"]} == {len(splits["test"].frames)}
    assert (work / "report" / "report.html").is_file()
