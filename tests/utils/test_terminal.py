"""Printing for people outside a terminal: tables at full width, progress as periodic lines."""

from __future__ import annotations

import io

from rich.table import Table

from wsvol.utils.terminal import (
    LOG_WIDTH,
    LineProgress,
    TrimmedLines,
    duration,
    make_console,
    make_progress,
)


def test_outside_a_terminal_tables_keep_their_full_width(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    buf = io.StringIO()  # not a TTY: rich alone would cut this table to 80 columns
    console = make_console(file=buf)
    assert not console.is_terminal and console.width == LOG_WIDTH
    table = Table(title="wide")
    cells = [f"column-{i}-{'x' * 12}" for i in range(8)]  # 8 × ~24 characters: far wider than 80
    for c in cells:
        table.add_column(c)
    table.add_row(*[f"{i * 1.23456:.4f}" for i in range(8)])
    console.print(table)
    text = buf.getvalue()
    assert "…" not in text
    assert all(c in text for c in cells)
    assert max(len(line) for line in text.splitlines()) > 8 * 20


def test_outside_a_terminal_no_line_ends_in_blanks(monkeypatch):
    from rich.padding import Padding

    for columns in (None, "80"):
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        buf = io.StringIO()
        console = make_console(file=buf)
        grid = Table.grid(padding=(0, 2))
        grid.add_column()
        grid.add_column()
        grid.add_row("hook", "a, b")
        console.print(Padding(grid, (0, 0, 1, 2)))  # a Padding fills the console's width with blanks
        table = Table(title="t")  # centred over the table: blanks on both sides
        table.add_column("a wide heading")
        table.add_row("1")
        console.print(table)
        console.print("FAIL ", end="")  # a blank that more text follows stays
        console.print("why")
        lines = buf.getvalue().splitlines()
        assert [ln for ln in lines if ln != ln.rstrip()] == [], columns
        assert lines[0] == "  hook  a, b" and lines[2].endswith(" t") and len(lines[2]) < len(lines[3])
        assert lines[-1] == "FAIL why"


def test_trimmed_lines_hold_blanks_until_the_line_ends_or_goes_on():
    buf = io.StringIO()
    out = TrimmedLines(buf)
    assert out.write("a  ") == 3
    out.flush()  # the blanks may still end the line: not written
    assert buf.getvalue() == "a"
    out.write("  \n b ")
    out.write("c\n")
    assert buf.getvalue() == "a\n b c\n"  # "a    \n b c\n" without its trailing blanks


def test_an_explicit_columns_is_respected(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert make_console(file=io.StringIO()).width == 100


def test_make_progress_draws_bars_only_in_a_terminal():
    from rich.console import Console
    from rich.progress import Progress

    assert isinstance(make_progress(console=make_console(file=io.StringIO())), LineProgress)
    assert isinstance(make_progress(console=Console(file=io.StringIO(), force_terminal=True)), Progress)


def test_one_line_per_ten_percent_and_one_at_the_end(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    buf = io.StringIO()
    with LineProgress(console=make_console(file=buf), every=10) as bar:
        task = bar.add_task("work", total=37)
        for _ in range(37):
            bar.advance(task)
    lines = buf.getvalue().splitlines()
    # the start (0 %), the first step past each multiple of 10 % (10 … 90 %), and the end (100 %)
    done = [int(line.split()[1].split("/")[0]) for line in lines]
    assert done == [0, 4, 8, 12, 15, 19, 23, 26, 30, 34, 37]  # ceil(37 k / 10)
    assert all(line.startswith("work: ") for line in lines)
    assert lines[-1].startswith("work: 37/37 (100 %)") and "left" not in lines[-1]
    assert "left ~" in lines[5]


def test_a_resumed_task_starts_from_its_completed_steps_and_shows_info(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    buf = io.StringIO()
    bar = LineProgress(console=make_console(file=buf), every=50)
    task = bar.add_task("train", total=4, completed=2, info="")
    bar.update(task, advance=1, info="loss 0.5")
    bar.update(task, advance=1, info="loss 0.25")
    lines = buf.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["2/4", "4/4"]  # 50 % at the start, then the end
    assert lines[-1].endswith("loss 0.25")


def test_track_yields_every_item_and_reports():
    buf = io.StringIO()
    bar = LineProgress(console=make_console(file=buf), every=25)
    assert list(bar.track(range(8), description="items")) == list(range(8))
    assert [line.split()[1] for line in buf.getvalue().splitlines()] == ["0/8", "2/8", "4/8", "6/8", "8/8"]


def test_disabled_progress_prints_nothing():
    buf = io.StringIO()
    bar = LineProgress(console=make_console(file=buf), disable=True)
    bar.advance(bar.add_task("x", total=2), 2)
    assert buf.getvalue() == ""


def test_duration():
    assert (duration(0), duration(62), duration(3723)) == ("0:00", "1:02", "1:02:03")
