"""YouTube-Objects v1.0 folds from the release, as TCAM's ``_video_ds_ytov1_0.py`` made the
published ones (sbelharbi/tcam-wsol-video, ``folds/wsol-done-right-splits/YouTube-Objects-v1.0``).

Release layout (the release folder is also the data root; ids are relative to it)::

    <class>/sets/train.txt, test.txt               video folder names, one a line
    <class>/data/<video>/shots/<shot>/frameNNNN.jpg
    <class>/data/<video>/shots/<shot>/frameNNNN.jpg_sticks.mat   boxes of that frame: cell 'coor'

* test: every frame with a ``_sticks.mat`` in the ``test.txt`` videos, with all its boxes;
* val: per class (seed = class index), the videos of ``train.txt`` that hold a ``_sticks.mat``,
  sorted, shuffled 1000 times with Python's ``random``: the first 5; their annotated frames;
* train: the other ``train.txt`` videos (those without boxes sorted, then the shuffled rest);
  one entry per shot folder holding a ``.jpg``; the list is shuffled 10 000 times (seed 0);
* test-video-demo (optional): every frame of the test videos, ``0,0,0,0`` where unannotated.

Boxes: negative coordinates become 0, and TCAM's two fixes of the release (the reversed box of
``horse/data/0004/shots/055/frame0020.jpg``; the box of ``boat/data/0006/shots/026/frame0001.jpg``
ending past the frame, cut at width − 1). Written as Python writes the numbers.

Sets, values and formats equal the published files; line order within a video differs where TCAM
listed shots and files in the file system's order (this lists them sorted).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
from wsvol.data.fold_files import DataError, fold_lines
from wsvol.data.releases.common import (
    NULL_BOX,
    FoldEntry,
    check_box,
    check_out,
    image_size,
    load_mat,
    relu_box,
    seeded_shuffle,
    write_folds,
)

VAL_VIDEOS = 5
VAL_SHUFFLES, TRAIN_SHUFFLES = 1000, 10_000
BOXES_SUFFIX = "_sticks.mat"


def _fix_box(box: list, frame_id: str, size: tuple[int, int]) -> list:
    """TCAM's ``fix_bbox``: the two release boxes it corrects."""
    if frame_id == "horse/data/0004/shots/055/frame0020.jpg" and box[2] < box[0]:
        box = [box[2], box[1], box[0], box[3]]
    if frame_id == "boat/data/0006/shots/026/frame0001.jpg" and box[2] > size[0]:
        box = [box[0], box[1], size[0] - 1, box[3]]
    return box


def read_boxes(mat_file: Path, frame_id: str, size: tuple[int, int]) -> list[list[float]]:
    """The boxes of one frame from its ``_sticks.mat`` (cell array ``coor`` of 1×4 x0,y0,x1,y1)."""
    coor = load_mat(mat_file, "coor")
    if coor.dtype != object and (coor.dtype.kind not in "biuf" or coor.size % 4):
        raise DataError(f"{mat_file}: 'coor' holds {coor.dtype} of shape {coor.shape}, expected a cell "
                        f"array of 1x4 boxes x0,y0,x1,y1 (or an nx4 matrix)")
    cells = coor.reshape(-1) if coor.dtype == object else coor.reshape(-1, 4)
    boxes = []
    for k, cell in enumerate(cells):
        cell = np.asarray(cell)
        if cell.dtype.kind not in "biuf":
            raise DataError(f"{mat_file} (box {k + 1}): holds {cell.dtype} of shape {cell.shape}, "
                            f"expected 4 numbers x0,y0,x1,y1")
        box = _fix_box(relu_box(cell), frame_id, size)
        check_box(box, size, f"{mat_file} (box {k + 1})")
        boxes.append(box)
    if not boxes:
        raise DataError(f"{mat_file}: no box in 'coor'")
    return boxes


