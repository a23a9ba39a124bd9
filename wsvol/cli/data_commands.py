"""``wsvol data synth``, ``check`` and ``import``."""

from __future__ import annotations

import argparse

from wsvol.cli.help import ExamplesFormatter


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add data (synth, check, import)."""
    raw = ExamplesFormatter
    data = sub.add_parser("data", help="generate, check and import datasets")
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
    p.add_argument("src", help="folder with one sub-folder per class holding videos (mp4, avi, mov, mkv, webm) or frame folders")
    p.add_argument("out", help="output data root (frames; folds under OUT/folds unless --folds-dir)")
    p.add_argument("--stride", type=int, default=1, help="keep every N-th frame")
    p.add_argument("--max-frames", type=int, help="at most this many frames per video")
    p.add_argument("--shot-length", type=int, help="frames per shot (default: one shot per video)")
    p.add_argument("--split", default="train", help="the split the fold files describe (default train)")
    p.add_argument("--folds-dir", help="where the fold files go (default OUT/folds)")
    p.add_argument("--classes", nargs="+", help="class names (default: YouTube-Objects' ten)")
    p.set_defaults(func=_data_import)


def _data_synth(args: argparse.Namespace) -> int:
    from wsvol.data.synthetic import generate_synthetic

    generate_synthetic(args.out, seed=args.seed, size=args.size, progress=True)
    return 0


def _data_check(args: argparse.Namespace) -> int:
    from wsvol.config import load_config
    from wsvol.data.folds import DataError, check_files, read_split
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
