"""``wsvol run`` / ``test`` / ``visualize``: the whole job, top-down.

data → model → train → test → report. Each stage is skipped when its output already exists in
the work dir (``--resume``), so an interrupted run picks up where it stopped.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
from pathlib import Path

from wsvol.config.placeholders import (
    best_placeholder,
    fill_placeholders,
    find_placeholders,
    require_filled,
    saved_best_metrics,
)
from wsvol.utils.files import atomic_write_text


# -- the job -----------------------------------------------------------------------------------
def run_pipeline(args: argparse.Namespace) -> int:
    """Run every stage of a config in one work dir; return the exit status.

    data → [baseline classifier] → [pseudo-labels] → model → train → test → report
    """
    from mmengine.dist import is_main_process

    from wsvol.engine.job import setup_job

    job = setup_job(args, resume=args.resume, training=True)  # 0.–1. config checked, data and weights found
    cfg, work = job.cfg, job.work_dir
    results, tested = {}, {}  # by method: its per-frame result, the checkpoint tested
    with job.removed_on_failure():  # until the first runner starts or pseudo-labels are computed
        fill_placeholders(cfg, {"work_dir": str(work)})
        if cfg.get("baseline"):  # 2. the classifier whose CAMs become pseudo-labels
            checkpoints, label, results[label] = run_baseline(cfg, work, job, args)
            tested[label] = checkpoints["baseline_checkpoint"]
            fill_placeholders(cfg, checkpoints)  # {baseline_checkpoint}, {baseline_best_<metric>}
        require_filled(cfg, "wsvol run")
        if cfg.get("pseudo_labels"):  # 3. pseudo-labels, computed once and cached
            from wsvol.pseudo_labels.generate import generate_pseudo_labels

            job.keep()
            judged = generate_pseudo_labels(cfg)
            if "test" in judged:  # the reference of the report
                results = {"pseudo-labels": judged["test"], **results}
            attach_pseudo_labels(cfg, work)
        label = method_label(cfg)
        results[label], tested[label] = train_and_test(cfg, work, job)  # 4.–5. model, losses → train → test
    if is_main_process():  # the metrics gathered every rank's frames on rank 0
        report(work, results, cfg, checkpoints=tested)  # 6. report
    return 0


def train_and_test(cfg, work: Path, job=None) -> tuple:
    """Train (continuing from the latest checkpoint), load the best one on validation, test; return
    the test's per-frame result (None on ranks > 0) and the checkpoint tested.

    Training is skipped when the final epoch's checkpoint exists: it is written after the final
    validation, so the stage is complete (``WsvolRunner``)."""
    from wsvol.engine.checkpoint import best_checkpoints, latest_checkpoint
    from wsvol.engine.runner import build_runner, same_on_all_ranks

    runner = build_runner(cfg, on_start=job.keep if job is not None else None)
    last = latest_checkpoint(work)
    if not (last and last.name == f"epoch_{cfg.train_cfg.get('max_epochs')}.pth"):
        runner.train()
    # rank 0 looks once it has written its last checkpoint; the other ranks wait for its answer
    best = same_on_all_ranks([str(p) for p in best_checkpoints(work, cfg).values()])
    if best:  # the checkpoint chosen on validation (on the first save_best metric), as in the papers
        runner.load_checkpoint(best[0])
    last = None if best else latest_checkpoint(work)  # no best kept: the last epoch's weights are tested
    return test(runner), best[0] if best else (str(last) if last else None)


def run_baseline(cfg, work: Path, job, args: argparse.Namespace | None = None):
    """Train and test the ``baseline`` config in ``<work>/baseline`` (with the command's ``--seed``
    and ``--amp``, as the main config); the placeholders of its checkpoints (``baseline_checkpoint``:
    the one tested, the best on the first ``save_best`` metric, else the last epoch's;
    ``baseline_best_<metric>``: the best on each), its label and result."""
    from wsvol.config import check_config, load_config
    from wsvol.engine.checkpoint import best_checkpoints, latest_checkpoint
    from wsvol.engine.job import apply_flags, start_job

    path = Path(cfg.filename).parent / cfg.baseline["config"]
    base = apply_flags(load_config(path), args or argparse.Namespace())
    check_config(base)
    base.launcher = cfg.get("launcher", "none")  # trained by the same processes
    base_work = start_job(base, path, work_dir=work / "baseline", resume="auto", threads=job.threads,
                          training=True).work_dir
    result, _ = train_and_test(base, base_work, job)
    best = best_checkpoints(base_work, base)
    checkpoints = {best_placeholder(m): str(p) for m, p in best.items()}
    tested = next(iter(best.values()), None) or latest_checkpoint(base_work)
    if tested is None:
        raise FileNotFoundError(f"the baseline run {base_work} wrote no checkpoint")
    checkpoints["baseline_checkpoint"] = str(tested)
    wanted = {name for _, name in find_placeholders(cfg)}
    lost = [m for m in saved_best_metrics(base) if m not in best and best_placeholder(m) in wanted]
    if lost:  # e.g. a baseline that never validated: the placeholders name no file
        raise FileNotFoundError(
            f"the baseline run {base_work} has no best checkpoint on {lost} (no validation measured it: see its "
            f"train_cfg.val_interval), so {', '.join(f'{{{best_placeholder(m)}}}' for m in lost)} names no file")
    return checkpoints, f"baseline: {method_label(base)}", result


def attach_pseudo_labels(cfg, work: Path) -> None:
    """Point the training dataset at the (complete, current) pseudo-label cache of the config."""
    from wsvol.pseudo_labels.generate import open_pseudo_labels

    fill_placeholders(cfg.pseudo_labels, {"work_dir": str(work)})
    cfg.train_dataloader.dataset.pseudo_label_cache = str(open_pseudo_labels(cfg).root)


def stage_runner(job, train: bool = False):
    """The runner of one stage (``wsvol train`` / ``test``) of a job: training reads the config's
    pseudo-label cache; the job's work dir is kept once the runner starts (its checkpoint loaded)."""
    from wsvol.engine.runner import build_runner

    fill_placeholders(job.cfg, {"work_dir": str(job.work_dir)})
    # what the command reads: testing needs no pseudo-labels
    require_filled(job.cfg, "wsvol train" if train else "wsvol test", skip=() if train else ("pseudo_labels",))
    if train and job.cfg.get("pseudo_labels") and job.cfg.get("train_dataloader"):
        attach_pseudo_labels(job.cfg, job.work_dir)
    return build_runner(job.cfg, on_start=job.keep)


