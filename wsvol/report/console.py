"""The report's main tables in a terminal (rich)."""

from __future__ import annotations

from wsvol.report.tables import COLUMNS, HEADINGS, fmt
from wsvol.utils.terminal import make_console


def print_report(report: dict, console=None, *, per_video: bool = False) -> None:
    """Print the summary, per-class, per-size and bootstrap tables (per-video on request) with rich."""
    keys = ["summary", "per_class", "by_size", "bootstrap"] + (["per_video"] if per_video else [])
    print_tables(report, keys, COLUMNS, HEADINGS, console)


def print_tables(data: dict, keys, columns: dict, headings: dict, console=None) -> None:
    """Print the tables ``keys`` of ``data`` (lists of row dicts) as rich tables, then ``meta.notes``."""
    from rich.markup import escape
    from rich.table import Table

    console = console or make_console()
    for key in keys:
        table = Table(title=headings[key])
        for _, h, _ in columns[key]:
            table.add_column(h, justify="right")
        for r in data[key]:
            table.add_row(*(escape(fmt(r.get(k), d)) for k, _, d in columns[key]))
        console.print(table)
    for note in data["meta"]["notes"]:
        console.print(f"[dim]{escape(note)}[/dim]")
