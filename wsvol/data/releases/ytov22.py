"""YouTube-Objects v2.2 folds (and the frame tree they name) from the release, as TCAM's
``_video_ds_ytov2_2.py`` makes them (sbelharbi/tcam-wsol-video; the same folds are published in
sbelharbi/colo-cam, ``folds/wsol-done-right-splits/YouTube-Objects-v2.2``).

Release layout (``YouTube-Objects-v2.2-original/`` in TCAM)::

    <class>/<NNNNNNNN>.jpg                            every frame of the class, numbered over all its videos
    Ranges/ranges_<class>.mat                         'ranges': 3 × shots (first frame, last frame, video)
    GroundTruth/<class>/bb_gtTraining_<class>.mat     'bb_gtTraining': records (id '<class><NNNNNNNN>', k×4 boxes)
    GroundTruth/<class>/bb_gtTest_<class>.mat         'bb_gtTest': the same for the test frames

* shot ``i`` of a class is column ``i`` of its ranges (frames first..last, inclusive); its frames
  become ``<class>/video-VVVV/shot-IIIIII/NNNNNNNN.jpg`` in the data root (linked or copied);
* a video with a ``bb_gtTraining`` frame is a training video, one with a ``bb_gtTest`` frame a test
  video; val = the first 3 training videos of each class in ranges order (no randomness) and
  their ``bb_gtTraining`` frames; train = one entry per shot of the other training videos,
  shuffled 10 000 times (seed 0); test = the ``bb_gtTest`` frames in file order;
* boxes: negative coordinates become 0, nothing else (the release's integer, apparently 1-based
  inclusive coordinates are kept, as in the published folds);
* test-video-demo (optional): every frame of the test videos, ``0,0,0,0`` where unannotated
  (TCAM's own script gives every frame the null box there: it looks frames up by the wrong key).
A frame that two shots share (horse 38465 in the release) is linked into both folders; its boxes
go to the later shot, as in TCAM.
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
from wsvol.data.fold_files import DataError
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

VAL_VIDEOS = 3
TRAIN_SHUFFLES = 10_000
FRAME_MODES = ("link", "copy", "symlink", "none")


@dataclass
class Shot:
    """Column ``index`` of a class's ranges: frames ``first``..``last`` (inclusive) of ``video``."""

    index: int
    video: int
    first: int
    last: int

    def frame_id(self, cls: str, number: int) -> str:
        """The prepared id of frame ``number`` in this shot."""
        return f"{cls}/video-{self.video:04d}/shot-{self.index:06d}/{number:08d}.jpg"

    @property
    def numbers(self) -> range:
        return range(self.first, self.last + 1)


def read_ranges(path: Path) -> list[Shot]:
    """The shots of ``Ranges/ranges_<class>.mat``."""
    ranges = np.asarray(load_mat(path, "ranges"))
    if ranges.ndim != 2 or ranges.shape[0] != 3 or ranges.dtype.kind not in "iuf":
        raise DataError(f"{path}: 'ranges' must be a 3 × shots number array (first frame, last frame, "
                        f"video), got {ranges.dtype} {ranges.shape}")
    if ranges.dtype.kind == "f" and not np.array_equal(ranges, np.round(ranges)):
        raise DataError(f"{path}: 'ranges' holds non-integer frame or video numbers")
    shots = [Shot(i, int(v), int(a), int(b)) for i, (a, b, v) in enumerate(ranges.T.tolist())]
    bad = [f"{path}: shot {s.index} (column {s.index + 1}) runs from frame {s.first} to {s.last}"
           for s in shots if s.last < s.first or s.first < 0 or s.video < 0]
    if bad:
        raise DataError(f"{path}: invalid shots", bad)
    return shots


def read_ground_truth(path: Path, variable: str, cls: str) -> list[tuple[int, np.ndarray]]:
    """(frame number, k×4 boxes) of each record of a ``bb_gt*`` file, in file order."""
    records = np.asarray(load_mat(path, variable))
    out = []
    for k, record in enumerate(records.reshape(-1)):
        where = f"{path} ({variable} record {k + 1})"
        try:
            name, boxes = record
            name = str(np.asarray(name).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            raise DataError(f"{where}: expected a record (frame id, boxes), got {record!r}") from None
        number = name[len(cls):]
        if not name.startswith(cls) or not number.isdigit():
            raise DataError(f"{where}: frame id {name!r} is not '{cls}' followed by the frame number")
        boxes = np.asarray(boxes)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] == 0 or boxes.dtype.kind not in "iuf":
            raise DataError(f"{where}: boxes of {name!r} must be a k × 4 number array, got {boxes.dtype} {boxes.shape}")
        out.append((int(number), boxes))
    return out


def _boxes(boxes: np.ndarray, frame: Path, where: str) -> tuple[tuple[int, int], list[list]]:
    size = image_size(frame)
    out = [relu_box(row) for row in boxes]
    for k, box in enumerate(out):
        check_box(box, size, f"{where} (box {k + 1})")
    return size, out


