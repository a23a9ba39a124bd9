"""``wsvol pseudo-labels CFG``: compute and cache the pseudo-labels of a config."""

from __future__ import annotations

import argparse

from wsvol.cli.help import LAUNCHERS, ExamplesFormatter


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add pseudo-labels."""
    p = sub.add_parser("pseudo-labels", help="compute and cache pseudo-labels for every training frame",
                       description="Compute the pseudo-label source's maps for every frame of the "
                       "configured splits once (resumable; a rerun continues where a killed one stopped), "
                       "then print CorLoc of the cached maps on the splits with boxes.",
                       epilog="examples:\n"
                              "  wsvol pseudo-labels configs/trcamv_ytov1.yaml\n"
                              "  wsvol pseudo-labels configs/trcamv_ytov1.yaml --cfg-options pseudo_labels.batch_size=8\n"
                              "  torchrun --standalone --nproc-per-node 4 -m wsvol pseudo-labels CFG --launcher pytorch",
                       formatter_class=ExamplesFormatter)
    p.add_argument("config", help="YAML config file with a pseudo_labels section")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config keys, e.g. pseudo_labels.batch_size=8 (values are YAML)")
    p.add_argument("--work-dir", metavar="DIR",
                   help="the run's work dir, for a config whose cache_dir holds {work_dir} (as `wsvol run "
                        "--work-dir DIR` and `wsvol train --work-dir DIR` read it)")
    p.add_argument("--overwrite", action="store_true",
                   help="rebuild a cache made by another source (config or weights) or for other frames")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda if available)")
    p.add_argument("--launcher", choices=LAUNCHERS, default="none",
                   help="'pytorch' under torchrun, 'slurm' under srun, 'mpi' under mpirun: ranks split the "
                        "frames and write their own shards")
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch threads (default: OMP_NUM_THREADS, else every core this process may use)")
    p.set_defaults(func=_pseudo_labels)


def _pseudo_labels(args: argparse.Namespace) -> int:
    from wsvol.config.placeholders import fill_placeholders, require_filled
    from wsvol.engine.job import setup_job
    from wsvol.pseudo_labels.generate import generate_pseudo_labels, section_of

    job = setup_job(args, work_dir=False)  # --device restricts the visible devices
    if args.work_dir:
        fill_placeholders(job.cfg, {"work_dir": str(args.work_dir)})
    # what this command reads: the pseudo_labels section (a baseline's checkpoint comes from `wsvol run`)
    require_filled(job.cfg, "wsvol pseudo-labels", skip=tuple(k for k in job.cfg if k != "pseudo_labels"))
    generate_pseudo_labels(job.cfg, overwrite=args.overwrite)
    print(f"pseudo-labels: {section_of(job.cfg).cache_dir}")
    return 0
