"""``wsvol predict`` (a trained model on a user's own video) and ``wsvol export`` (ONNX, TorchScript)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wsvol.cli.arguments import at_least_one
from wsvol.cli.help import ExamplesFormatter


def _tau(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1) (the map is cut at int(tau * max)), got {value}")
    return value


#: wsvol.visualization.mp4's MIN_FPS and MAX_FPS (not imported here: it would slow every command's start)
MIN_FPS, MAX_FPS = 0.001, 1000.0


def _fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of frames per second, got {text!r}") from None
    if not MIN_FPS <= value <= MAX_FPS:  # also refuses inf and nan
        raise argparse.ArgumentTypeError(f"must be a number of frames per second in [{MIN_FPS:g}, {MAX_FPS:g}], "
                                         f"got {text!r}")
    return value


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add predict and export."""
    p = sub.add_parser(
        "predict", help="run a trained model on a video (or a folder of frames): class, score, box per frame",
        description="Localize every frame of a video (or a folder of frames) with a trained model, in "
                    "batches: predictions.csv/json (frame, time or file, class, score, box in frame pixels) and "
                    "predictions.mp4 (heatmap, box, class). Config, classes and the τ chosen on "
                    "validation come from the checkpoint.",
        epilog="examples:\n"
               "  wsvol predict work_dirs/run/best_corloc_epoch_6.pth clip.mp4 --out pred --max-frames 300 --device cuda\n"
               "  wsvol predict work_dirs/run/best_corloc_epoch_6.pth frames_folder/ --out pred --png",
        formatter_class=ExamplesFormatter)
    p.add_argument("checkpoint", help="checkpoint written by wsvol train/run (a best_*.pth holds the "
                                      "validation τ), or an .onnx file of wsvol export (onnxruntime, CPU)")
    # the suffixes of wsvol.data.video (not imported here: it would slow every command's start)
    p.add_argument("video", help="video file (mp4, avi, mov, mkv, webm) or folder of frames (jpg, jpeg, png, bmp; "
                                 "in natural order)")
    p.add_argument("--out", required=True, help="output folder: predictions.csv/json/mp4")
    p.add_argument("--tau", type=_tau, help="map threshold of the box (default: the τ chosen on validation, "
                                            "stored in the checkpoint; else 0.5)")
    p.add_argument("--stride", type=at_least_one, default=1, help="every N-th frame (default 1)")
    p.add_argument("--max-frames", type=at_least_one, help="at most this many frames (decoding stops there)")
    p.add_argument("--batch-size", type=at_least_one, default=16, help="frames per forward pass (default 16)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when torch sees one, else cpu)")
    p.add_argument("--no-video", action="store_true", help="only the tables, no predictions.mp4")
    p.add_argument("--png", action="store_true", help="also write each overlay as frames/frame_NNNNNN.png")
    p.add_argument("--fps", type=_fps, help=f"frame rate of predictions.mp4, {MIN_FPS:g} to {MAX_FPS:g} (default: "
                                            "the source's ÷ stride; 25 ÷ stride for a folder)")
    p.add_argument("--threads", type=at_least_one, metavar="N",
                   help="torch threads (default: every core this process may use)")
    p.set_defaults(func=_predict)

    e = sub.add_parser(
        "export", help="export a trained model to ONNX or TorchScript: frames → class scores + maps",
        description="Write a model that maps preprocessed frames (B, 3, H, W) to class probabilities "
                    "(B, C) and localization maps (B, H, W), checked against torch on the same frames. "
                    "Classes, τ and the preprocessing are stored in the file's metadata. TrCAM-V exports "
                    "whole; a CAM classifier only with model.cam.type=cam (--cam cam): gradient CAMs need a "
                    "backward pass.",
        epilog="examples:\n"
               "  wsvol export work_dirs/run/best_corloc_epoch_6.pth --format onnx --out model.onnx\n"
               "  wsvol export work_dirs/run/best_corloc_epoch_6.pth --format torchscript   "
               "# → work_dirs/run/best_corloc_epoch_6.torchscript.pt",
        formatter_class=ExamplesFormatter)
    e.add_argument("checkpoint", help="checkpoint written by wsvol train/run")
    e.add_argument("--format", choices=("onnx", "torchscript"), default="onnx", help="default onnx")
    e.add_argument("--out", help="output file (default: the checkpoint's path with .onnx or .torchscript.pt "
                                 "in place of its suffix)")
    e.add_argument("--cam", help="CAM method of a classifier to export (only 'cam' is forward-only)")
    e.add_argument("--check-frames", type=at_least_one, default=4,
                   help="frames compared with torch after the export (default 4)")
    e.add_argument("--video", help="take the check frames from this video (default: seeded random frames)")
    e.add_argument("--threads", type=at_least_one, metavar="N",
                   help="torch threads (default: every core this process may use)")
    e.set_defaults(func=_export)


def _predict(args: argparse.Namespace) -> int:
    from wsvol.engine.job import set_threads
    from wsvol.engine.predict import load_trained, predict_video

    if not Path(args.video).exists():  # before the model is loaded
        raise FileNotFoundError(f"{args.video}: no such video file or frame folder")
    set_threads(args.threads)
    trained = load_trained(args.checkpoint, args.device)
    for note in trained.notes:
        print(f"note: {note}", file=sys.stderr)
    run = predict_video(trained, args.video, args.out, tau=args.tau, stride=args.stride, max_frames=args.max_frames,
                        batch_size=args.batch_size, video=not args.no_video, png=args.png, fps=args.fps)
    for warning in run.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if run.removed:
        print(f"removed {len(run.removed)} output(s) of an earlier predict in {run.out} that this run did not "
              f"write again (first: {run.removed[0].name})")
    print(f"τ = {run.tau:g} ({run.tau_from})")
    print(f"{run.frames} frames in {run.seconds:.2f} s ({run.fps:.1f} frames/s end to end on {trained.device})")
    print(f"predictions: {run.out / 'predictions.csv'}" + (f", video: {run.video}" if run.video else ""))
    return 0


def _export(args: argparse.Namespace) -> int:
    from wsvol.engine.export import export_model
    from wsvol.engine.job import set_threads

    set_threads(args.threads)
    result = export_model(args.checkpoint, args.format, args.out, cam=args.cam, check_frames=args.check_frames,
                          video=args.video)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{args.format}: {result.path}")
    print(f"checked on {result.frames} frames against torch: max |Δ| scores {result.max_diff['scores']:.2e}, "
          f"maps {result.max_diff['maps']:.2e} (tolerance {result.tolerance:g})")
    return 0
