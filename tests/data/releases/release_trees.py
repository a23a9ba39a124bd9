"""Stand-in YouTube-Objects releases in the releases' own layouts (frames, ``.mat`` files written
with ``scipy.io.savemat`` in the variables, shapes and conventions TCAM's scripts read), for the
``wsvol data prepare`` tests. Frames are small black JPEGs of the given sizes (only their headers
are read)."""

from __future__ import annotations

import csv
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import scipy.io

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES

Box = Sequence[float]


@functools.cache
def jpeg(size: tuple[int, int]) -> bytes:
    """A black JPEG of ``size`` (width, height)."""
    ok, data = cv2.imencode(".jpg", np.zeros((size[1], size[0], 3), np.uint8))
    assert ok
    return data.tobytes()


def write_v1_release(
    root: Path,
    sets: Mapping[str, Mapping[str, Iterable[str]]],
    frames: Mapping[str, tuple[tuple[int, int], Sequence[Box] | None]],
    empty_shots: Iterable[str] = (),
) -> Path:
    """The v1.0 layout: ``<class>/sets/{train,test}.txt`` (``sets[class][listing]`` = video names),
    ``<class>/data/<video>/shots/<shot>/<frame>.jpg`` for each frame id in ``frames`` (→ size,
    boxes), with ``<frame>.jpg_sticks.mat`` (cell ``coor`` of 1×4 doubles) where boxes are given."""
    for cls, listings in sets.items():
        (root / cls / "sets").mkdir(parents=True, exist_ok=True)
        for listing, videos in listings.items():
            (root / cls / "sets" / listing).write_text("".join(f"{v}\n" for v in videos))
    for fid, (size, boxes) in frames.items():
        path = root / fid
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg(tuple(size)))
        if boxes is not None:
            coor = np.empty((1, len(boxes)), object)
            for k, box in enumerate(boxes):
                coor[0, k] = np.asarray(box, np.float64).reshape(1, 4)
            scipy.io.savemat(str(path) + "_sticks.mat", {"coor": coor})
    for shot in empty_shots:
        (root / shot).mkdir(parents=True, exist_ok=True)
    (root / "code").mkdir(exist_ok=True)  # the code archive: not a class
    return root


#: Training videos of the published v1.0 folds without any box in the release (TCAM's selection
#: reproduces the zip with exactly these; every other training video has at least one ``_sticks.mat``).
V1_UNBOXED = {"dog/data/0015", "dog/data/0016", "dog/data/0019", "motorbike/data/0009", "motorbike/data/0010"}
#: The two frames whose boxes TCAM's script fixes (reversed; past the frame).
V1_HORSE, V1_BOAT = "horse/data/0004/shots/055/frame0020.jpg", "boat/data/0006/shots/026/frame0001.jpg"


