"""A split of the fold format (wsolevaluation's layout, as TCAM publishes it): read, checked
across its files, and its frames.

``<folds_root>/<split>/image_ids.txt`` lists frames (``aeroplane/data/0009/shots/102/frame0001.jpg``)
or shot folders (``aeroplane/data/0013/shots/330``, TCAM's training splits) relative to the data
root; ``class_labels.txt``, ``image_sizes.txt`` (frames only) and ``localization.txt`` (required
for val/test) describe them, and ``<folds_root>/class_id.yaml`` names the classes. The id rules
(shot, video) are in :mod:`wsvol.data.frame_ids`, the per-file parsers in
:mod:`wsvol.data.fold_files`. A shot folder expands to the frames found in it on disk (sorted by
name, :mod:`wsvol.data.shots`); their sizes are read from the images. Boxes are inclusive pixel
coordinates (``x1, y1`` is the last pixel inside), float64 as written, as in wsolevaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from wsvol.data.fold_files import (
    DataError,
    read_class_labels,
    read_class_map,
    read_image_ids,
    read_image_sizes,
    read_localization,
    validate_class_map,
)
from wsvol.data.frame_ids import is_frame_id, shot_id_of, video_id_of, video_of_shot
from wsvol.data.shots import list_shots

EVAL_SPLITS = ("val", "test")
FOLD_FILES = ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt")
_NO_BOXES = np.zeros((0, 4), np.float64)
_NO_BOXES.flags.writeable = False


@dataclass(eq=False, slots=True)
class Frame:
    """One frame of a split: id, class index, original size (None where no ``image_sizes.txt``
    line gives it: a frame found in a shot folder) and boxes (N,4) float64 in its pixels."""

    frame_id: str
    label: int
    width: int | None
    height: int | None
    boxes: np.ndarray = field(default_factory=lambda: _NO_BOXES)

    @property
    def video_id(self) -> str:
        return video_id_of(self.frame_id)

    @property
    def shot_id(self) -> str:
        return shot_id_of(self.frame_id)

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) as listed, or None (read it from the image)."""
        return None if self.width is None else (self.width, self.height)


@dataclass(slots=True)
class Entry:
    """One line of ``image_ids.txt``: a frame, or a shot folder whose frames are found on disk."""

    entry_id: str
    line: int
    label: int

    @property
    def is_shot(self) -> bool:
        return not is_frame_id(self.entry_id)

    @property
    def video_id(self) -> str:
        return video_of_shot(self.entry_id) if self.is_shot else video_id_of(self.entry_id)


@dataclass
class Split:
    """A validated split: its ``image_ids.txt`` entries, its frames in that order (a shot's frames
    where the shot is listed; see :meth:`expand`) and the class map."""

    name: str
    directory: Path
    classes: dict[str, int]
    entries: list[Entry]
    listed: dict[str, Frame]  #: the frames ``image_ids.txt`` lists itself, with sizes and boxes
    data_root: Path | None = None  #: where shot folders were listed (None: not yet)
    _frames: list[Frame] | None = field(default=None, repr=False)
    _lists_shots: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._lists_shots = any(e.is_shot for e in self.entries)
        if self._frames is None and not self._lists_shots:
            self._frames = [self.listed[e.entry_id] for e in self.entries]

    @property
    def ids_file(self) -> Path:
        return self.directory / "image_ids.txt"

    @property
    def lists_shots(self) -> bool:
        """Whether some entries are shot folders (their frames are found on disk)."""
        return self._lists_shots

    @property
    def shot_entries(self) -> dict[str, int]:
        """Shot folder id → its line in ``image_ids.txt``."""
        return {e.entry_id: e.line for e in self.entries if e.is_shot}

    @property
    def frames(self) -> list[Frame]:
        """Every frame, in ``image_ids.txt`` order (a shot's frames sorted by name)."""
        if self._frames is None:
            first = next(e for e in self.entries if e.is_shot)
            raise DataError(
                f"split {self.name!r} ({self.directory}) lists shot folders ({self.ids_file}:{first.line} "
                f"{first.entry_id!r}) whose frames are found on disk: read it with its data_root"
            )
        return self._frames

    @property
    def class_names(self) -> list[str]:
        """Class names ordered by index."""
        return sorted(self.classes, key=self.classes.__getitem__)

    def expand(self, data_root: str | Path) -> Split:
        """This split with the frames of its shot folders under ``data_root`` (listed once per
        process); a missing or empty shot folder, or a frame listed twice, is a :class:`DataError`."""
        if not self.lists_shots:
            return self
        root = Path(data_root)
        lines = self.shot_entries
        names, failures = list_shots(root, lines)
        problems = [f"{self.ids_file}:{lines[s]}: shot folder {root / s} {why}" for s, why in failures.items()]
        frames: list[Frame] = []
        origin = {e.entry_id: e.line for e in self.entries if not e.is_shot}  # frame id → its line
        for e in self.entries:
            if not e.is_shot:
                frames.append(self.listed[e.entry_id])
                continue
            for name in names.get(e.entry_id, ()):
                fid = f"{e.entry_id}/{name}"
                if fid in origin:
                    problems.append(f"{self.ids_file}:{e.line}: frame {fid!r} of this shot folder is "
                                    f"also listed on line {origin[fid]}")
                    continue
                origin[fid] = e.line
                frames.append(Frame(fid, e.label, None, None))
        if problems:
            raise DataError(f"split {self.name!r} ({self.directory}): {len(problems)} shot folder "
                            f"problem(s) under {root}:", problems)
        return replace(self, data_root=root, _frames=frames)

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
            out.setdefault(video_of_shot(shot), []).append(shot)
        return out