def train_model(args: argparse.Namespace) -> int:
    """``wsvol train``: train a config (``--resume``: continue its run)."""
    from mmengine.dist import is_main_process

    from wsvol.engine.job import setup_job

    job = setup_job(args, resume=args.resume, training=True)
    with job.removed_on_failure():  # a run that cannot start (model, checkpoint) leaves no work dir
        runner = stage_runner(job, train=True)
        runner.train()
    if is_main_process():
        print(train_summary(runner, job.work_dir, job.cfg), flush=True)
    return 0


def train_summary(runner, work: Path, cfg) -> str:
    """What a training made: its work dir, its checkpoints (the best on validation, the last) and
    the last validation's CorLoc and CL."""
    from wsvol.engine.checkpoint import best_checkpoints, latest_checkpoint

    lines = [f"work dir: {work}"]
    last = latest_checkpoint(work)
    kept = [f"{path.name} (best {metric})" for metric, path in best_checkpoints(work, cfg).items()]
    kept += [f"{last.name} (last)"] if last is not None else []
    if kept:
        lines.append("checkpoints: " + ", ".join(kept))
    scalars = runner.message_hub.log_scalars
    measured = [f"{key[4:]} {float(scalars[key].current()):.2f}" for key in ("val/corloc", "val/corloc_mean", "val/cl")
                if key in scalars]
    if measured:
        lines.append("last validation: " + ", ".join(measured))
    return "\n".join(lines)


