"""``wsvol run`` / ``test`` / ``visualize``: the whole job, top-down.

data → model → train → test → report. Each stage is skipped when its output already exists in
the work dir (``--resume``), so an interrupted run picks up where it stopped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wsvol.utils.files import atomic_write_text


# -- 1. data ---------------------------------------------------------------------------------
def preflight(cfg) -> None:
    """Before any work: generate synthetic data if needed, resolve named weights, and stop with
    one message listing every missing dataset file and weight file."""
    from wsvol.data.folds import DataError
    from wsvol.pseudo_labels.weights import WeightsError, check_weights

    problems = []
    try:
        ensure_data(cfg)
    except DataError as exc:
        problems.append(str(exc))
    try:
        check_weights(cfg)  # named weights → files (in place)
    except WeightsError as exc:
        problems.append(str(exc))
    if problems:
        raise DataError("\n".join(problems))


def ensure_data(cfg) -> None:
    """Generate the synthetic dataset a config names if needed; fail at once if other data is missing."""
    synth = cfg.get("synthetic")
    if synth and not (Path(synth["out"]) / "folds" / "synthetic.json").is_file():
        from wsvol.data.synthetic import generate_synthetic

        generate_synthetic(synth["out"], seed=synth.get("seed", 0), size=synth.get("size", "small"), progress=True)
    from wsvol.cli.commands import dataset_configs
    from wsvol.data.folds import DataError

    missing = []
    for name, ds in dataset_configs(cfg).items():
        if not Path(ds["data_root"]).is_dir():
            missing.append(f"frames folder {ds['data_root']}/ (data_root)")
        ids = Path(ds["folds_root"]) / ds["split"] / "image_ids.txt"
        if not ids.is_file():
            missing.append(f"{name}: fold files in {ids.parent}/ (image_ids.txt, class_labels.txt, image_sizes.txt"
                           + (", localization.txt)" if ds["split"] != "train" else ")"))
    if missing:
        raise DataError(f"{cfg.filename}: dataset files are missing (docs/data.md says what goes where "
                        "and where to get it):", sorted(set(missing)))


# -- the job -----------------------------------------------------------------------------------
def run_pipeline(args: argparse.Namespace) -> int:
    """Run every stage of a config in one work dir; return the exit status."""
    from wsvol.cli.commands import load_checked_config, set_threads
    from wsvol.engine.checkpoint import latest_checkpoint
    from wsvol.engine.runner import build_runner, prepare_work_dir

    cfg = load_checked_config(args)  # 0. everything checked before any work
    preflight(cfg)  # 1. data and weights
    set_threads()
    work = prepare_work_dir(cfg, args.config, args.work_dir, args.resume)
    runner = build_runner(cfg)  # 2. model, losses, metrics — built from the registries
    last = latest_checkpoint(work)
    if not (last and last.name == f"epoch_{cfg.train_cfg.get('max_epochs')}.pth"):
        runner.train()  # 3. train (continues from the latest checkpoint with --resume)
    best = sorted(work.glob("best_*.pth"))
    if best:  # the checkpoint chosen on validation, as in the papers
        runner.load_checkpoint(str(best[-1]))
    results = {method_label(cfg): test(runner)}  # 4. test
    report(work, results, cfg)  # 5. report
    return 0


def test_checkpoint(args: argparse.Namespace, overlays_only: bool = False) -> int:
    """``wsvol test``: evaluate a checkpoint, with one or several CAM methods, and report."""
    from wsvol.cli.commands import load_checked_config, set_threads
    from wsvol.engine.runner import build_runner, prepare_work_dir

    cfg = load_checked_config(args)
    preflight(cfg)
    set_threads()
    work = prepare_work_dir(cfg, args.config, args.work_dir, None)
    cfg.load_from = args.checkpoint
    runner = build_runner(cfg)
    methods = _cam_methods(getattr(args, "cams", None))
    results = {}
    for method in methods or [None]:
        if method:
            _model(runner).set_cam({"type": method})
        results[method_label(cfg, method)] = test(runner)
    report(work, results, cfg, overlays_only=overlays_only)
    return 0


def _cam_methods(names: list[str] | None) -> list[str]:
    if not names:
        return []
    from wsvol.registry import CAM_METHODS

    known = list(CAM_METHODS.entries())
    chosen = known if names == ["all"] else names
    for name in chosen:
        CAM_METHODS.lookup(name)  # unknown → the registered names
    return chosen


def _model(runner):
    from mmengine.model import is_model_wrapper

    return runner.model.module if is_model_wrapper(runner.model) else runner.model


def method_label(cfg, cam: str | None = None) -> str:
    """``resnet50_cam (layercam)``: the model type and, for classifiers, the CAM method."""
    cam_cfg = cfg.model.get("cam")
    cam = cam or (cam_cfg.get("type") if isinstance(cam_cfg, dict) else None)
    return f"{cfg.model.type} ({cam})" if cam else str(cfg.model.type)


# -- 4. test ---------------------------------------------------------------------------------
def test(runner):
    """Run the test loop; return the ``corloc`` metric's per-frame result."""
    metrics = runner.test()
    metric = next(m for m in runner.test_evaluator.metrics if hasattr(m, "last_result"))
    atomic_write_text(Path(runner.work_dir) / "test_metrics.json", json.dumps(metrics, indent=2, default=float))
    return metric.last_result


# -- 5. report -------------------------------------------------------------------------------
def report(work: Path, results: dict, cfg, overlays_only: bool = False) -> Path:
    """HTML/CSV/JSON report, overlays and terminal tables, with the centred-box baseline."""
    from rich.console import Console

    from wsvol.evaluation.baselines import centred_box_corloc
    from wsvol.evaluation.report import print_report, write_report
    from wsvol.visualization.frames import frame_loader, save_overlays

    opts = dict(cfg.get("report") or {})
    n_overlays = opts.pop("overlays", 16)
    data_root = cfg.test_dataloader.dataset.data_root
    loader = frame_loader(data_root)
    for name, res in results.items():
        save_overlays(work / "overlays" / _slug(name), res, loader, n_overlays)
    if overlays_only:
        print(f"overlays: {work / 'overlays'}")
        return work / "overlays"
    data = write_report(work / "report", results, image_loader=loader, **opts)
    console = Console()
    print_report(data, console)
    first = next(iter(results.values()))
    corloc, side = centred_box_corloc(first.localization)
    baseline = {"centred_box_corloc": corloc, "side": side, "frames": len(first.localization)}
    atomic_write_text(work / "report" / "baselines.json", json.dumps(baseline, indent=2))
    console.print(f"centred-box baseline (best side {side:.2f} of the frame, chosen on these frames): "
                  f"CorLoc {corloc:.1f} %")
    console.print(f"report: {work / 'report' / 'report.html'}")
    return work / "report"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")
