"""``wsvol compare RUN_DIR…``: finished runs in one table, with paired differences and published numbers."""

from __future__ import annotations

import argparse

from wsvol.cli.arguments import at_least_one
from wsvol.cli.help import ExamplesFormatter


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add compare."""
    p = sub.add_parser(
        "compare", help="put finished runs in one table (per-class CorLoc, CL, paired differences, published numbers)",
        description="Compare the methods of finished runs (work dirs of `wsvol run` / `wsvol test`) on the same "
                    "test frames: per-class CorLoc and its class mean, CorLoc and CL with bootstrap intervals over "
                    "videos, paired differences with a reference, and for YouTube-Objects v1.0 / v2.2 the papers' "
                    "published numbers beside them. Writes compare.html, compare.json and tables/*.csv. Runs on "
                    "other test frames, classes or data (other true boxes for a frame) are refused.",
        epilog="examples:\n"
               "  wsvol compare work_dirs/trcamv_ytov1/RUN work_dirs/layercam_ytov1/RUN --out work_dirs/compare/v1\n"
               "  wsvol compare RUN_A RUN_B --reference RUN_B          # differences against RUN_B's own model\n"
               "  wsvol compare RUN_A RUN_B --reference 'resnet50 (cam)' --intersection",
        formatter_class=ExamplesFormatter)
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="finished work dirs of `wsvol run` / `wsvol test`")
    p.add_argument("--reference", metavar="RUN_DIR_OR_LABEL",
                   help="what the differences are taken against: a method's label, or a run dir (its last method: "
                        "the run's own model); default: the first run's")
    p.add_argument("--out", metavar="DIR", help="output folder (default: work_dirs/compare/<time>-<id>/)")
    p.add_argument("--intersection", action="store_true",
                   help="when the runs' test frames differ, compare on the frames all of them hold "
                        "(default: refuse)")
    p.add_argument("--published", choices=("auto", "ytov1", "ytov22", "none"), default="auto",
                   help="published numbers to show: auto (from the runs' configs), a release (shown with a warning "
                        "when the runs' configs show other data), or none")
    p.add_argument("--n-boot", type=at_least_one, default=1000, metavar="N", help="bootstrap resamples (default 1000)")
    p.add_argument("--confidence", type=_confidence, default=0.95,
                   help="interval level, a fraction between 0 and 1 (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(func=_compare)


def _confidence(text: str) -> float:
    """``--confidence``: a fraction strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a fraction between 0 and 1 such as 0.95, not {text!r}") from None
    if not 0 < value < 1:
        hint = f" (for {value:g} % write {value / 100:g})" if 1 < value < 100 else ""
        raise argparse.ArgumentTypeError(f"a fraction strictly between 0 and 1, got {text}{hint}")
    return value


def _compare(args: argparse.Namespace) -> int:
    from wsvol.engine.compare import compare_runs

    compare_runs(args.run_dirs, reference=args.reference, out=args.out, intersection=args.intersection,
                 published=args.published, n_boot=args.n_boot, confidence=args.confidence, seed=args.seed)
    return 0