def _place(src: Path, dst: Path, mode: str) -> None:
    """Put frame ``src`` at ``dst`` (hard link, falling back to a copy across devices; copy; or
    symlink); an existing ``dst`` that is already this frame is kept."""
    if dst.exists() and (os.path.samefile(src, dst) or (mode == "copy" and dst.stat().st_size == src.stat().st_size)):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        if mode == "symlink":
            os.symlink(src.resolve(), tmp)
        elif mode == "link":
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
        else:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def prepare_ytov22(
    release_dir: str | Path,
    out: str | Path,
    data_root: str | Path | None = None,
    frames: str = "link",
    demo: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, int]:
    """Write ``class_id.yaml`` and train/val/test (and ``test-video-demo`` with ``demo``) under
    ``out`` from the v2.2 release in ``release_dir``, and (``frames`` ≠ ``"none"``) the frames of
    every shot under ``data_root`` at the paths the folds name; returns entries per split."""
    from wsvol.utils.terminal import make_progress

    if frames not in FRAME_MODES:
        raise ValueError(f"frames must be one of {FRAME_MODES}, got {frames!r}")
    if frames != "none" and data_root is None:
        raise ValueError("data_root is needed to place the frames (or frames='none')")
    root, out = Path(release_dir), Path(out)
    classes = dict(YOUTUBE_OBJECTS_CLASS_MAP)
    absent = [p for c in classes for p in (root / c, root / "Ranges" / f"ranges_{c}.mat",
                                          root / "GroundTruth" / c) if not p.exists()]
    if absent:
        raise DataError(f"{root} is not the YouTube-Objects v2.2 release folder (the <class>, Ranges and "
                        "GroundTruth archives unpacked there); missing:", map(str, absent))
    check_out(root, out)

    splits: dict[str, list[FoldEntry]] = {"train": [], "val": [], "test": []}
    if demo:
        splits["test-video-demo"] = []
    every_shot: list[tuple[str, Shot]] = []  # the frames of every shot are placed in the data root
    for cls, label in classes.items():
        shots = read_ranges(root / "Ranges" / f"ranges_{cls}.mat")
        long_id: dict[int, str] = {}  # frame number → id (a frame in two shots: the later one)
        shared = []
        for shot in shots:
            for n in shot.numbers:
                if n in long_id:
                    shared.append(n)
                long_id[n] = shot.frame_id(cls, n)
            every_shot.append((cls, shot))
        if shared:
            warnings.warn(f"{cls}: frames {shared[:5]} belong to two shots in ranges_{cls}.mat; their "
                          "boxes go to the later shot (as in TCAM)", stacklevel=2)
        gt: dict[str, dict[str, tuple]] = {"train": {}, "test": {}}
        for split, variable in (("test", "bb_gtTest"), ("train", "bb_gtTraining")):
            path = root / "GroundTruth" / cls / f"{variable}_{cls}.mat"
            for k, (n, boxes) in enumerate(read_ground_truth(path, variable, cls)):
                where = f"{path} ({variable} record {k + 1}, frame {cls}{n:08d})"
                if n not in long_id:
                    raise DataError(f"{where}: the frame is in no shot of ranges_{cls}.mat")
                fid = long_id[n]
                if fid in gt["train"] or fid in gt["test"]:
                    raise DataError(f"{where}: the frame has boxes twice (in {variable} or in both files)")
                gt[split][fid] = _boxes(boxes, root / cls / f"{n:08d}.jpg", where)

        videos: dict[str, dict[int, list[Shot]]] = {"train": {}, "test": {}}
        by_video: dict[int, list[Shot]] = {}
        for shot in shots:
            by_video.setdefault(shot.video, []).append(shot)
        for video, its_shots in by_video.items():
            for shot in its_shots:
                ids = [long_id[n] for n in shot.numbers]
                hit = [s for s in ("train", "test") if any(i in gt[s] for i in ids)]
                if len(hit) == 2:
                    raise DataError(f"ranges_{cls}.mat: shot {shot.index} holds frames of both "
                                    "bb_gtTraining and bb_gtTest")
                for s in hit:
                    videos[s].setdefault(video, its_shots)
        train_videos = list(videos["train"])
        for video in train_videos[:VAL_VIDEOS]:
            splits["val"] += [(fid, label, *gt["train"][fid]) for shot in by_video[video]
                              for fid in (shot.frame_id(cls, n) for n in shot.numbers) if fid in gt["train"]]
        for video in train_videos[VAL_VIDEOS:]:
            splits["train"] += [(f"{cls}/video-{video:04d}/shot-{shot.index:06d}", label, None, ())
                                for shot in by_video[video]]
        splits["test"] += [(fid, label, *value) for fid, value in gt["test"].items()]
        if demo:
            for video in videos["test"]:
                for shot in by_video[video]:
                    for n in shot.numbers:
                        fid = shot.frame_id(cls, n)
                        size, boxes = gt["test"].get(fid) or (image_size(root / cls / f"{n:08d}.jpg"), [NULL_BOX])
                        splits["test-video-demo"].append((fid, label, size, boxes))

    missing = [path for cls, shot in every_shot for n in shot.numbers
               if not os.path.isfile(path := os.path.join(root, cls, f"{n:08d}.jpg"))]
    if missing:
        raise DataError(f"{len(missing)} frames that the ranges name are missing from the release "
                        f"(first: {missing[0]})")
    seeded_shuffle(splits["train"], seed=0, times=TRAIN_SHUFFLES)
    counts = write_folds(out, classes, splits, overwrite)
    if frames != "none":
        data_root = Path(data_root)
        with make_progress(disable=not progress) as bar:
            task = bar.add_task(f"placing frames ({frames})", total=sum(len(s.numbers) for _, s in every_shot))
            for cls, shot in every_shot:
                for n in shot.numbers:
                    _place(root / cls / f"{n:08d}.jpg", data_root / shot.frame_id(cls, n), frames)
                bar.advance(task, len(shot.numbers))
    return counts
