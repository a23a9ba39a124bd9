"""The core sub-commands. Parsers are built cheaply; each handler imports what it needs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_core_commands(sub: argparse._SubParsersAction) -> None:
    """Add run, train, test, pseudo-labels, visualize, predict, data, weights, plugins, config."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("config", help="YAML config file")
    common.add_argument("--work-dir", help="output folder (default: work_dirs/<config stem>/<time>-<id>/)")
    common.add_argument("--resume", nargs="?", const="auto", metavar="auto|PATH",
                        help="resume from the latest checkpoint (auto) or a checkpoint file / run folder")
    common.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config keys, e.g. train_cfg.max_epochs=2 (values are YAML)")
    common.add_argument("--amp", action="store_true", help="mixed precision (CUDA)")
    common.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda if available)")
    common.add_argument("--launcher", choices=["none", "pytorch"], default="none",
                        help="'pytorch' under torchrun for distributed runs")
    common.add_argument("--seed", type=int, help="random seed (overrides randomness.seed)")
    common.add_argument("--threads", type=int, metavar="N",
                        help="torch threads (default: OMP_NUM_THREADS, else every core this process may use)")

    def command(name: str, handler, help: str, parents=(common,)) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=list(parents))
        p.set_defaults(func=handler)
        return p

    command("run", _run, "the whole job: data → pseudo-labels → train → test → report")
    command("train", _train, "train a model from a config")
    p = command("test", _test, "evaluate a checkpoint (CorLoc, CL) and write the report")
    p.add_argument("--checkpoint", required=True, help="checkpoint file (.pth)")
    p.add_argument("--cams", nargs="+", metavar="METHOD",
                   help="compare CAM methods on this checkpoint in one table ('all' for every registered one)")
    p = command("visualize", _visualize, "write heatmap overlays (predicted box red, true boxes green) for test frames")
    p.add_argument("--checkpoint", required=True, help="checkpoint file (.pth)")
    p.add_argument("--cams", nargs="+", metavar="METHOD", help="CAM methods to draw (classifiers)")

    p = sub.add_parser("predict", help="run a trained model on a video (or a folder of frames): class, score, box per frame",
                       description="run a trained model on a video (or a folder of frames)")
    p.add_argument("checkpoint", help="checkpoint from a wsvol work dir (its config.yaml is read)")
    p.add_argument("video", help="video file (mp4, avi, mov, mkv, webm) or folder of frames")
    p.add_argument("--out", required=True, help="output folder: predictions.csv/json and overlay frames")
    p.add_argument("--tau", type=float, default=0.5, help="map threshold for the box (default 0.5)")
    p.add_argument("--stride", type=int, default=1, help="every N-th frame")
    p.add_argument("--max-frames", type=int, help="at most this many frames")
    p.add_argument("--no-overlays", action="store_true", help="only the tables")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads (default: every core this process may use)")
    p.set_defaults(func=_predict)

    from wsvol.cli.pseudo_label_commands import add_commands

    add_commands(sub)

    cfg = sub.add_parser("config", help="check or show configs")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION")
    cfg.set_defaults(_parser=cfg)
    p = cfg_sub.add_parser("check", help="check configs before any work: types, keys, values")
    p.add_argument("configs", nargs="+")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=_config_check)
    p = cfg_sub.add_parser("show", help="print the merged config as YAML")
    p.add_argument("config")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=_config_show)

    data = sub.add_parser("data", help="generate, check and import datasets")
    data.set_defaults(_parser=data)
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    p = data_sub.add_parser("synth", help="write the embedded synthetic video dataset (YouTube-Objects fold format)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", choices=["tiny", "small", "medium"], default="small")
    p.set_defaults(func=_data_synth)
    p = data_sub.add_parser("check", help="validate the splits a config uses (folds, files, images) and summarise them")
    p.add_argument("config")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    p.add_argument("--no-decode", action="store_true", help="only check that frames exist, do not decode them")
    p.set_defaults(func=_data_check)
    p = data_sub.add_parser("import", help="turn a folder of class-named video folders into the fold layout")
    p.add_argument("src", help="folder with one sub-folder per class holding videos (mp4, avi, mov, mkv, webm) or frame folders")
    p.add_argument("out", help="output data root (frames; folds under OUT/folds unless --folds-dir)")
    p.add_argument("--stride", type=int, default=1, help="keep every N-th frame")
    p.add_argument("--max-frames", type=int, help="at most this many frames per video")
    p.add_argument("--shot-length", type=int, help="frames per shot (default: one shot per video)")
    p.add_argument("--split", default="train")
    p.add_argument("--folds-dir", help="where the fold files go (default OUT/folds)")
    p.add_argument("--classes", nargs="+", help="class names (default: YouTube-Objects' ten)")
    p.set_defaults(func=_data_import)

    plugins = sub.add_parser("plugins", help="list plugins and their components")
    plugins.set_defaults(_parser=plugins)
    plugins_sub = plugins.add_subparsers(dest="plugins_command", metavar="ACTION")
    plugins_sub.add_parser("list", help="plugins, distributions, components").set_defaults(func=_plugins_list)

    p = sub.add_parser("bench", help="run the benchmarks of a source checkout (python -m benchmarks): one table of ratios",
                       description="run benchmarks/ of a wsvol source checkout; arguments go to python -m benchmarks",
                       add_help=False)
    p.set_defaults(func=_bench, pass_through=True)  # every argument goes on, e.g. --only bench_crf, --help


