"""Every config the project ships passes the checker (types, keys, values)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsvol.config import check_config, load_config

CONFIGS = sorted(p for p in (Path(__file__).parents[2] / "configs").rglob("*.yaml") if "_base_" not in p.parts)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_shipped_config_is_valid(path):
    from wsvol.registry import PSEUDO_LABEL_SOURCES

    if "clipseg" in path.name and "clipseg" not in PSEUDO_LABEL_SOURCES.entries():
        pytest.skip("needs the wsvol-clipseg plugin (pip install plugins/wsvol-clipseg; tox -e clipseg)")
    check_config(load_config(path))


DATA_DOC = (Path(__file__).parents[2] / "docs" / "data.md").read_text()


@pytest.mark.parametrize("path", [p for p in CONFIGS if "yto" in p.stem],
                         ids=lambda p: str(p.relative_to(p.parents[1])))
def test_youtube_objects_configs_read_the_folders_the_docs_create(path):
    """Each YTO config's data_root and folds_root are the folders docs/data.md's steps make."""
    from wsvol.engine.job import dataset_configs

    version = "v2.2" if "ytov22" in path.stem else "v1.0"
    datasets = dataset_configs(load_config(path))
    assert set(datasets) == {"train", "val", "test"}
    for ds in datasets.values():
        assert (ds["data_root"], ds["folds_root"]) == (f"data/YouTube-Objects-{version}",
                                                       f"folds/YouTube-Objects-{version}")
    steps = {"v1.0": ["mkdir -p data/YouTube-Objects-v1.0",
                      "wsvol data prepare ytov1 data/YouTube-Objects-v1.0 folds/YouTube-Objects-v1.0",
                      "`unzip wsol-done-right-splits.zip -d folds` gives `folds/YouTube-Objects-v1.0/`"],
             "v2.2": ["mkdir -p data/YouTube-Objects-v2.2-original",
                      "wsvol data prepare ytov22 data/YouTube-Objects-v2.2-original folds/YouTube-Objects-v2.2 \\\n"
                      "       --data-root data/YouTube-Objects-v2.2"]}[version]
    for step in steps:
        assert step in DATA_DOC, step


@pytest.mark.parametrize("name", ["tcam_ytov1", "tcam_ytov22"])
def test_tcam_youtube_objects_configs_are_the_reference_run(name):
    """TCAM's YTO configs hold the reference code's schedule (tcam.md §6) and wire stage A's checkpoints."""
    cfg = load_config(Path(__file__).parents[2] / "configs" / f"{name}.yaml")
    check_config(cfg)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay, opt.nesterov) == ("SGD", 0.01, 0.9, 1.0e-4, True)
    [step] = cfg.param_scheduler
    assert (step.type, step.step_size, step.gamma, step.by_epoch) == ("StepLR", 15, 0.9, True)
    assert cfg.train_cfg.max_epochs == 100 and cfg.train_dataloader.batch_size == 32
    assert dict(cfg.train_dataloader.sampler) == {"type": "shot_sampler", "frames_per_shot": 1}
    assert [t["type"] for t in cfg.train_dataloader.dataset.pipeline][:3] == ["resize", "random_crop", "random_flip"]
    assert dict(cfg.train_dataloader.dataset.pseudo_label_transform) == {"type": "temporal_max", "n": 1, "mode": "before"}
    assert Path(cfg.baseline.config) == Path(__file__).parents[2] / "configs" / "cam" / f"cam_{name.split('_')[1]}.yaml"
    assert cfg.model.backbone.pretrained == cfg.model.cls_head_checkpoint == "{baseline_best_cl}"
    assert cfg.pseudo_labels.source.checkpoint == "{baseline_checkpoint}" and cfg.pseudo_labels.size == [28, 28]


