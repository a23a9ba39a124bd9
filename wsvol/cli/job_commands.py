"""``wsvol run``, ``train``, ``test`` and ``visualize``: the commands that run a config's job."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add run, train, test and visualize."""
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


def _run(args: argparse.Namespace) -> int:
    from wsvol.engine.pipeline import run_pipeline

    return run_pipeline(args)


def _train(args: argparse.Namespace) -> int:
    from wsvol.engine.pipeline import train_model

    return train_model(args)


def _test(args: argparse.Namespace) -> int:
    from wsvol.engine.pipeline import test_checkpoint

    if not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"--checkpoint {args.checkpoint}: no such file")
    return test_checkpoint(args)


def _visualize(args: argparse.Namespace) -> int:
    from wsvol.engine.pipeline import test_checkpoint

    if not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"--checkpoint {args.checkpoint}: no such file")
    return test_checkpoint(args, overlays_only=True)
