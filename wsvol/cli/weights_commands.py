"""``wsvol weights list``: every named weights file, where to get it and whether it is found."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add weights (list)."""
    w = sub.add_parser("weights", help="list named weights, the files expected and where to put them")
    w.set_defaults(_parser=w)
    w_sub = w.add_subparsers(dest="weights_command", metavar="ACTION")
    w_sub.add_parser("list", help="every named weights file: expected file, where to get it, "
                     "where it was found").set_defaults(func=_weights_list)


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
