"""Read and validate a split of the fold format (wsolevaluation layout) and check its files.

``<folds_root>/<split>/image_ids.txt`` (one frame id a line), ``class_labels.txt``
(``id,class_index``), ``image_sizes.txt`` (``id,width,height``) and ``localization.txt``
(``id,x0,y0,x1,y1``, one line per box; required for val/test), plus
``<folds_root>/class_id.yaml`` (``name: index``). Frame ids are
``class/video/shot/frame`` paths relative to the data root. Boxes are inclusive pixel
coordinates (``x1, y1`` is the last pixel inside), as in wsolevaluation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP  # noqa: F401 (imported from here by callers)

EVAL_SPLITS = ("val", "test")
FOLD_FILES = ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt")
MAX_LISTED = 20


class DataError(ValueError):
    """Invalid data; the message names every offending file and line."""

    def __init__(self, title: str, problems: Iterable[str] = ()):
        self.problems = list(problems)
        lines = [f"  {p}" for p in self.problems[:MAX_LISTED]]
        if len(self.problems) > MAX_LISTED:
            lines.append(f"  ... and {len(self.problems) - MAX_LISTED} more")
        super().__init__("\n".join([title, *lines]))


def video_id_of(frame_id: str) -> str:
    """``class/video`` of a ``class/video/shot/frame`` id."""
    return "/".join(frame_id.split("/")[:2])


def shot_id_of(frame_id: str) -> str:
    """``class/video/shot`` of a ``class/video/shot/frame`` id."""
    return "/".join(frame_id.split("/")[:3])


def frame_id_problem(frame_id: str) -> str | None:
    """Why ``frame_id`` is not a safe ``class/video/shot/frame`` path (None when it is)."""
    parts = frame_id.split("/")
    if (
        len(parts) != 4
        or any(p in ("", ".", "..") or p != p.strip() for p in parts)
        or "\\" in frame_id
    ):
        return f"frame id {frame_id!r} is not of the form class/video/shot/frame"
    return None


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame of a split: id, class index, original size and boxes (N,4) in its pixels."""

    frame_id: str
    label: int
    width: int
    height: int
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))

    @property
    def video_id(self) -> str:
        return video_id_of(self.frame_id)

    @property
    def shot_id(self) -> str:
        return shot_id_of(self.frame_id)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.width, self.height


@dataclass
class Split:
    """A validated split: its frames (in ``image_ids.txt`` order) and the class map."""

    name: str
    directory: Path
    classes: dict[str, int]
    frames: list[Frame]

    @property
    def class_names(self) -> list[str]:
        """Class names ordered by index."""
        return sorted(self.classes, key=self.classes.__getitem__)

    def shots(self) -> dict[str, list[int]]:
        """Shot id → indices of its frames."""
        out: dict[str, list[int]] = {}
        for i, f in enumerate(self.frames):
            out.setdefault(f.shot_id, []).append(i)
        return out

    def videos(self) -> dict[str, list[str]]:
        """Video id → its shot ids."""
        out: dict[str, list[str]] = {}
        for shot in self.shots():
            out.setdefault(video_id_of(shot), []).append(shot)
        return out


