"""What wsvol prints for people, in a terminal and in a log file alike.

In a terminal: rich tables at the terminal's width and live progress bars. Outside one (a log
file, ``nohup``, SLURM, a pipe): tables at their full width (rich would cut them to 80 columns)
and no line padded with trailing blanks, and progress as one plain line per ``every`` % of each
task, flushed at once, instead of a bar that rich draws only when it stops.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

#: Console width outside a terminal: wide enough that no table is ever cut or wrapped.
LOG_WIDTH = 1000
#: Outside a terminal, a progress task prints a line each time it passes a multiple of this (%).
LOG_EVERY_PERCENT = 10


def make_console(stderr: bool = False, file: TextIO | None = None):
    """A rich ``Console``: the terminal's width in a terminal; outside one :data:`LOG_WIDTH`
    (unless ``$COLUMNS`` says otherwise), with the lines' trailing blanks dropped."""
    from rich.console import Console

    console = Console(stderr=stderr, file=file)
    if console.is_terminal:
        return console
    # rich pads what it draws to the console's width (a grid, a Padding, a centred title): 1000
    # columns of blanks at LOG_WIDTH, which a pipe or a log file would keep
    width = None if os.environ.get("COLUMNS") else LOG_WIDTH
    return Console(stderr=stderr, file=TrimmedLines(file, stderr=stderr), width=width)


class TrimmedLines:
    """A text stream that writes to ``file`` (default: ``sys.stdout``, or ``sys.stderr``, as they
    are at each write) every line without its trailing spaces.

    Spaces at the end of a write are held back until the next write shows whether more text
    follows them on the same line (``print("FAIL ", end="")``) or the line ends.
    """

    def __init__(self, file: TextIO | None = None, *, stderr: bool = False) -> None:
        self._file = file
        self._stderr = stderr
        self._held = ""

    @property
    def target(self) -> TextIO:
        """The stream written to."""
        if self._file is not None:
            return self._file
        return sys.stderr if self._stderr else sys.stdout

    def write(self, text: str) -> int:
        """Write ``text`` with each line's trailing spaces dropped; returns ``len(text)``."""
        lines = (self._held + text).split("\n")
        last = lines.pop()
        kept = last.rstrip(" ")
        self._held = last[len(kept):]
        self.target.write("".join(line.rstrip(" ") + "\n" for line in lines) + kept)
        return len(text)

    def flush(self) -> None:
        """Flush the stream (held spaces stay held: they may still end a line)."""
        self.target.flush()

    def isatty(self) -> bool:
        """Whether the stream is a terminal."""
        isatty = getattr(self.target, "isatty", None)
        return bool(isatty and isatty())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


def is_terminal(console=None) -> bool:
    """Whether progress is drawn live (rich's own test, so ``FORCE_TERMINAL`` / ``TTY_COMPATIBLE`` apply)."""
    return (console or make_console()).is_terminal


def make_progress(*columns: Any, transient: bool = False, disable: bool = False, console=None,
                  every: float = LOG_EVERY_PERCENT):
    """A rich ``Progress`` in a terminal, a :class:`LineProgress` outside one (same methods)."""
    console = console or make_console()
    if console.is_terminal:
        from rich.progress import Progress

        return Progress(*columns, transient=transient, disable=disable, console=console)
    return LineProgress(every=every, disable=disable, console=console)


def track(sequence: Iterable, description: str = "working", total: int | None = None,
          disable: bool = False) -> Iterator:
    """``rich.progress.track`` that also reports in log files (see :func:`make_progress`)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with make_progress(*columns, disable=disable) as bar:
        yield from bar.track(sequence, total=total, description=description)


def duration(seconds: float) -> str:
    """``1:02:03`` / ``2:03``."""
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _Task:
    def __init__(self, description: str, total: float | None, completed: float, fields: dict) -> None:
        self.description, self.total, self.completed, self.fields = description, total, completed, fields
        self.start = time.monotonic()
        self.start_completed = completed
        self.printed = -1  # the last multiple of `every` a line was printed for
        self.finished = False


class LineProgress:
    """The part of ``rich.progress.Progress`` wsvol uses, printing plain lines for log files.

    A task prints ``description: done/total (p %), elapsed, left ~eta [info]`` when it first
    passes each multiple of ``every`` percent and when it completes; a task without a total
    prints when it starts and completes. Lines are flushed as they are written.
    """

    def __init__(self, *columns: Any, every: float = LOG_EVERY_PERCENT, disable: bool = False, console=None,
                 transient: bool = False) -> None:
        self.every = float(every)
        self.disable = disable
        self.console = console
        self._tasks: dict[int, _Task] = {}
        self._next = 0

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        """Nothing to start: lines are printed as tasks advance."""

    def stop(self) -> None:
        """Nothing to stop: each line was printed when it happened."""

    def add_task(self, description: str, total: float | None = 100.0, completed: float = 0, start: bool = True,
                 visible: bool = True, **fields: Any) -> int:
        """Add a task; prints its first line."""
        task_id = self._next
        self._next += 1
        self._tasks[task_id] = _Task(description, total, completed, fields)
        self._report(task_id)
        return task_id

    def update(self, task_id: int, *, total: float | None = None, completed: float | None = None,
               advance: float | None = None, description: str | None = None, visible: bool | None = None,
               refresh: bool = False, **fields: Any) -> None:
        """Change a task; prints a line when it crosses the next step."""
        task = self._tasks.get(task_id)
        if task is None:
            return
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = completed
        if advance is not None:
            task.completed += advance
        if description is not None:
            task.description = description
        task.fields.update(fields)
        self._report(task_id)

    def advance(self, task_id: int, advance: float = 1) -> None:
        """Advance a task by ``advance`` steps."""
        self.update(task_id, advance=advance)

    def remove_task(self, task_id: int) -> None:
        """Forget a task."""
        self._tasks.pop(task_id, None)

    def track(self, sequence: Iterable, total: float | None = None, task_id: int | None = None,
              description: str = "working", update_period: float = 0.1) -> Iterator:
        """Yield from ``sequence``, advancing a task after each item."""
        if total is None and hasattr(sequence, "__len__"):
            total = len(sequence)  # type: ignore[arg-type]
        if task_id is None:
            task_id = self.add_task(description, total=total)
        else:
            self.update(task_id, total=total)
        for item in sequence:
            yield item
            self.advance(task_id, 1)

    def _report(self, task_id: int) -> None:
        task = self._tasks[task_id]
        if self.disable or task.finished:
            return
        if task.total:
            percent = 100.0 * task.completed / task.total
            step = int(percent // self.every) if percent < 100 else int(100 // self.every) + 1
            if step <= task.printed:
                return
            task.printed = step
            task.finished = task.completed >= task.total
        elif task.printed >= 0:
            return
        else:
            task.printed = 0
        self._print(self.line(task))

    @staticmethod
    def line(task: _Task) -> str:
        """One task's progress line."""
        elapsed = time.monotonic() - task.start
        parts = [f"{task.description}:"]
        done = f"{task.completed:g}"
        if task.total:
            parts.append(f"{done}/{task.total:g} ({100.0 * task.completed / task.total:3.0f} %)")
        else:
            parts.append(done)
        parts.append(f"elapsed {duration(elapsed)}")
        rate_done = task.completed - task.start_completed
        if task.total and 0 < rate_done and task.completed < task.total:
            parts.append(f"left ~{duration(elapsed / rate_done * (task.total - task.completed))}")
        info = str(task.fields.get("info") or "").strip()
        return " ".join(parts) + (f"  {info}" if info else "")

    def _print(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=sys.stdout, flush=True)
