"""The files of a fold split, one parser each, and their writer (wsolevaluation's format).

``image_ids.txt`` (one frame or shot id a line), ``class_labels.txt`` (``id,class_index``),
``image_sizes.txt`` (``id,width,height``, frames only), ``localization.txt`` (``id,x0,y0,x1,y1``,
one line per box) and ``class_id.yaml`` (``name: index``). Every parser adds one message per
problem, with file and line, to a shared list, so that a split reports all its problems at once;
:mod:`wsvol.data.folds` checks the files against each other and builds the split.

Files are UTF-8 (a byte-order mark is accepted). Boxes are kept as float64 exactly as written:
evaluation rescales them with int truncation, as wsolevaluation does (``int(x * 224 / width)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import yaml

from wsvol.data.frame_ids import id_problem, is_frame_id

MAX_LISTED = 20
#: A box may end this fraction of the frame's side past its last pixel: annotations that run off
#: the edge are kept unclipped, as wsolevaluation and TCAM keep them (the real v1.0 files have 19
#: such boxes, at most 0.95 % past the edge), and at least one pixel: a 1-based box (v2.2's) may
#: end at the frame's width or height. Beyond it, the size or the box is wrong.
EDGE_TOLERANCE = 0.02


class DataError(ValueError):
    """Invalid data; the message names every offending file and line."""

    def __init__(self, title: str, problems: Iterable[str] = ()):
        self.problems = list(problems)
        lines = [f"  {p}" for p in self.problems[:MAX_LISTED]]
        if len(self.problems) > MAX_LISTED:
            lines.append(f"  ... and {len(self.problems) - MAX_LISTED} more")
        super().__init__("\n".join([title, *lines]))


# -- text ---------------------------------------------------------------------------------------
def read_text(path: str | Path) -> str:
    """The UTF-8 text of ``path``; a file in another encoding is one :class:`DataError` naming the
    file, line and column of the first bad byte."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        start = e.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[start]:02x} at column {column}); "
            "fold files and class_id.yaml must be saved as UTF-8"
        ) from None


def fold_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, comma-separated fields) of the non-blank lines of ``path``."""
    for n, line in enumerate(read_text(path).splitlines(), 1):
        line = line.strip()
        if line:
            fields = line.split(",")
            yield n, [p.strip() for p in fields] if " " in line or "\t" in line else fields


def _number(text: str, kind: type) -> int | float | None:
    try:
        value = kind(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# -- class_id.yaml ------------------------------------------------------------------------------
def read_class_map(path: str | Path) -> dict[str, int]:
    """Read and validate ``class_id.yaml``: names → indices 0..C-1, each used once."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"class map {path} does not exist")
    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise DataError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from e
    return validate_class_map(data, str(path))


def validate_class_map(data: object, source: str = "class map") -> dict[str, int]:
    """Check a name → index mapping: string names, integer indices forming 0..C-1."""
    if not isinstance(data, Mapping) or not data:
        raise DataError(f"{source}: expected a non-empty mapping 'name: index', got {data!r}")
    problems = [
        f"{source}: {k!r}: {v!r} (names must be strings, indices integers)"
        for k, v in data.items()
        if not isinstance(k, str) or not isinstance(v, int) or isinstance(v, bool)
    ]
    if not problems and sorted(data.values()) != list(range(len(data))):
        problems.append(
            f"{source}: indices must be 0..{len(data) - 1}, each once; got {sorted(data.values())}"
        )
    if problems:
        raise DataError("invalid class map", problems)
    return dict(data)


# -- image_ids.txt ------------------------------------------------------------------------------
def read_image_ids(path: Path, problems: list[str]) -> dict[str, int]:
    """Entry id → its line in ``image_ids.txt`` (frames and shot folders, in file order)."""
    ids: dict[str, int] = {}
    for n, fields in fold_lines(path):
        where, eid = f"{path}:{n}", ",".join(fields)
        if len(fields) != 1:
            problems.append(f"{where}: expected one frame or shot id, got {eid!r}")
        elif why := id_problem(eid):
            problems.append(f"{where}: {why}")
        elif eid in ids:
            problems.append(f"{where}: duplicated {_kind(eid)} id {eid!r} (first on line {ids[eid]})")
        else:
            ids[eid] = n
    return ids