def read_class_map(path: str | Path) -> dict[str, int]:
    """Read and validate ``class_id.yaml``: names → indices 0..C-1, each used once."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"class map {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
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


def _lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, comma-separated fields) of the non-blank lines of ``path``."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield n, [p.strip() for p in line.strip().split(",")]


def _number(text: str, kind: type) -> int | float | None:
    try:
        value = kind(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_split(
    folds_root: str | Path,
    split: str,
    class_map: Mapping[str, int] | str | Path | None = None,
    require_boxes: bool | None = None,
) -> Split:
    """Read ``<folds_root>/<split>``; raise one :class:`DataError` listing every problem.

    ``class_map`` defaults to ``<folds_root>/class_id.yaml``; ``require_boxes`` (every frame has
    a box) defaults to True for val/test.
    """
    folds_root = Path(folds_root)
    directory = folds_root / split
    if not directory.is_dir():
        found = (
            sorted(p.name for p in folds_root.iterdir() if p.is_dir())
            if folds_root.is_dir()
            else []
        )
        raise DataError(
            f"split {split!r} not found: {directory} is not a folder (splits there: {found or 'none'})"
        )
    if class_map is None or isinstance(class_map, (str, Path)):
        classes = read_class_map(class_map or folds_root / "class_id.yaml")
    else:
        classes = validate_class_map(class_map)
    require_boxes = split in EVAL_SPLITS if require_boxes is None else require_boxes
    names = {v: k for k, v in classes.items()}
    problems: list[str] = []
    paths = {name: directory / name for name in FOLD_FILES}
    for name, path in paths.items():
        if not path.is_file() and (name != "localization.txt" or require_boxes):
            problems.append(f"{path}: missing file")
    if problems:
        raise DataError(f"split {split!r} ({directory}) is incomplete", problems)

    ids: dict[str, int] = {}  # frame id → line in image_ids.txt
    for n, fields in _lines(paths["image_ids.txt"]):
        where, fid = f"{paths['image_ids.txt']}:{n}", ",".join(fields)
        if len(fields) != 1 or (why := frame_id_problem(fid)):
            problems.append(
                f"{where}: {why if len(fields) == 1 else f'expected one frame id, got {fid!r}'}"
            )
        elif fid in ids:
            problems.append(f"{where}: duplicated frame id {fid!r} (first on line {ids[fid]})")
        else:
            ids[fid] = n

    def per_frame(file: str, arity: int, parse) -> dict[str, object]:
        """Parse one ``id,...`` line per frame with ``parse(fields, where)`` → value or None."""
        seen: dict[str, int] = {}
        values: dict[str, object] = {}
        for n, fields in _lines(paths[file]):
            where = f"{paths[file]}:{n}"
            if len(fields) != arity:
                problems.append(
                    f"{where}: expected {arity} comma-separated fields, got {len(fields)}"
                )
                continue
            fid = fields[0]
            if fid in seen:
                problems.append(f"{where}: duplicated frame id {fid!r} (first on line {seen[fid]})")
                continue
            seen[fid] = n
            if fid not in ids:
                problems.append(f"{where}: frame {fid!r} is not listed in image_ids.txt")
                continue
            value = parse(fields, where)
            if value is not None:
                values[fid] = value
        for fid, n in ids.items():
            if fid not in seen:
                problems.append(
                    f"{paths['image_ids.txt']}:{n}: frame {fid!r} has no line in {file}"
                )
        return values

    def parse_label(fields: list[str], where: str) -> int | None:
        label = _number(fields[1], int)
        if label is None or label not in names:
            problems.append(
                f"{where}: unknown class id {fields[1]!r} (class_id.yaml has 0..{len(names) - 1})"
            )
            return None
        first = fields[0].split("/")[0]
        if first in classes and classes[first] != label:
            problems.append(
                f"{where}: frame {fields[0]!r} is in folder {first!r} but labelled {label} ({names[label]})"
            )
        return label

    def parse_size(fields: list[str], where: str) -> tuple[int, int] | None:
        w, h = (_number(v, int) for v in fields[1:])
        if w is None or h is None or w <= 0 or h <= 0:
            problems.append(
                f"{where}: size must be two positive integers, got {fields[1]!r},{fields[2]!r}"
            )
            return None
        return w, h

    labels = per_frame("class_labels.txt", 2, parse_label)
    sizes = per_frame("image_sizes.txt", 3, parse_size)

    boxes: dict[str, list[list[float]]] = {}
    loc = paths["localization.txt"]
    if loc.is_file():
        for n, fields in _lines(loc):
            where = f"{loc}:{n}"
            if len(fields) != 5:
                problems.append(
                    f"{where}: expected 5 comma-separated fields (id,x0,y0,x1,y1), got {len(fields)}"
                )
                continue
            fid, coords = fields[0], [_number(v, float) for v in fields[1:]]
            if fid not in ids:
                problems.append(f"{where}: frame {fid!r} is not listed in image_ids.txt")
                continue
            if any(c is None for c in coords):
                problems.append(f"{where}: box coordinates must be numbers, got {fields[1:]}")
                continue
            x0, y0, x1, y1 = coords
            w, h = sizes.get(fid, (math.inf, math.inf))
            if x1 < x0 or y1 < y0:
                problems.append(f"{where}: box {coords} has x1 < x0 or y1 < y0")
            elif x0 < 0 or y0 < 0 or x1 > w or y1 > h:
                size = f" {w}x{h}" if fid in sizes else ""
                problems.append(f"{where}: box {coords} is outside the{size} frame")
            else:
                boxes.setdefault(fid, []).append(coords)
    if require_boxes:
        problems += [
            f"{paths['image_ids.txt']}:{n}: evaluation frame {fid!r} has no box in localization.txt"
            for fid, n in ids.items()
            if fid not in boxes
        ]
    if not ids and not problems:
        problems.append(f"{paths['image_ids.txt']}: the split is empty")

    video_label: dict[str, tuple[int, str]] = {}
    for fid, label in labels.items():
        first = video_label.setdefault(video_id_of(fid), (label, fid))
        if first[0] != label:
            problems.append(
                f"{paths['class_labels.txt']}: video {video_id_of(fid)!r} has frames of two classes: "
                f"{first[1]!r} is {first[0]}, {fid!r} is {label}"
            )
    if problems:
        raise DataError(f"{len(problems)} problem(s) in split {split!r} ({directory}):", problems)
    frames = [
        Frame(
            fid,
            labels[fid],
            *sizes[fid],
            np.asarray(boxes.get(fid, np.zeros((0, 4))), np.float32).reshape(-1, 4),
        )
        for fid in ids
    ]
    return Split(split, directory, classes, frames)


@dataclass
class FileReport:
    """What :func:`check_files` found: missing, undecodable and wrongly sized frames."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    wrong_size: list[tuple[str, tuple[int, int], tuple[int, int]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unreadable or self.wrong_size)

    def problems(self, data_root: str | Path = "") -> list[str]:
        """One line per problem (missing files first)."""
        root = Path(data_root)
        return (
            [f"{root / f}: missing" for f in self.missing]
            + [f"{root / f}: cannot be decoded ({why})" for f, why in self.unreadable]
            + [
                f"{root / f}: is {a[0]}x{a[1]} but image_sizes.txt says {d[0]}x{d[1]}"
                for f, d, a in self.wrong_size
            ]
        )

    def raise_if_problems(self, data_root: str | Path = "") -> None:
        """Raise a :class:`DataError` with counts and the first problems, if there are any."""
        if not self.ok:
            raise DataError(
                f"{self.checked} frames checked under {data_root}: {len(self.missing)} missing, "
                f"{len(self.unreadable)} unreadable, {len(self.wrong_size)} of the wrong size:",
                self.problems(data_root),
            )


