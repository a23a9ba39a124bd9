"""``wsvol run``, ``train``, ``test`` and ``visualize``: the commands that run a config's job."""

from __future__ import annotations

import argparse
from pathlib import Path

from wsvol.cli.help import LAUNCHERS, ExamplesFormatter

EXAMPLES = {
    "run": """examples:
  wsvol run configs/trcamv_synthetic.yaml                       # the README's job, no downloads
  wsvol run configs/trcamv_synthetic.yaml --cfg-options train_cfg.max_epochs=2
  wsvol run configs/trcamv_synthetic.yaml --resume              # continue the latest run of this config
  nohup wsvol run configs/trcamv_ytov1.yaml --amp > run.log 2>&1 &
  torchrun --standalone --nproc-per-node 2 -m wsvol run CFG --launcher pytorch""",
    "train": """examples:
  wsvol train configs/cam/layercam_synthetic.yaml
  wsvol train configs/cam/layercam_synthetic.yaml --work-dir work_dirs/mine --resume""",
    "test": """examples:
  wsvol test configs/cam/layercam_synthetic.yaml --checkpoint work_dirs/layercam_synthetic/RUN/best_corloc_epoch_6.pth
  wsvol test configs/cam/layercam_synthetic.yaml --checkpoint F.pth --cams all   # every CAM method, one table""",
    "visualize": """examples:
  wsvol visualize configs/cam/layercam_synthetic.yaml --checkpoint F.pth --cams gradcam layercam""",
}


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add run, train, test and visualize."""
    common = argparse.ArgumentParser(add_help=False)  # every job
    common.add_argument("config", help="YAML config file")
    common.add_argument("--work-dir", help="output folder (default: work_dirs/<config stem>/<time>-<id>/)")
    common.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config keys, e.g. train_cfg.max_epochs=2 (values are YAML)")
    common.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda if available)")
    common.add_argument("--launcher", choices=LAUNCHERS, default="none",
                        help="distributed runs: 'pytorch' under torchrun, 'slurm' under srun, 'mpi' under "
                             "mpirun (docs/distributed.md)")
    common.add_argument("--seed", type=int, help="random seed (overrides randomness.seed; in `run`, of the baseline stage too)")
    common.add_argument("--threads", type=int, metavar="N",
                        help="torch threads (default: OMP_NUM_THREADS, else every core this process may use); "
                             "the same threads give the same numbers")
    training = argparse.ArgumentParser(add_help=False)  # jobs that train
    training.add_argument("--resume", nargs="?", const="auto", metavar="auto|PATH",
                          help="resume from the latest checkpoint (auto) or a checkpoint file / run folder")
    training.add_argument("--amp", action="store_true", help="mixed precision training (CUDA; in `run`, of the baseline stage too)")

    def command(name: str, handler, help: str, description: str, parents) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=description, parents=list(parents),
                           epilog=EXAMPLES[name], formatter_class=ExamplesFormatter)
        p.set_defaults(func=handler)
        return p

    command("run", _run, "the whole job: data → pseudo-labels → train → test → report",
            "The whole job of a config in one work dir: data (generated or checked) → [baseline classifier] → "
            "[pseudo-labels, cached] → train → test with the best checkpoint on validation → report (HTML, CSV, "
            "JSON, overlays, terminal tables). With --resume, finished stages are skipped.",
            (common, training))
    command("train", _train, "train a model from a config",
            "Train the config's model (checkpoints and validation in the work dir). A config with pseudo-labels "
            "reads their cache, which `wsvol run` or `wsvol pseudo-labels` makes.", (common, training))
    p = command("test", _test, "evaluate a checkpoint (CorLoc, CL) and write the report",
                "Evaluate a checkpoint on the config's test split and write the report into the work dir.",
                (common,))
    p.add_argument("--checkpoint", required=True, help="checkpoint file (.pth)")
    p.add_argument("--cams", nargs="+", metavar="METHOD",
                   help="compare CAM methods on this checkpoint in one table ('all' for every registered one)")
    p = command("visualize", _visualize, "write heatmap overlays (predicted box red, true boxes green) for test frames",
                "Write overlay PNGs of the test frames (heatmap, predicted box in red, true boxes in green) "
                "into <work dir>/overlays/.", (common,))
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