def test_checkpoint(args: argparse.Namespace, overlays_only: bool = False) -> int:
    """``wsvol test``: evaluate a checkpoint, with one or several CAM methods, and report."""
    from wsvol.engine.job import setup_job

    job = setup_job(args, load_from=args.checkpoint)
    cfg, work = job.cfg, job.work_dir
    with job.removed_on_failure():  # a checkpoint that cannot be loaded leaves no work dir
        runner = stage_runner(job)
        methods = _cam_methods(getattr(args, "cams", None))
        results, metrics = {}, {}
        for method in methods or [None]:
            if method:
                _model(runner).set_cam({"type": method})
            label = method_label(cfg, method)
            metrics[label], results[label] = run_test(runner)
    if runner.rank == 0:
        write_test_metrics(work, metrics)
        report(work, results, cfg, overlays_only=overlays_only,
               checkpoints={label: str(args.checkpoint) for label in results})
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
    """``resnet18 (layercam)``: what the model is — a classifier's backbone architecture (the
    ``resnet50_cam`` model type builds any ResNet), else the model type — and its CAM method."""
    backbone = cfg.model.get("backbone")
    name = backbone if isinstance(backbone, str) else str(cfg.model.type)
    cam_cfg = cfg.model.get("cam")
    cam = cam or (cam_cfg.get("type") if isinstance(cam_cfg, dict) else None)
    return f"{name} ({cam})" if cam else name


# -- 4. test ---------------------------------------------------------------------------------
def test(runner):
    """Run the test loop and write ``test_metrics.json``; return the ``corloc`` metric's per-frame
    result (None on ranks > 0)."""
    metrics, result = run_test(runner)
    if runner.rank == 0:
        write_test_metrics(Path(runner.work_dir), {"": metrics})
    return result


def run_test(runner) -> tuple[dict, object]:
    """Run the test loop; return its metrics and the ``corloc`` metric's per-frame result (None on
    ranks > 0)."""
    metrics = runner.test()  # the same numbers on every rank
    metric = next(m for m in runner.test_evaluator.metrics if hasattr(m, "last_result"))
    return metrics, (metric.last_result if runner.rank == 0 else None)


def write_test_metrics(work: Path, metrics: dict[str, dict]) -> None:
    """``test_metrics.json``: one method's metrics as they are (``{"corloc": ..., "cl": ...}``);
    several methods' (``wsvol test --cams cam layercam``) by method name
    (``{"resnet18 (cam)": {"corloc": ...}, "resnet18 (layercam)": {...}}``)."""
    data = next(iter(metrics.values())) if len(metrics) == 1 else metrics
    atomic_write_text(Path(work) / "test_metrics.json", json.dumps(data, indent=2, default=float))


