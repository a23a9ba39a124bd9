"""``wsvol pseudo-labels CFG`` and ``wsvol weights list``. Handlers import what they need."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``pseudo-labels`` and ``weights`` (with ``weights list``) to the ``wsvol`` sub-commands."""
    p = sub.add_parser("pseudo-labels", help="compute and cache pseudo-labels for every training frame",
                       description="Compute the pseudo-label source's maps for every frame of the "
                       "configured splits once (resumable; a rerun continues where a killed one stopped), "
                       "then print CorLoc of the cached maps on the splits with boxes.")
    p.add_argument("config", help="YAML config file with a pseudo_labels section")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config keys, e.g. pseudo_labels.batch_size=8 (values are YAML)")
    p.add_argument("--overwrite", action="store_true",
                   help="rebuild a cache made by another source (config or weights) or for other frames")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda if available)")
    p.add_argument("--launcher", choices=["none", "pytorch"], default="none",
                   help="'pytorch' under torchrun: ranks split the frames and write their own shards")
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch threads (default: OMP_NUM_THREADS, else every core this process may use)")
    p.set_defaults(func=_pseudo_labels)

    w = sub.add_parser("weights", help="list named weights, the files expected and where to put them")
    w.set_defaults(_parser=w)
    w_sub = w.add_subparsers(dest="weights_command", metavar="ACTION")
    w_sub.add_parser("list", help="every named weights file: expected file, where to get it, "
                     "where it was found").set_defaults(func=_weights_list)


def _pseudo_labels(args: argparse.Namespace) -> int:
    from wsvol.engine.job import setup_job
    from wsvol.pseudo_labels.generate import generate_pseudo_labels, section_of

    job = setup_job(args, work_dir=False)  # --device restricts the visible devices
    generate_pseudo_labels(job.cfg, overwrite=args.overwrite)
    print(f"pseudo-labels: {section_of(job.cfg).cache_dir}")
    return 0


def _weights_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    import wsvol.weights as w

    known = w.known_weights()
    table = Table(title=f"named weights (weights folder: {w.weights_dir()}; set ${w.ENV} to move it)",
                  show_lines=True)
    for col in ("name", "used by", "file expected", "where to get it", "found"):
        table.add_column(col, overflow="fold")
    for name, k in known.items():
        try:
            path, how = w.find_weights(name, known)
            found = f"[green]{path}[/green] ({how})" if path else "[red]missing[/red]"
        except w.WeightsError as err:
            found = f"[red]{err}[/red]"
        table.add_row(name, "\n".join(k.used_by), k.file.filename, k.file.source, found)
    Console().print(table)
    Console().print("A config names weights by name (e.g. pretrained: clip_vit_b16_openai) or by path; "
                    "put the expected file in the weights folder, or give its path.")
    return 0
