"""``wsvol data synth``, ``check``, ``import``, ``prepare`` and ``standin``."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add data (synth, check, import, prepare, standin)."""
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
    p = data_sub.add_parser("prepare", help="make YouTube-Objects fold files from an original release, as TCAM made them")
    p.set_defaults(_parser=p)
    releases = p.add_subparsers(dest="release", metavar="RELEASE")
    r = releases.add_parser("ytov1", help="YouTube-Objects v1.0 (ETH Zurich): the release folder is also the data root")
    r.add_argument("release_dir", help="the v1.0 release folder (aeroplane/ ... train/ with sets/ and data/)")
    r.add_argument("out", help="folds folder to write (class_id.yaml, train/, val/, test/)")
    r.set_defaults(func=_data_prepare)
    r = releases.add_parser("ytov22", help="YouTube-Objects v2.2 (CALVIN): folds, and the frames arranged by video and shot")
    r.add_argument("release_dir", help="the v2.2 release folder (aeroplane/ ... train/, Ranges/, GroundTruth/)")
    r.add_argument("out", help="folds folder to write (class_id.yaml, train/, val/, test/)")
    r.add_argument("--data-root", help="where the frames go, as class/video-VVVV/shot-SSSSSS/NNNNNNNN.jpg (the configs' data_root)")
    r.add_argument("--frames", choices=["link", "copy", "symlink", "none"], default="link",
                   help="hard links to the release's frames (a copy across file systems; default), copies, "
                        "symbolic links, or none (folds only)")
    r.set_defaults(func=_data_prepare)
    for r in releases.choices.values():
        r.add_argument("--demo", action="store_true", help="also write test-video-demo (every frame of the test videos)")
        r.add_argument("--overwrite", action="store_true", help="replace fold files already in OUT")
    p = data_sub.add_parser("standin", help="render stand-in frames for fold files (rehearse a config without the real frames)")
    p.add_argument("folds_root", help="folds folder (class_id.yaml and the splits)")
    p.add_argument("data_root", help="where the stand-in frames go (use it as the config's data_root)")
    p.add_argument("--splits", nargs="+", default=["train", "val", "test"], help="splits to render (default: train val test)")
    p.add_argument("--frames-per-shot", type=int, default=3, help="frames written in each listed shot folder")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_data_standin)


def _data_synth(args: argparse.Namespace) -> int:
    from wsvol.data.synthetic import generate_synthetic

    generate_synthetic(args.out, seed=args.seed, size=args.size, progress=True)
    return 0


def _data_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from wsvol.config import load_config
    from wsvol.data.fold_files import MAX_LISTED
    from wsvol.data.folds import read_split
    from wsvol.data.frame_check import check_files
    from wsvol.data.standin import MARKER
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
        if split.lists_shots and not report.bad_shots:
            split = split.expand(ds["data_root"])  # listed once already: counts the frames
        console.print(split_table(split))
        if (Path(ds["data_root"]) / MARKER).is_file():
            console.print(f"[yellow]{name}: {ds['data_root']} holds stand-in frames ({MARKER}): "
                          "results on them mean nothing[/yellow]")
        if not report.ok:
            failed = True
            problems = report.problems(ds["data_root"])
            more = [f"... and {len(problems) - MAX_LISTED} more"] if len(problems) > MAX_LISTED else []
            console.print(f"[red]{name}: problems with the files[/red]")
            console.print("\n".join(problems[:MAX_LISTED] + more), markup=False, highlight=False, soft_wrap=True)
    return 1 if failed else 0


def _data_import(args: argparse.Namespace) -> int:
    from wsvol.data.video import import_videos

    split = import_videos(args.src, args.out, stride=args.stride, max_frames=args.max_frames,
                          shot_length=args.shot_length, classes=args.classes, split=args.split,
                          folds_dir=args.folds_dir, progress=True)
    print(f"imported {len(split.frames)} frames into {args.out}")
    return 0


def _data_prepare(args: argparse.Namespace) -> int:
    from rich.console import Console

    from wsvol.data.folds import read_split
    from wsvol.data.releases import prepare_ytov1, prepare_ytov22
    from wsvol.data.summary import split_table

    if args.release == "ytov1":
        counts = prepare_ytov1(args.release_dir, args.out, demo=args.demo, overwrite=args.overwrite)
        data_root = args.release_dir
    else:
        if args.frames != "none" and not args.data_root:
            raise ValueError("wsvol data prepare ytov22: --data-root DIR says where the frames go "
                             "(or --frames none for the fold files only)")
        counts = prepare_ytov22(args.release_dir, args.out, data_root=args.data_root, frames=args.frames,
                                demo=args.demo, overwrite=args.overwrite)
        data_root = args.data_root if args.frames != "none" else None
    console = Console()
    for name in counts:  # read back: the written folds pass the reader
        console.print(split_table(read_split(args.out, name, data_root=data_root)))
    print(f"wrote {', '.join(f'{name} ({n})' for name, n in counts.items())} to {args.out}")
    return 0


def _data_standin(args: argparse.Namespace) -> int:
    from wsvol.data.standin import render_standin

    written = render_standin(args.folds_root, args.data_root, splits=args.splits,
                             frames_per_shot=args.frames_per_shot, seed=args.seed)
    print(f"wrote stand-in frames ({', '.join(f'{s}: {n}' for s, n in written.items())}) to {args.data_root}; "
          "they are not the real dataset: use them to rehearse a config, not to measure")
    return 0