# -- one line per entry: class_labels.txt, image_sizes.txt --------------------------------------
def read_per_entry(
    path: Path,
    arity: int,
    expected: Mapping[str, int],
    ids_file: Path,
    parse: Callable[[list[str], str], object],
    problems: list[str],
    refused: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """``id → parse(fields, where)`` from a file with one ``id,...`` line per ``expected`` id.

    ``expected``: id → line in ``ids_file``; ``refused``: ids that must have no line here → why.
    """
    refused = refused or {}
    seen: dict[str, int] = {}
    values: dict[str, object] = {}
    for n, fields in fold_lines(path):
        where = f"{path}:{n}"
        if len(fields) != arity:
            problems.append(f"{where}: expected {arity} comma-separated fields, got {len(fields)}")
            continue
        eid = fields[0]
        if eid in seen:
            problems.append(f"{where}: duplicated {_kind(eid)} id {eid!r} (first on line {seen[eid]})")
            continue
        seen[eid] = n
        if eid in refused:
            problems.append(f"{where}: {refused[eid]}")
        elif eid not in expected:
            problems.append(f"{where}: {_kind(eid)} {eid!r} is not listed in image_ids.txt")
        elif (value := parse(fields, where)) is not None:
            values[eid] = value
    problems += [
        f"{ids_file}:{n}: {_kind(eid)} {eid!r} has no line in {path.name}"
        for eid, n in expected.items()
        if eid not in seen
    ]
    return values


def _kind(eid: str) -> str:
    return "frame" if is_frame_id(eid) else "shot"


def read_class_labels(
    path: Path, ids: Mapping[str, int], ids_file: Path, classes: Mapping[str, int], problems: list[str]
) -> dict[str, int]:
    """Entry id → class index, from ``class_labels.txt`` (one line per listed frame or shot)."""
    names = {v: k for k, v in classes.items()}

    def parse(fields: list[str], where: str) -> int | None:
        label = _number(fields[1], int)
        if label is None or label not in names:
            problems.append(
                f"{where}: unknown class id {fields[1]!r} (class_id.yaml has 0..{len(names) - 1})"
            )
            return None
        first = fields[0].split("/")[0]
        if first in classes and classes[first] != label:
            problems.append(
                f"{where}: {_kind(fields[0])} {fields[0]!r} is in folder {first!r} but labelled "
                f"{label} ({names[label]})"
            )
        return label

    return read_per_entry(path, 2, ids, ids_file, parse, problems)  # type: ignore[return-value]


def read_image_sizes(
    path: Path, frames: Mapping[str, int], shots: Mapping[str, int], ids_file: Path, problems: list[str]
) -> dict[str, tuple[int, int]]:
    """Frame id → (width, height), from ``image_sizes.txt``: one line per listed frame, none for a
    shot folder (its frames' sizes are read from the images)."""

    def parse(fields: list[str], where: str) -> tuple[int, int] | None:
        w, h = (_number(v, int) for v in fields[1:])
        if w is None or h is None or w <= 0 or h <= 0:
            problems.append(
                f"{where}: size must be two positive integers, got {fields[1]!r},{fields[2]!r}"
            )
            return None
        return w, h

    refused = {
        s: f"{s!r} is a shot folder (image_ids.txt:{n}): the sizes of its frames are read from the images"
        for s, n in shots.items()
    }
    return read_per_entry(path, 3, frames, ids_file, parse, problems, refused)  # type: ignore[return-value]


# -- localization.txt ---------------------------------------------------------------------------
def read_localization(
    path: Path,
    frames: Mapping[str, int],
    shots: Mapping[str, int],
    sizes: Mapping[str, tuple[int, int]],
    problems: list[str],
) -> dict[str, list[list[float]]]:
    """Frame id → boxes ``[x0, y0, x1, y1]`` (inclusive pixels, float64 as written), from
    ``localization.txt`` (one line per box).

    ``0,0,0,0`` is TCAM's null box (a frame without annotation in ``test-video-demo``) and is
    skipped. A box may run past the frame's right or bottom edge by up to
    :data:`EDGE_TOLERANCE` of its side (kept unclipped, as wsolevaluation keeps it).
    """
    boxes: dict[str, list[list[float]]] = {}
    for n, fields in fold_lines(path):
        where = f"{path}:{n}"
        if len(fields) != 5:
            problems.append(
                f"{where}: expected 5 comma-separated fields (id,x0,y0,x1,y1), got {len(fields)}"
            )
            continue
        fid, coords = fields[0], [_number(v, float) for v in fields[1:]]
        if fid not in frames:
            problems.append(f"{where}: {fid!r} is a shot folder (image_ids.txt:{shots[fid]}): boxes belong to frames"
                            if fid in shots else f"{where}: frame {fid!r} is not listed in image_ids.txt")
            continue
        if any(c is None for c in coords):
            problems.append(f"{where}: box coordinates must be numbers, got {fields[1:]}")
            continue
        if coords == [0.0, 0.0, 0.0, 0.0]:
            continue
        if why := box_problem(coords, sizes.get(fid)):
            problems.append(f"{where}: {why}")
        else:
            boxes.setdefault(fid, []).append(coords)
    return boxes


def box_problem(box: Sequence[float], size: tuple[int, int] | None) -> str | None:
    """Why ``[x0, y0, x1, y1]`` is not a box of a frame of ``size`` = (width, height) (None if it is)."""
    x0, y0, x1, y1 = box
    if x1 < x0 or y1 < y0:
        return f"box {list(box)} has x1 < x0 or y1 < y0"
    if size is None:
        return None if min(box) >= 0 else f"box {list(box)} has negative coordinates"
    w, h = size
    past_w, past_h = max(1.0, EDGE_TOLERANCE * w), max(1.0, EDGE_TOLERANCE * h)
    if min(box) < 0 or x0 >= w or y0 >= h or x1 > w - 1 + past_w or y1 > h - 1 + past_h:
        return (f"box {list(box)} is outside the {w}x{h} frame (a box may end at most "
                f"{EDGE_TOLERANCE:.0%} of the frame, or 1 pixel, past its last pixel)")
    return None


# -- writing ------------------------------------------------------------------------------------
def format_number(value: float | int) -> str:
    """A coordinate as TCAM writes it: ``str`` of the Python number (shortest float repr, ints bare)."""
    return str(value.item() if hasattr(value, "item") else value)


def write_split_files(
    directory: str | Path,
    entries: Iterable[tuple[str, int, tuple[int, int] | None, Sequence[Sequence[float]]]],
    shots: bool = False,
) -> int:
    """Write a split's four files (atomically each) from ``(id, label, size, boxes)`` entries.

    Ids are written once, in order of first appearance; one ``localization.txt`` line per box;
    sizes and boxes of shot entries (``shots=True``) are not written, the two files stay empty.
    Returns the number of entries written.
    """
    from wsvol.utils.files import atomic_open

    ids: list[str] = []
    labels: dict[str, int] = {}
    sizes: dict[str, tuple[int, int]] = {}
    loc: list[str] = []
    for eid, label, size, boxes in entries:
        if eid not in labels:
            ids.append(eid)
            labels[eid] = int(label)
            if size is not None:
                sizes[eid] = size
        loc += [f"{eid},{','.join(format_number(v) for v in box)}" for box in boxes]
    files = {
        "image_ids.txt": ids,
        "class_labels.txt": [f"{i},{labels[i]}" for i in ids],
        "image_sizes.txt": [] if shots else [f"{i},{sizes[i][0]},{sizes[i][1]}" for i in ids],
        "localization.txt": [] if shots else loc,
    }
    for name, lines in files.items():
        with atomic_open(Path(directory) / name, "wb") as f:
            f.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
    return len(ids)


def write_class_map(path: str | Path, classes: Mapping[str, int]) -> None:
    """Write ``class_id.yaml`` (names in index order)."""
    from wsvol.utils.files import atomic_write_text

    ordered = dict(sorted(classes.items(), key=lambda kv: kv[1]))
    atomic_write_text(path, yaml.safe_dump(ordered, sort_keys=False))
