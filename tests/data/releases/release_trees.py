"""Stand-in YouTube-Objects releases in the releases' own layouts (frames, ``.mat`` files written
with ``scipy.io.savemat`` in the variables, shapes and conventions TCAM's scripts read), for the
``wsvol data prepare`` tests. Frames are small black JPEGs of the given sizes (only their headers
are read)."""

from __future__ import annotations

import functools
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
