"""The report's main tables in a terminal (rich).

No number and no method name is ever cut: numeric columns never wrap and are as wide as their
widest value, names fold onto more lines, and a table too wide for the console is split into
several, each repeating the name columns (method, class, ...) with as many number columns as fit.
"""

from __future__ import annotations

from numbers import Number

from wsvol.report.tables import COLUMNS, HEADINGS, fmt
from wsvol.utils.terminal import make_console

#: Width a name column keeps at least (its names fold onto more lines) when deciding how many
#: number columns fit beside it.
NAME_WIDTH = 12


def print_report(report: dict, console=None, *, per_video: bool = False) -> None:
    """Print the summary, per-class, per-size and bootstrap tables (per-video on request) with rich."""
    keys = ["summary", "per_class", "by_size", "bootstrap"] + (["per_video"] if per_video else [])
    print_tables(report, keys, COLUMNS, HEADINGS, console)


def print_tables(data: dict, keys, columns: dict, headings: dict, console=None) -> None:
    """Print the tables ``keys`` of ``data`` (lists of row dicts) as rich tables, then ``meta.notes``."""
    from rich.markup import escape

    console = console or make_console()
    for key in keys:
        for table in fitted_tables(data[key], columns[key], headings[key], console.width):
            console.print(table)
    for note in data["meta"]["notes"]:
        console.print(f"[dim]{escape(note)}[/dim]")


def fitted_tables(rows: list[dict], columns, heading: str, width: int) -> list:
    """``rows`` as rich tables no wider than ``width``: one table, or several (each with the name
    columns and some of the number columns) when the numbers would not fit beside the names."""
    from rich.cells import cell_len

    cells = [[fmt(r.get(k), d) for r in rows] for k, _, d in columns]
    # a number column: digits given, or numbers in it (counts); a column of missing numbers is one too
    numeric = [d > 0 or any(isinstance(r.get(k), Number) and not isinstance(r.get(k), bool) for r in rows)
               for k, _, d in columns]
    names = [i for i, is_number in enumerate(numeric) if not is_number]
    numbers = [i for i, is_number in enumerate(numeric) if is_number]

    def needed(i: int) -> int:  # a number column: its widest value or header word; a name column: NAME_WIDTH at most
        words = max(cell_len(w) for w in columns[i][1].split() or [""])
        widest = max((cell_len(c) for c in cells[i]), default=0)
        return max(words, widest) if numeric[i] else max(words, min(widest, NAME_WIDTH))

    def table_width(indices: list[int]) -> int:  # a rich table: each cell padded by 1 each side, borders between
        return sum(needed(i) + 3 for i in indices) + 1

    groups: list[list[int]] = []
    for i in numbers:
        if groups and table_width(names + groups[-1] + [i]) <= width:
            groups[-1].append(i)
        else:
            groups.append([i])
    groups = groups or [[]]
    return [_table(rows, columns, cells, numeric, sorted(names + group),
                   heading if n == 0 else f"{heading} (continued, {n + 1}/{len(groups)})")
            for n, group in enumerate(groups)]


def _table(rows: list[dict], columns, cells, numeric, indices: list[int], title: str):
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for i in indices:
        header = columns[i][1]
        if numeric[i]:  # a header of several words goes on several lines, as narrow as the numbers
            table.add_column(Text("\n".join(header.split()) or header, justify="right"), justify="right",
                             no_wrap=True, min_width=max((cell_len(c) for c in cells[i]), default=0))
        else:
            table.add_column(Text(header), justify="right", overflow="fold")
    for r in range(len(rows)):
        table.add_row(*(Text(cells[i][r]) for i in indices))
    return table