# -- handlers -------------------------------------------------------------------------------
def _bench(args: argparse.Namespace) -> int:
    import importlib
    import sys

    import wsvol

    # benchmarks/ sits beside wsvol/ in a checkout (editable install), or in the current folder
    roots = [Path(wsvol.__file__).resolve().parents[1], Path.cwd()]
    root = next((r for r in roots if (r / "benchmarks" / "__main__.py").is_file()), None)
    if root is None:
        raise FileNotFoundError(
            "wsvol bench runs the benchmarks/ folder of a wsvol source checkout, and none was found in "
            + " or ".join(str(r) for r in dict.fromkeys(roots))
            + ": clone the repository and run it from its root"
        )
    sys.path.insert(0, str(root))
    return int(importlib.import_module("benchmarks.__main__").main(args.extra_args) or 0)


def _train(args: argparse.Namespace) -> int:
    from wsvol.engine.pipeline import prepare_runner

    prepare_runner(args, resume=args.resume, train=True)[0].train()
    return 0


def _test(args: argparse.Namespace) -> int:
    from wsvol.engine.pipeline import test_checkpoint

    if not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"--checkpoint {args.checkpoint}: no such file")
    return test_checkpoint(args)


def _predict(args: argparse.Namespace) -> int:
    from wsvol.engine.job import set_threads
    from wsvol.engine.predict import predict_video

    set_threads(args.threads)
    out = predict_video(args.checkpoint, args.video, args.out, tau=args.tau, stride=args.stride,
                        max_frames=args.max_frames, overlays=not args.no_overlays)
    print(f"predictions: {out / 'predictions.csv'}")
    return 0


def _visualize(args: argparse.Namespace) -> int:
    from wsvol.engine.pipeline import test_checkpoint

    if not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"--checkpoint {args.checkpoint}: no such file")
    return test_checkpoint(args, overlays_only=True)


def _run(args: argparse.Namespace) -> int:
    from wsvol.engine.pipeline import run_pipeline

    return run_pipeline(args)


def _config_check(args: argparse.Namespace) -> int:
    from rich.console import Console

    from wsvol.config import ConfigError, check_config, load_config

    console = Console(stderr=True)
    failed = 0
    for path in args.configs:
        try:
            check_config(load_config(path, args.cfg_options))
            console.print(f"[green]ok[/green]   {path}")
        except ConfigError as exc:
            failed += 1
            console.print("[red]FAIL[/red] ", end="")
            console.print(str(exc), markup=False, highlight=False)
    return 1 if failed else 0


def _config_show(args: argparse.Namespace) -> int:
    from wsvol.config import load_config
    from wsvol.config.loader import dump_yaml

    print(dump_yaml(load_config(args.config, args.cfg_options)), end="")
    return 0


def _plugins_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from wsvol.plugin_manager import plugin_records

    table = Table(title="wsvol plugins")
    for col in ("plugin", "distribution", "version", "status", "kind", "names"):
        table.add_column(col)
    for rec in plugin_records():
        rows = list(rec.components.items()) or [("", [])]
        for i, (kind, names) in enumerate(rows):
            first = i == 0
            status = rec.status if not rec.reason else f"{rec.status}: {rec.reason}"
            table.add_row(rec.name if first else "", rec.distribution if first else "",
                          rec.version if first else "", status if first else "", kind, ", ".join(names))
    Console().print(table)
    return 0


def _data_synth(args: argparse.Namespace) -> int:
    from wsvol.data.synthetic import generate_synthetic

    generate_synthetic(args.out, seed=args.seed, size=args.size, progress=True)
    return 0


def _data_check(args: argparse.Namespace) -> int:
    from rich.console import Console

    from wsvol.config import load_config
    from wsvol.data.folds import check_files, read_split
    from wsvol.data.summary import split_table
    from wsvol.engine.job import dataset_configs

    cfg = load_config(args.config, args.cfg_options)
    console = Console()
    datasets = dataset_configs(cfg)
    if not datasets:
        raise ValueError(f"{args.config}: no dataloader dataset with data_root, folds_root and split")
    failed = False
    for name, ds in datasets.items():
        split = read_split(ds["folds_root"], ds["split"], class_map=ds.get("class_map"))
        report = check_files(split, ds["data_root"], decode=not args.no_decode, progress=True)
        console.print(split_table(split))
        if not report.ok:
            failed = True
            console.print(f"[red]{name}: problems with the files[/red]")
            console.print("\n".join(report.problems()), markup=False, highlight=False)
    return 1 if failed else 0


def _data_import(args: argparse.Namespace) -> int:
    from wsvol.data.video import import_videos

    split = import_videos(args.src, args.out, stride=args.stride, max_frames=args.max_frames,
                          shot_length=args.shot_length, classes=args.classes, split=args.split,
                          folds_dir=args.folds_dir, progress=True)
    print(f"imported {len(split.frames)} frames into {args.out}")
    return 0
