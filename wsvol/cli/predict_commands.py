"""``wsvol predict``: a trained model on a user's own video."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add predict."""
    p = sub.add_parser("predict", help="run a trained model on a video (or a folder of frames): class, score, box per frame",
                       description="run a trained model on a video (or a folder of frames)")
    p.add_argument("checkpoint", help="checkpoint from a wsvol work dir (its config.yaml is read)")
    p.add_argument("video", help="video file (mp4, avi, mov, mkv, webm) or folder of frames")
    p.add_argument("--out", required=True, help="output folder: predictions.csv/json and overlay frames")
    p.add_argument("--tau", type=float, default=0.5, help="map threshold for the box (default 0.5)")
    p.add_argument("--stride", type=_positive_int, default=1, help="every N-th frame")
    p.add_argument("--max-frames", type=int, help="at most this many frames")
    p.add_argument("--no-overlays", action="store_true", help="only the tables")
    p.add_argument("--threads", type=int, metavar="N", help="torch threads (default: every core this process may use)")
    p.set_defaults(func=_predict)


def _positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _predict(args: argparse.Namespace) -> int:
    from wsvol.engine.job import set_threads
    from wsvol.engine.predict import predict_video

    set_threads(args.threads)
    out = predict_video(args.checkpoint, args.video, args.out, tau=args.tau, stride=args.stride,
                        max_frames=args.max_frames, overlays=not args.no_overlays)
    print(f"predictions: {out / 'predictions.csv'}")
    return 0