def read_split(
    folds_root: str | Path,
    split: str,
    class_map: Mapping[str, int] | str | Path | None = None,
    require_boxes: bool | None = None,
    data_root: str | Path | None = None,
) -> Split:
    """Read ``<folds_root>/<split>``; raise one :class:`DataError` listing every problem.

    ``class_map`` defaults to ``<folds_root>/class_id.yaml``; ``require_boxes`` (every frame has
    a box) defaults to True for val/test. With ``data_root``, listed shot folders are expanded to
    their frames (:meth:`Split.expand`); without it, only the fold files are read.
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
    paths = {name: directory / name for name in FOLD_FILES}
    ids_file = paths["image_ids.txt"]

    problems: list[str] = []
    missing = [n for n in ("image_ids.txt", "class_labels.txt") if not paths[n].is_file()]
    ids = read_image_ids(ids_file, problems) if ids_file.is_file() else {}
    frame_ids = {i: n for i, n in ids.items() if is_frame_id(i)}
    shot_ids = {i: n for i, n in ids.items() if i not in frame_ids}
    if not paths["image_sizes.txt"].is_file() and (frame_ids or not ids_file.is_file()):
        missing.append("image_sizes.txt")
    if not paths["localization.txt"].is_file() and require_boxes:
        missing.append("localization.txt")
    if missing:
        raise DataError(f"split {split!r} ({directory}) is incomplete",
                        [f"{paths[n]}: missing file" for n in missing])

    labels = read_class_labels(paths["class_labels.txt"], ids, ids_file, classes, problems)
    sizes = (read_image_sizes(paths["image_sizes.txt"], frame_ids, shot_ids, ids_file, problems)
             if paths["image_sizes.txt"].is_file() else {})
    boxes = (read_localization(paths["localization.txt"], frame_ids, shot_ids, sizes, problems)
             if paths["localization.txt"].is_file() else {})
    if require_boxes:
        problems += [f"{ids_file}:{n}: evaluation split lists shot folder {s!r}: evaluation needs "
                     "frames with boxes" for s, n in shot_ids.items()]
        problems += [f"{ids_file}:{n}: evaluation frame {fid!r} has no box in localization.txt"
                     for fid, n in frame_ids.items() if fid not in boxes]
    if not ids and not problems:
        problems.append(f"{ids_file}: the split is empty")

    video_label: dict[str, tuple[int, str]] = {}
    video_of: dict[str, str] = {}  # shot → video, worked out once per shot
    for eid, label in labels.items():
        shot = eid if eid in shot_ids else shot_id_of(eid)
        if (video := video_of.get(shot)) is None:
            video = video_of[shot] = video_of_shot(shot)
        first = video_label.setdefault(video, (label, eid))
        if first[0] != label:
            problems.append(
                f"{paths['class_labels.txt']}: video {video!r} has frames of two classes: "
                f"{first[1]!r} is {first[0]}, {eid!r} is {label}"
            )
    if problems:
        raise DataError(f"{len(problems)} problem(s) in split {split!r} ({directory}):", problems)
    entries = [Entry(eid, n, labels[eid]) for eid, n in ids.items()]
    listed = {
        fid: Frame(fid, labels[fid], *sizes[fid],
                   np.asarray(boxes[fid], np.float64).reshape(-1, 4) if fid in boxes else _NO_BOXES)
        for fid in frame_ids
    }
    out = Split(split, directory, classes, entries, listed)
    return out.expand(data_root) if data_root is not None else out