def _videos(root: Path, cls: str, listing: str) -> list[str]:
    """Video folder names of ``<class>/sets/<listing>``, each checked to exist."""
    path = root / cls / "sets" / listing
    if not path.is_file():
        raise DataError(f"{path}: missing (the {cls} archive of the release holds it)")
    videos, problems = [], []
    for n, fields in fold_lines(path):
        name = ",".join(fields)
        if not (root / cls / "data" / name).is_dir() or name in (".", "..") or "/" in name:
            problems.append(f"{path}:{n}: video folder {root / cls / 'data' / name} does not exist")
        videos.append(name)
    if problems:
        raise DataError(f"{path}: videos missing from the release", problems)
    return videos


def _shots(video_dir: Path) -> list[Path]:
    shots = video_dir / "shots"
    return sorted((p for p in shots.iterdir() if p.is_dir()), key=lambda p: p.name) if shots.is_dir() else []


def _files(folder: Path, keep: Callable[[str], bool]) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_file() and keep(e.name))


def _has_boxes(video_dir: Path) -> bool:
    return any(f.endswith(BOXES_SUFFIX) for _, _, files in os.walk(video_dir) for f in files)


def _annotated(root: Path, cls: str, video: str, label: int) -> list[FoldEntry]:
    """Every frame of a video with a ``_sticks.mat``, with its boxes."""
    out = []
    for shot in _shots(root / cls / "data" / video):
        for mat in _files(shot, lambda n: n.endswith(BOXES_SUFFIX)):
            frame = shot / mat[: -len(BOXES_SUFFIX)]
            frame_id = frame.relative_to(root).as_posix()
            size = image_size(frame)
            out.append((frame_id, label, size, read_boxes(shot / mat, frame_id, size)))
    return out


def _demo(root: Path, cls: str, video: str, label: int) -> list[FoldEntry]:
    """Every ``.jpg`` of a video: its boxes, or TCAM's null box where it has none."""
    out = []
    for shot in _shots(root / cls / "data" / video):
        for name in _files(shot, lambda n: n.endswith(".jpg")):
            frame_id = (shot / name).relative_to(root).as_posix()
            size = image_size(shot / name)
            mat = shot / (name + BOXES_SUFFIX)
            out.append((frame_id, label, size, read_boxes(mat, frame_id, size) if mat.is_file() else [NULL_BOX]))
    return out


def prepare_ytov1(
    release_dir: str | Path,
    out: str | Path,
    demo: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, int]:
    """Write ``class_id.yaml`` and train/val/test (and ``test-video-demo`` with ``demo``) under
    ``out`` from the v1.0 release in ``release_dir``; returns entries per split."""
    from wsvol.utils.terminal import track

    root, out = Path(release_dir), Path(out)
    classes = dict(YOUTUBE_OBJECTS_CLASS_MAP)
    absent = [c for c in classes if not (root / c / "sets").is_dir()]
    if absent:
        raise DataError(f"{root} is not the YouTube-Objects v1.0 release folder: no "
                        f"{', '.join(f'{c}/sets/' for c in absent)} (the <class>.tar.gz archives unpack there)")
    check_out(root, out)
    splits: dict[str, list[FoldEntry]] = {"train": [], "val": [], "test": []}
    if demo:
        splits["test-video-demo"] = []
    for cls, label in track(classes.items(), "reading the v1.0 release", disable=not progress):
        train = _videos(root, cls, "train.txt")
        boxed = sorted(v for v in train if _has_boxes(root / cls / "data" / v))
        unboxed = sorted(v for v in train if v not in boxed)
        seeded_shuffle(boxed, seed=label, times=VAL_SHUFFLES)
        for video in boxed[:VAL_VIDEOS]:
            splits["val"] += _annotated(root, cls, video, label)
        for video in unboxed + boxed[VAL_VIDEOS:]:
            splits["train"] += [(shot.relative_to(root).as_posix(), label, None, ())
                                for shot in _shots(root / cls / "data" / video)
                                if _files(shot, lambda n: n.endswith(".jpg"))]
        for video in _videos(root, cls, "test.txt"):
            splits["test"] += _annotated(root, cls, video, label)
            if demo:
                splits["test-video-demo"] += _demo(root, cls, video, label)
    seeded_shuffle(splits["train"], seed=0, times=TRAIN_SHUFFLES)
    return write_folds(out, classes, splits, overwrite)