@pytest.mark.parametrize("name", ["cam_ytov1", "cam_ytov22"])
def test_cam_youtube_objects_configs_are_tcams_stage_a(name):
    """Stage A's schedule as the reference runs it (tcam.md §6): lr 1e-3 with layer4 and the head at
    ×10, lr·0.9^⌊epoch/15⌋, validated after every epoch, both bests kept on pooled CorLoc and CL.
    The learning rates come from mmengine's own optimizer constructor and scheduler."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS

    from wsvol.models.classifiers import ResNetCAM

    cfg = load_config(Path(__file__).parents[2] / "configs" / "cam" / f"{name}.yaml")
    check_config(cfg)
    assert cfg.train_cfg.max_epochs == 100 and cfg.train_cfg.val_interval == 1
    assert list(cfg.default_hooks.checkpoint.save_best) == ["corloc", "cl"]
    model = ResNetCAM("resnet18", num_classes=10)  # the same parameter names as ResNet-50's
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper.to_dict())
    [step] = cfg.param_scheduler
    scheduler = PARAM_SCHEDULERS.build({**step.to_dict(), "optimizer": wrapper})
    fast = {id(p) for n, p in model.named_parameters() if n.startswith(("backbone.layer4.", "head."))}
    assert fast and len(fast) < len(list(model.parameters()))
    for epoch in range(100):
        for group in wrapper.optimizer.param_groups:
            base = 0.01 if id(group["params"][0]) in fast else 0.001
            assert group["lr"] == pytest.approx(base * 0.9 ** (epoch // 15)), (epoch, group["lr"])
        wrapper.optimizer.step()  # no gradients: a no-op, in the order torch expects
        scheduler.step()


@pytest.mark.parametrize("path", [p for p in CONFIGS if "yto" in p.stem or "synthetic" in p.stem],
                         ids=lambda p: str(p.relative_to(p.parents[1])))
def test_checkpoints_are_selected_as_the_reference_code_selects_them(path):
    """TCAM's and TrCAM's code keep the best checkpoint on CorLoc pooled over every validation frame,
    sweeping τ in steps of 0.004 there (VALID_FAST_CAM_CURVE_INTERVAL, YouTube-Objects), 0.001 on test."""
    from wsvol.evaluation.maps import thresholds

    cfg = load_config(path)
    save_best = cfg.default_hooks.checkpoint.save_best
    assert (save_best if isinstance(save_best, str) else save_best[0]) == "corloc"
    assert len(thresholds(cfg.val_evaluator.get("tau_step", 0.001))) == 250
    assert len(thresholds(cfg.test_evaluator.get("tau_step", 0.001))) == 1000


# -- every shipped config is run end to end by some test ----------------------------------------
ROOT = Path(__file__).parents[2]
#: Shipped configs (patterns under configs/, first match wins) → the test that runs them through
#: `wsvol run` / `train`: a test module whose CONFIGS list holds the config, a test file that names
#: it, or a docs page whose runnable bash blocks run it (tests/docs/test_shell_blocks.py runs those).
#: A new config fails the test below until a runner covers it and is named here.
RUNNERS = {
    "trcamv_synthetic.yaml": "tests/engine/test_pipeline.py",
    "tcam_synthetic.yaml": "tests/engine/test_pipeline.py",
    "ablation/tcam_synthetic_n0.yaml": "tests/engine/test_pipeline.py",
    "cam/layercam_own_videos.yaml": "docs/quickstart.md",
    "cam/*_synthetic.yaml": "tests/cams/test_synthetic_cam_configs.py",
    "*ytov*.yaml": "tests/rehearsal/test_yto_configs.py",
}


def _runs(runner: str, config: Path) -> bool:
    """Whether ``runner`` runs ``config`` (see RUNNERS)."""
    import importlib.util
    import re
    import sys

    name, path = config.relative_to(ROOT / "configs").as_posix(), ROOT / runner
    if path.suffix == ".md":
        sys.path.insert(0, str(ROOT / "tests" / "docs"))
        from shell_blocks import blocks

        command = re.compile(rf"wsvol (run|train) configs/{re.escape(name)}(\s|$)")
        return any(b.skip is None and command.search(b.code) for b in blocks(path))
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"runner_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if isinstance(getattr(module, "CONFIGS", None), list):  # the configs it is parametrized with
        return config in module.CONFIGS
    return name in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_every_config_is_run_by_a_test(path):
    from fnmatch import fnmatch

    name = path.relative_to(ROOT / "configs").as_posix()
    runner = next((r for pattern, r in RUNNERS.items() if fnmatch(name, pattern)), None)
    assert runner, f"configs/{name} is run by no test: add a test that runs it and name it in RUNNERS"
    assert _runs(runner, path), f"configs/{name}: {runner} (RUNNERS) does not run it"