def write_v1_release_from_folds(folds: Path, root: Path, limit: int | None = None,
                                classes: Iterable[str] | None = None) -> Path:
    """A v1.0 release tree holding what the published folds name: the val/test frames at their
    sizes with their boxes as the release has them (before TCAM's clean-up), one frame per train
    shot, a ``_sticks.mat`` in every boxed training video. ``limit``: at most that many test and
    train videos per class, and frames (val, test) or shots (train) per video; every val video stays
    (TCAM's choice takes 5 per class). ``classes``: only these hold videos (the others' ``sets/``
    list none)."""
    wanted = set(YOUTUBE_OBJECTS_CLASSES if classes is None else classes)

    def video(entry: str) -> str:
        return "/".join(entry.split("/")[:3])

    def kept(entry: str, seen: dict, per_class: bool) -> bool:
        """Count ``entry`` in its video (and the video in its class); False past the limit."""
        if entry.split("/")[0] not in wanted:
            return False
        if limit is None:
            return True
        v = video(entry)
        videos = seen.setdefault(v.split("/")[0], {})
        if v not in videos and per_class and len(videos) >= limit:
            return False
        videos[v] = videos.get(v, 0) + 1
        return videos[v] <= limit

    frames: dict[str, tuple] = {}
    sets: dict[str, dict[str, set]] = {c: {"train.txt": set(), "test.txt": set()} for c in YOUTUBE_OBJECTS_CLASSES}
    for split in ("val", "test"):
        sizes = {r[0]: (int(r[1]), int(r[2])) for r in csv.reader(open(folds / split / "image_sizes.txt"))}
        boxes = defaultdict(list)
        for row in csv.reader(open(folds / split / "localization.txt")):
            box = [float(v) for v in row[1:]]
            box = [-1.25 if v == 0 else v for v in box]  # the release's negatives, clamped to 0 by TCAM
            if row[0] == V1_HORSE:
                box = [box[2], box[1], box[0], box[3]]  # reversed in the release
            if row[0] == V1_BOAT and box[2] == 1279:
                box[2] = 1283.75  # past the 1280 frame in the release
            boxes[row[0]].append(box)
        seen: dict = {}
        for fid, size in sizes.items():
            if kept(fid, seen, per_class=split == "test"):
                frames[fid] = (size, boxes[fid])
                sets[fid.split("/")[0]]["test.txt" if split == "test" else "train.txt"].add(fid.split("/")[2])
    boxed_video_done: set = set()
    seen = {}
    for shot in (folds / "train" / "image_ids.txt").read_text().splitlines():
        if not kept(shot, seen, per_class=True):
            continue
        v = video(shot)
        boxed = v not in V1_UNBOXED and v not in boxed_video_done
        boxed_video_done.add(v)
        frames[f"{shot}/frame0001.jpg"] = ((4, 4), [[0.5, 0.5, 2.5, 2.5]] if boxed else None)
        sets[shot.split("/")[0]]["train.txt"].add(shot.split("/")[2])
    empty = ["aeroplane/data/0013/shots/999"] if limit is None else []  # an empty shot folder: TCAM skips it
    return write_v1_release(root, {c: {k: sorted(v) for k, v in s.items()} for c, s in sets.items()}, frames, empty)


def write_v22_release(
    root: Path,
    shots: Mapping[str, Sequence[tuple[int, int, int]]],
    ground_truth: Mapping[str, Mapping[str, Sequence[tuple[int, np.ndarray]]]],
    sizes: Mapping[tuple[str, int], tuple[int, int]],
) -> Path:
    """The v2.2 layout: ``<class>/<NNNNNNNN>.jpg`` for every frame of ``shots[class]`` ((video,
    first, last), one column of ``Ranges/ranges_<class>.mat`` each, 3 × shots int32), at the size
    of its video; ``GroundTruth/<class>/<var>_<class>.mat`` with ``var`` (``bb_gtTraining`` or
    ``bb_gtTest``) a 1 × N struct array of (frame id ``<class><NNNNNNNN>``, k × 4 int boxes)."""
    for cls in YOUTUBE_OBJECTS_CLASSES:
        (root / cls).mkdir(parents=True, exist_ok=True)
        (root / "GroundTruth" / cls).mkdir(parents=True, exist_ok=True)
        (root / "Ranges").mkdir(exist_ok=True)
        its = shots.get(cls, ())
        for video, first, last in its:
            for n in range(first, last + 1):
                (root / cls / f"{n:08d}.jpg").write_bytes(jpeg(tuple(sizes[cls, video])))
        ranges = np.array([[a for _, a, _ in its], [b for _, _, b in its], [v for v, _, _ in its]],
                          np.int32).reshape(3, len(its))
        scipy.io.savemat(str(root / "Ranges" / f"ranges_{cls}.mat"), {"ranges": ranges})
        for var in ("bb_gtTraining", "bb_gtTest"):
            records = ground_truth.get(cls, {}).get(var, ())
            table = np.zeros((1, len(records)), dtype=[("id", object), ("bb", object)])
            for k, (n, boxes) in enumerate(records):
                table[0, k] = (f"{cls}{n:08d}", np.asarray(boxes, np.int32).reshape(-1, 4))
            scipy.io.savemat(str(root / "GroundTruth" / cls / f"{var}_{cls}.mat"), {var: table})
    for extra in ("OpticalFlow", "UsefulFiles"):  # other archives of the release: ignored
        (root / extra).mkdir(exist_ok=True)
    return root
