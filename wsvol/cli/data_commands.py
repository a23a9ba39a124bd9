"""``wsvol data synth``, ``check``, ``import``, ``prepare`` and ``standin``."""

from __future__ import annotations

import argparse
import sys

from wsvol.cli.arguments import at_least_one
from wsvol.cli.help import ExamplesFormatter


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add data (synth, check, import, prepare, standin)."""
    raw = ExamplesFormatter
    data = sub.add_parser("data", help="generate, check and import datasets",
                          description="Datasets in the fold layout (docs/data.md): write the synthetic one, check "
                                      "the splits a config reads, import your own videos, prepare YouTube-Objects' "
                                      "folds from an original release, render stand-in frames.",
                          epilog="examples:\n"
                                 "  wsvol data synth --out data/synthetic-small --size small\n"
                                 "  wsvol data check configs/trcamv_synthetic.yaml\n"
                                 "  wsvol data import my_videos/ data/mine --stride 5 --max-frames 200\n"
                                 "  wsvol data ACTION --help   # an action's options and examples",
                          formatter_class=raw)
    data.set_defaults(_parser=data)
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    p = data_sub.add_parser("synth", help="write the embedded synthetic video dataset (YouTube-Objects fold format)",
                            description="Write the embedded synthetic video dataset: frames, val/test masks and fold "
                                        "files (docs/data.md). The same seed and size give the same files.",
                            epilog="example:\n  wsvol data synth --out data/synthetic-small --size small",
                            formatter_class=raw)
    p.add_argument("--out", required=True, help="output folder (must not exist, or be empty)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--size", choices=["tiny", "small", "medium"], default="small",
                   help="tiny: 80x60 frames, for tests; small: 160x120, the README job's; medium: 224x168")
    p.set_defaults(func=_data_synth)
    p = data_sub.add_parser("check", help="validate the splits a config uses (folds, files, images) and summarise them",
                            description="Validate every split the config's dataloaders read: fold files (file and "
                                        "line of each problem), frames on disk, images, boxes; then a summary table "
                                        "per split. Every split is checked, even after one fails.",
                            epilog="examples:\n  wsvol data check configs/trcamv_ytov1.yaml\n"
                                   "  wsvol data check configs/trcamv_ytov1.yaml --no-decode   # headers only, fast",
                            formatter_class=raw)
    p.add_argument("config", help="YAML config file")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config keys, e.g. test_dataloader.dataset.data_root=/data/yto (values are YAML)")
    p.add_argument("--no-decode", action="store_true", help="only check that frames exist, do not decode them")
    p.set_defaults(func=_data_check)
    p = data_sub.add_parser("import", help="turn a folder of class-named video folders into the fold layout",
                            description="Turn SRC/<class>/<video files or frame folders> into frames under OUT and "
                                        "the fold files of one split (image_ids, class_labels, image_sizes, "
                                        "class_id.yaml), ready to train from the tags (docs/data.md).",
                            epilog="examples:\n  wsvol data import my_videos/ data/mine --stride 5 --max-frames 200\n"
                                   "  wsvol data import my_videos/ data/mine --classes cat dog --split train",
                            formatter_class=raw)
    p.add_argument("src", help="folder with one sub-folder per class holding videos (mp4, avi, mov, mkv, webm) or "
                               "frame folders (jpg, jpeg, png, bmp)")
    p.add_argument("out", help="output data root (frames; folds under OUT/folds unless --folds-dir)")
    p.add_argument("--stride", type=at_least_one, default=1, help="keep every N-th frame")
    p.add_argument("--max-frames", type=at_least_one, help="at most this many frames per video")
    p.add_argument("--shot-length", type=at_least_one, help="frames per shot (default: one shot per video)")
    p.add_argument("--split", default="train", help="the split the fold files describe (default train)")
    p.add_argument("--folds-dir", help="where the fold files go (default OUT/folds)")
    p.add_argument("--classes", nargs="+", help="class names (default: YouTube-Objects' ten)")
    p.set_defaults(func=_data_import)
    p = data_sub.add_parser("prepare", help="make YouTube-Objects fold files from an original release, as TCAM made them",
                            description="Make YouTube-Objects fold files from an original release (docs/data.md).",
                            epilog="examples:\n"
                                   "  wsvol data prepare ytov1 data/YouTube-Objects-v1.0 folds/YouTube-Objects-v1.0\n"
                                   "  wsvol data prepare ytov22 data/YouTube-Objects-v2.2-original "
                                   "folds/YouTube-Objects-v2.2 --data-root data/YouTube-Objects-v2.2\n"
                                   "  wsvol data prepare RELEASE --help   # a release's options and example",
                            formatter_class=raw)
    p.set_defaults(_parser=p)
    releases = p.add_subparsers(dest="release", metavar="RELEASE")
    r = releases.add_parser("ytov1", help="YouTube-Objects v1.0 (ETH Zurich): the release folder is also the data root",
                            description="Write the v1.0 fold files from the original release as TCAM's script made "
                                        "them (val: 5 seeded videos per class from the training videos with boxes; "
                                        "TCAM's two box fixes); the release folder is the configs' data_root.",
                            epilog="example:\n  wsvol data prepare ytov1 data/YouTube-Objects-v1.0 "
                                   "folds/YouTube-Objects-v1.0",
                            formatter_class=raw)
    r.add_argument("release_dir", help="the v1.0 release folder (aeroplane/ ... train/ with sets/ and data/)")
    r.add_argument("out", help="folds folder to write (class_id.yaml, train/, val/, test/)")
    r.set_defaults(func=_data_prepare)
    r = releases.add_parser("ytov22", help="YouTube-Objects v2.2 (CALVIN): folds, and the frames arranged by video and shot",
                            description="Write the v2.2 fold files from the original release as TCAM's script made "
                                        "them (shots from Ranges/, val: the first 3 training videos of each class), "
                                        "and place the frames as class/video-VVVV/shot-SSSSSS/NNNNNNNN.jpg under "
                                        "--data-root.",
                            epilog="example:\n  wsvol data prepare ytov22 data/YouTube-Objects-v2.2-original "
                                   "folds/YouTube-Objects-v2.2 --data-root data/YouTube-Objects-v2.2",
                            formatter_class=raw)
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
    p = data_sub.add_parser("standin", help="render stand-in frames for fold files (rehearse a config without the real frames)",
                            description="Render a stand-in frame for every frame the fold files list, at its listed "
                                        "size with its class's object inside each true box, and a few frames in "
                                        "every listed shot folder: a config then runs end to end before the real "
                                        "frames are at hand (its numbers mean nothing).",
                            epilog="examples:\n  wsvol data standin folds/YouTube-Objects-v1.0 data/standin-v1.0\n"
                                   "  wsvol data standin folds/YouTube-Objects-v1.0 data/standin-v1.0 \\\n"
                                   "      --per-class 1 --at-most train=3 --subset-folds folds/subset-v1.0   # a quick rehearsal",
                            formatter_class=raw)
    p.add_argument("folds_root", help="folds folder (class_id.yaml and the splits)")
    p.add_argument("data_root", help="where the stand-in frames go (use it as the config's data_root)")
    p.add_argument("--splits", nargs="+", default=["train", "val", "test"], help="splits to render (default: train val test)")
    p.add_argument("--frames-per-shot", type=int, default=3, help="frames written in each listed shot folder")
    p.add_argument("--seed", type=int, default=0, help="random seed of the drawings (default 0)")
    p.add_argument("--per-class", type=int, metavar="K",
                   help="only K entries (frames, or shots) per class of each split: their fold lines are copied "
                        "verbatim to --subset-folds, and frames rendered for those")
    p.add_argument("--subset-folds", metavar="DIR",
                   help="where the reduced fold files go with --per-class (use it as the config's folds_root)")
    p.add_argument("--at-most", nargs="+", default=[], metavar="SPLIT=N",
                   help="with --per-class: at most N entries of SPLIT, taken from the classes in turn (e.g. train=3)")
    p.set_defaults(func=_data_standin)


def _data_synth(args: argparse.Namespace) -> int:
    from wsvol.data.synthetic import generate_synthetic

    generate_synthetic(args.out, seed=args.seed, size=args.size, progress=True)
    return 0


def _data_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wsvol.config import load_config
    from wsvol.data.fold_files import MAX_LISTED, DataError
    from wsvol.data.folds import read_split
    from wsvol.data.frame_check import check_files
    from wsvol.data.standin import MARKER
    from wsvol.data.summary import split_table
    from wsvol.engine.job import dataset_configs
    from wsvol.utils.terminal import make_console

    cfg = load_config(args.config, args.cfg_options)
    console = make_console()
    datasets = dataset_configs(cfg)
    if not datasets:
        raise ValueError(f"{args.config}: no dataloader dataset with data_root, folds_root and split")
    failed = False
    for name, ds in datasets.items():
        try:
            split = read_split(ds["folds_root"], ds["split"], class_map=ds.get("class_map"))
        except (DataError, FileNotFoundError) as exc:  # report it and go on: every split is checked
            failed = True
            console.print(f"[red]{name}: cannot read split {ds['split']!r}[/red]")
            console.print(str(exc), markup=False, highlight=False)
            continue
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
                          folds_dir=args.folds_dir, progress=True,
                          warn=lambda line: print(f"warning: {line}", file=sys.stderr))
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
    from wsvol.data.standin import render_standin, subset_folds

    folds = args.folds_root
    if (args.per_class is None) != (args.subset_folds is None):
        raise ValueError("wsvol data standin: --per-class K and --subset-folds DIR go together (a reduced "
                         "copy of the fold files, and frames for it)")
    if args.at_most and args.per_class is None:
        raise ValueError("wsvol data standin: --at-most goes with --per-class and --subset-folds")
    at_most = {}
    for item in args.at_most:
        split, _, n = item.partition("=")
        if not n.isdigit():
            raise ValueError(f"wsvol data standin --at-most {item!r}: expected SPLIT=N, e.g. train=3")
        at_most[split] = int(n)
    if args.per_class is not None:
        kept = subset_folds(folds, args.subset_folds, args.per_class, splits=args.splits, at_most=at_most)
        print(f"wrote {', '.join(f'{s} ({n})' for s, n in kept.items())} of {folds} to {args.subset_folds}")
        folds = args.subset_folds
    written = render_standin(folds, args.data_root, splits=args.splits,
                             frames_per_shot=args.frames_per_shot, seed=args.seed)
    print(f"wrote stand-in frames ({', '.join(f'{s}: {n}' for s, n in written.items())}) to {args.data_root}; "
          "they are not the real dataset: use them to rehearse a config, not to measure")
    return 0
