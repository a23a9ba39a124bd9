"""The report's main tables in a terminal (rich)."""

from __future__ import annotations

from wsvol.report.tables import COLUMNS, HEADINGS, fmt
from wsvol.utils.terminal import make_console


def print_report(report: dict, console=None, *, per_video: bool = False) -> None:
    """Print the summary, per-class, per-size and bootstrap tables (per-video on request) with rich."""
    from rich.markup import escape
    from rich.table import Table

    console = console or make_console()
    keys = ["summary", "per_class", "by_size", "bootstrap"] + (["per_video"] if per_video else [])
    for key in keys:
        table = Table(title=HEADINGS[key])
        for _, h, _ in COLUMNS[key]:
            table.add_column(h, justify="right")
        for r in report[key]:
            table.add_row(*(escape(fmt(r[k], d)) for k, _, d in COLUMNS[key]))
        console.print(table)
    for note in report["meta"]["notes"]:
        console.print(f"[dim]{escape(note)}[/dim]")