def _inspect(path: Path, decode: bool) -> tuple[str, object]:
    """('missing'|'unreadable'|'ok', reason or (width, height)) for one image file."""
    from PIL import Image

    if not path.is_file():
        return "missing", None
    try:
        with Image.open(path) as im:
            if decode:
                im.load()  # full decode: truncated or corrupt data raises here
            return "ok", im.size
    except Exception as e:  # PIL raises many types for bad data
        return "unreadable", f"{type(e).__name__}: {e}"


def check_files(
    split: Split,
    data_root: str | Path,
    *,
    decode: bool = True,
    workers: int = 8,
    progress: bool = True,
) -> FileReport:
    """Look for every frame of ``split`` under ``data_root``: present, decodable, of the listed size.

    ``decode=False`` only reads image headers (fast). Shows a rich progress bar.
    """
    from wsvol.utils.terminal import track

    root = Path(data_root)
    report = FileReport(checked=len(split.frames))
    with ThreadPoolExecutor(max(1, workers)) as pool:  # PIL decodes without holding the GIL
        results = pool.map(lambda f: _inspect(root / f.frame_id, decode), split.frames)
        desc = f"checking {split.name} frames"
        pairs = zip(split.frames, results)
        for frame, (status, info) in track(pairs, desc, len(split.frames), disable=not progress):
            if status == "missing":
                report.missing.append(frame.frame_id)
            elif status == "unreadable":
                report.unreadable.append((frame.frame_id, info))
            elif tuple(info) != frame.size:
                report.wrong_size.append((frame.frame_id, frame.size, tuple(info)))
    return report
