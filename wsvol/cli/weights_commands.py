"""``wsvol weights list``: every named weights file, where to get it and whether it is found."""

from __future__ import annotations

import argparse

from wsvol.cli.help import ExamplesFormatter


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add weights (list)."""
    w = sub.add_parser("weights", help="list named weights, the files expected and where to put them")
    w.set_defaults(_parser=w)
    w_sub = w.add_subparsers(dest="weights_command", metavar="ACTION")
    w_sub.add_parser("list", help="every named weights file: expected file, where to get it, "
                     "where it was found",
                     description="Every weights name a config may use (built-ins and plugins): the file expected "
                                 "in the weights folder, what uses it, where to get it, and where it was found.",
                     epilog="examples:\n  wsvol weights list\n  WSVOL_WEIGHTS=/data/weights wsvol weights list",
                     formatter_class=ExamplesFormatter).set_defaults(func=_weights_list)


def _weights_list(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.padding import Padding
    from rich.table import Table

    import wsvol.weights as w
    from wsvol.utils.terminal import make_console

    console = make_console()
    known = w.known_weights()
    console.print(f"named weights (weights folder: {escape(str(w.weights_dir()))}; set ${w.ENV} to move it)\n")
    for name, k in known.items():  # one block per name: readable at 80 columns
        try:
            path, how = w.find_weights(name, known)
            found = f"[green]{escape(str(path))}[/green] ({how})" if path else "[red]missing[/red]"
        except w.WeightsError as err:
            found = f"[red]{escape(str(err))}[/red]"
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True, style="cyan")
        grid.add_column(overflow="fold")
        grid.add_row("file expected", escape(k.file.filename))
        grid.add_row("used by", escape("; ".join(k.used_by)))
        grid.add_row("where to get it", escape(k.file.source))
        grid.add_row("found", found)
        console.print(f"[bold]{escape(name)}[/bold]")
        console.print(Padding(grid, (0, 0, 1, 2)))
    console.print("A config names weights by name (e.g. pretrained: clip_vit_b16_openai) or by path; "
                  "put the expected file in the weights folder, or give its path.")
    return 0