# -- 5. report -------------------------------------------------------------------------------
def report(work: Path, results: dict, cfg, overlays_only: bool = False, checkpoints: dict | None = None) -> Path:
    """HTML/CSV/JSON report, overlays and terminal tables, with the centred-box baseline;
    ``checkpoints``: the checkpoint each method tested (by method name)."""
    from rich.markup import escape

    from wsvol.data.images import frame_loader
    from wsvol.engine.job import environment
    from wsvol.report import print_report, write_report
    from wsvol.report.tables import describe_environment
    from wsvol.utils.terminal import make_console
    from wsvol.visualization.frames import save_overlays

    opts = dict(cfg.get("report") or {})
    n_overlays = opts.pop("overlays", 16)
    data_root = cfg.test_dataloader.dataset.data_root
    loader = frame_loader(data_root)
    for name, res in results.items():
        save_overlays(work / "overlays" / _slug(name), res, loader, n_overlays)
    if overlays_only:
        print(f"overlays: {work / 'overlays'}")
        return work / "overlays"
    env = environment()
    data = write_report(work / "report", results, image_loader=loader, environment=env,
                        reproducibility=reproducibility(work, cfg, checkpoints, env), **opts)
    console = make_console()
    print_report(data, console)
    console.print(f"environment: {describe_environment(env)}", highlight=False)
    rep = data["meta"]["reproducibility"]
    for run, parts in [("the run", rep["segments"])] + [(f"the run of the checkpoint ({r})", p)
                                                         for r, p in rep["checkpoint_runs"].items()]:
        for part in parts:
            if part["differences"]:
                console.print(f"[yellow]{escape(run)} {'resumed' if part['resumed'] else 'started'} at {part['at']} "
                              f"in another environment[/]: {escape('; '.join(part['differences']))}", highlight=False)
    (box,) = (row for row in data["baselines"] if row["baseline"] == "centred box")
    corloc, side = box["corloc"], box["side"]
    baseline = {"centred_box_corloc": corloc, "side": side, "frames": box["frames"]}
    atomic_write_text(work / "report" / "baselines.json", json.dumps(baseline, indent=2))
    console.print(f"centred-box baseline (best side {side:.2f} of the frame, chosen on these frames): "
                  f"CorLoc {corloc:.1f} %")
    console.print(f"report: {work / 'report' / 'report.html'}")
    return work / "report"


def reproducibility(work: Path, cfg, checkpoints: dict | None = None, environment: dict | None = None) -> dict:
    """What a report's numbers depend on besides its environment: the date, the config (as given,
    and the sha256 of the work dir's ``config.yaml``, the merged config as run), the training seed
    and ``randomness.deterministic``, the checkpoint each method tested, and the run's start and
    resumes with what differed in their environment from ``environment`` (the report's)."""
    randomness = cfg.get("randomness") or {}
    saved = Path(work) / "config.yaml"
    return {
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "config": str(cfg.filename) if getattr(cfg, "filename", None) else None,
        "config_sha256": hashlib.sha256(saved.read_bytes()).hexdigest() if saved.is_file() else None,
        "training_seed": randomness.get("seed"),
        "deterministic": bool(randomness.get("deterministic", False)),
        "checkpoints": dict(checkpoints or {}),
        "segments": run_segments(work, environment or {}),
        # a checkpoint trained by another run (``wsvol test --checkpoint``): that run's parts too;
        # not this run's own stages (a baseline's folder in it), which its own parts cover
        "checkpoint_runs": {str(run): run_segments(run, environment or {})
                            for run in dict.fromkeys(_run_of(path) for path in (checkpoints or {}).values() if path)
                            if run is not None and not run.resolve().is_relative_to(Path(work).resolve())},
    }


def _run_of(checkpoint: str) -> Path | None:
    """The work dir of the run that wrote ``checkpoint``: its folder or one above (a baseline's
    stage folder) holding a run marker; None if there is none."""
    from wsvol.engine.checkpoint import RUN_MARKER

    folder = Path(checkpoint).parent
    return next((f for f in (folder, folder.parent) if (f / RUN_MARKER).is_file()), None)


def run_segments(work: Path, environment: dict) -> list[dict]:
    """The run's start and each resume (from its ``wsvol-run.json``): ``{"at", "resumed",
    "differences"}``, the differences being ``key: then → now`` against ``environment``, or None
    where that part's environment was not recorded."""
    from wsvol.engine.checkpoint import RUN_MARKER
    from wsvol.utils.messages import differences

    try:
        marker = json.loads((Path(work) / RUN_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no marker (a report of loose results), or one edited by hand
        return []
    parts = [{"at": marker.get("created"), "environment": marker.get("environment")}]
    parts += [r if isinstance(r, dict) else {"at": r, "environment": None} for r in marker.get("resumed", [])]
    return [{"at": part.get("at"), "resumed": i > 0,
             "differences": None if part.get("environment") is None else differences(part["environment"], environment)}
            for i, part in enumerate(parts)]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")
