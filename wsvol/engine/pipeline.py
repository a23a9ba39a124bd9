"""``wsvol run``: the whole job, top-down — data → model → train → test → report.

Each stage is skipped when its output already exists in the work dir (``--resume``), so an
interrupted run picks up where it stopped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wsvol.utils.files import atomic_write_text


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
            missing.append(f"{name}: frames folder {ds['data_root']}/ (data_root)")
        ids = Path(ds["folds_root"]) / ds["split"] / "image_ids.txt"
        if not ids.is_file():
            missing.append(f"{name}: fold files in {ids.parent}/ (image_ids.txt, class_labels.txt, image_sizes.txt"
                           + (", localization.txt)" if ds["split"] != "train" else ")"))
    if missing:
        raise DataError(f"{cfg.filename}: dataset files are missing (docs/data.md says what goes where "
                        "and where to get it):", sorted(set(missing)))


def run_pipeline(args: argparse.Namespace) -> int:
    """Run every stage of a config in one work dir; return the exit status."""
    from wsvol.cli.commands import load_checked_config, set_threads
    from wsvol.engine.checkpoint import latest_checkpoint
    from wsvol.engine.runner import build_runner, prepare_work_dir

    cfg = load_checked_config(args)  # 0. everything checked before any work
    ensure_data(cfg)  # 1. data
    set_threads()
    work = prepare_work_dir(cfg, args.config, args.work_dir, args.resume)
    runner = build_runner(cfg)  # 2. model, losses, metrics — built from the registries
    max_epochs = cfg.train_cfg.get("max_epochs")
    last = latest_checkpoint(work)
    if not (last and last.name == f"epoch_{max_epochs}.pth"):
        runner.train()  # 3. train (resumes from the latest checkpoint with --resume)
    best = sorted(work.glob("best_*.pth"))
    if best:
        runner.load_checkpoint(str(best[-1]))
    metrics = runner.test()  # 4. test
    atomic_write_text(work / "test_metrics.json", json.dumps(metrics, indent=2, default=float))
    write_run_report(runner, work, cfg)  # 5. report
    print(f"results: {work}")
    return 0


def write_run_report(runner, work: Path, cfg) -> None:
    """Print the test metrics as a table (the metrics JSON sits next to the checkpoints)."""
    from rich.console import Console
    from rich.table import Table

    metric = runner.test_evaluator.metrics[0]
    res, pred = metric.last_result, metric.last_predictions
    per_class, taus = res.per_class()
    cam = cfg.model.get("cam", {}).get("type") if isinstance(cfg.model.get("cam"), dict) else None
    table = Table(title=f"{cfg.model.type} ({cam or 'model'}) on {len(res)} test frames: CorLoc (MaxBoxAcc v1) and CL, %")
    for col in ("class", "frames", "CorLoc", "best τ", "CL"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for c, name in enumerate(pred["classes"]):
        sel = res.labels == c
        if sel.any():
            cl = (pred["pred"][sel] == c).mean() * 100
            table.add_row(str(name), str(int(sel.sum())), f"{per_class[c]:.1f}", f"{taus[c]:.3f}", f"{cl:.1f}")
    cl_all = (pred["pred"] == res.labels).mean() * 100
    table.add_row("mean of classes", str(len(res)), f"{res.corloc_mean:.1f}", "", "", end_section=True)
    table.add_row("all frames (one τ)", str(len(res)), f"{res.corloc:.1f}", f"{res.best_tau:.3f}", f"{cl_all:.1f}")
    Console().print(table)
