"""Stand-in frames for fold files whose real frames are not at hand: every listed frame at its
listed size with an object of its class drawn inside each true box, and a few frames in every
listed shot folder, so that a config can run end to end on the real fold files (rehearsal).

The pictures mean nothing: numbers measured on them say nothing about a method. The data root
gets a ``wsvol-standin.json`` marker, which ``wsvol data check`` reports.

Speed: the frames of a video's shots share a few rendered pictures (frames of unlisted size take
a size of their class's listed frames), and only frames with boxes are rendered one by one, so
the real v1.0 folds (2 768 train shots, 325 val and 346 test frames) take seconds.
``test-video-demo`` (134 119 frames in v1.0) is rendered only when asked for.

:func:`subset_folds` copies a few entries per class of each split (their lines verbatim), for a
rehearsal that runs every stage on real fold lines in minutes rather than hours.
"""

from __future__ import annotations

import json
import os
import re
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from wsvol.data.fold_files import DataError, fold_lines, read_class_map
from wsvol.data.folds import FOLD_FILES, Split, read_split
from wsvol.data.frame_ids import video_of_shot
from wsvol.data.sprites import object_sprite
from wsvol.utils.files import atomic_write_text

MARKER = "wsvol-standin.json"
DEFAULT_SPLITS = ("train", "val", "test")
DEFAULT_SIZE = (480, 360)


def _rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator for ``keys`` that does not depend on Python's hash salt."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def _background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth colour field with blocky noise (uint8 H×W×3), drawn small and enlarged."""
    w, h = size
    coarse = cv2.resize(rng.integers(30, 226, (4, 6, 3), dtype=np.uint8), (max(1, w // 8), max(1, h // 8)),
                        interpolation=cv2.INTER_LINEAR).astype(np.int16)
    coarse += rng.integers(-12, 13, coarse.shape[:2], dtype=np.int16)[..., None]
    return cv2.resize(np.clip(coarse, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)


def _draw(img: np.ndarray, sprite: tuple[np.ndarray, np.ndarray], box: Sequence[float]) -> None:
    """Draw ``sprite`` (uint8 colour, bool coverage) stretched over ``box`` (inclusive pixels,
    clipped to the frame)."""
    h, w = img.shape[:2]
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(w - 1, int(box[2])), min(h - 1, int(box[3]))
    if x1 < x0 or y1 < y0:
        return
    size = (x1 - x0 + 1, y1 - y0 + 1)
    rgb = cv2.resize(sprite[0], size, interpolation=cv2.INTER_LINEAR)
    cover = cv2.resize(sprite[1], size, interpolation=cv2.INTER_NEAREST)
    cv2.copyTo(rgb, cover, img[y0 : y1 + 1, x0 : x1 + 1])  # into the view, in place; ~100x np.copyto(where=)


class _Renderer:
    """Pictures of frames: a background per video (kept), the class's object in each box."""

    def __init__(self, class_names: list[str], seed: int, quality: int):
        self.seed, self.params = seed, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        self.class_names = class_names
        self.sprites = {}
        for c in class_names:
            sprite = object_sprite(c, _rng(seed, "sprite", c))
            self.sprites[c] = ((np.clip(sprite.rgb, 0, 1) * 255).astype(np.uint8),
                               (sprite.alpha > 0.5).astype(np.uint8))
        self.backgrounds: dict[tuple[str, tuple[int, int]], np.ndarray] = {}

    def background(self, video: str, size: tuple[int, int]) -> np.ndarray:
        key = (video, tuple(size))
        if key not in self.backgrounds:
            self.backgrounds[key] = _background(size, _rng(self.seed, "background", video))
        return self.backgrounds[key]

    def encode(self, video: str, label: int, size: tuple[int, int], boxes: Sequence[Sequence[float]],
               variant: str) -> bytes:
        """JPEG bytes of a frame of ``video``: its background, the class's object in each box."""
        img = self.background(video, size).copy()
        sprite = self.sprites[self.class_names[label]]
        for box in boxes:
            _draw(img, sprite, box)
        if not len(boxes):  # an object somewhere, so that every frame shows its class
            rng = _rng(self.seed, "object", video, variant)
            w, h = size
            bw, bh = (rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h)
            x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            _draw(img, sprite, (x0, y0, x0 + bw - 1, y0 + bh - 1))
        ok, data = cv2.imencode(".jpg", img, self.params)  # colours are arbitrary: no RGB→BGR copy
        if not ok:
            raise OSError(f"could not encode a stand-in frame of {video}")
        return data.tobytes()


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary name (a killed run leaves no half frame; no fsync: stand-ins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _name_template(splits: Sequence[Split]) -> str:
    """File names for frames in shot folders, after the listed frames' (``frame0001.jpg``)."""
    for split in splits:
        for fid in split.listed:
            m = re.fullmatch(r"(.*?)(\d+)(\.[A-Za-z]+)", fid.rsplit("/", 1)[1])
            if m:
                return f"{m[1]}{{:0{len(m[2])}d}}{m[3]}"
    return "frame{:04d}.jpg"


def render_standin(
    folds_root: str | Path,
    data_root: str | Path,
    splits: Sequence[str] = DEFAULT_SPLITS,
    frames_per_shot: int = 3,
    seed: int = 0,
    quality: int = 80,
    workers: int = 4,
    progress: bool = True,
) -> dict[str, int]:
    """Write stand-in frames under ``data_root`` for every id of ``splits`` of ``folds_root``;
    returns the frames written per split."""
    from wsvol.utils.terminal import track

    if frames_per_shot < 1:
        raise ValueError(f"frames_per_shot must be >= 1, got {frames_per_shot}")
    folds_root, data_root = Path(folds_root), Path(data_root)
    if data_root.is_dir() and not (data_root / MARKER).is_file() and any(data_root.iterdir()):
        raise DataError(f"{data_root} holds files and no {MARKER}: stand-in frames go into a folder of "
                        "their own (they would replace real frames)")
    classes = read_class_map(folds_root / "class_id.yaml")
    read = [read_split(folds_root, s, classes, require_boxes=False) for s in splits]
    renderer = _Renderer(sorted(classes, key=classes.__getitem__), seed, quality)
    sizes: dict[int, list[tuple[int, int]]] = {}  # class → listed sizes
    for split in read:
        for f in split.listed.values():
            sizes.setdefault(f.label, []).append(f.size)
    pools = {c: sorted(set(v)) for c, v in sizes.items()}
    template = _name_template(read)

    def video_size(video: str, label: int) -> tuple[int, int]:
        pool = pools.get(label) or [DEFAULT_SIZE]
        return pool[zlib.crc32(video.encode()) % len(pool)]

    shared: dict[tuple[str, int], bytes] = {}  # (video, variant) → picture shared by its shots

    def picture(video: str, label: int, variant: int) -> bytes:
        key = (video, variant)
        if key not in shared:
            shared[key] = renderer.encode(video, label, video_size(video, label), (), str(variant))
        return shared[key]

    written: dict[str, int] = {}
    with ThreadPoolExecutor(max(1, workers)) as pool:  # OpenCV resizes and encodes off the GIL
        for split in read:
            jobs: list[tuple[Path, Callable[..., bytes], tuple]] = []  # (file, renderer, its arguments)
            for e in split.entries:
                if e.is_shot:
                    video = video_of_shot(e.entry_id)
                    jobs += [(data_root / e.entry_id / template.format(k + 1), picture, (video, e.label, k))
                             for k in range(frames_per_shot)]
                    continue
                f = split.listed[e.entry_id]
                if len(f.boxes) or f.size != video_size(f.video_id, f.label):
                    jobs.append((data_root / f.frame_id, renderer.encode,
                                 (f.video_id, f.label, f.size, f.boxes, f.frame_id)))
                else:
                    jobs.append((data_root / f.frame_id, picture, (f.video_id, f.label, 0)))
            results = pool.map(lambda job: _write(job[0], job[1](*job[2])), jobs)
            for _ in track(results, f"stand-in frames of {split.name}", len(jobs), disable=not progress):
                pass
            written[split.name] = len(jobs)
    marker = data_root / MARKER
    previous = json.loads(marker.read_text()) if marker.is_file() else {}
    atomic_write_text(marker, json.dumps({
        "what": "stand-in frames written by `wsvol data standin`: not the real dataset; results on "
                "them mean nothing",
        "folds_root": str(folds_root), "seed": seed, "frames_per_shot": frames_per_shot,
        "splits": {**previous.get("splits", {}), **written},
    }, indent=2))
    return written


def subset_folds(folds_root: str | Path, out: str | Path, per_class: int,
                 splits: Sequence[str] = DEFAULT_SPLITS, at_most: Mapping[str, int] | None = None) -> dict[str, int]:
    """Write to ``out`` the fold files of ``splits`` reduced to ``per_class`` entries (frames, or
    shots where a split lists shots) of each class, spread evenly over the class's entries in file
    order, and to at most ``at_most[split]`` entries, taken from the classes in turn; their lines
    are copied verbatim, ``class_id.yaml`` too. Returns the entries per split."""
    from wsvol.utils.files import atomic_open

    at_most = dict(at_most or {})
    if per_class < 1 or any(n < 1 for n in at_most.values()):
        raise ValueError(f"per_class and at_most must be >= 1, got {per_class} and {at_most}")
    if set(at_most) - set(splits):
        raise ValueError(f"at_most names splits that are not subset: {sorted(set(at_most) - set(splits))}")
    folds_root, out = Path(folds_root), Path(out)
    if out.resolve() == folds_root.resolve():
        raise DataError(f"{out}: the subset would replace the fold files it is made from")
    kept: dict[str, int] = {}
    for name in splits:
        split = read_split(folds_root, name, require_boxes=False)  # validated before anything is written
        by_class: dict[int, list[str]] = {}
        for e in split.entries:
            by_class.setdefault(e.label, []).append(e.entry_id)
        picks = [[ids[i] for i in np.linspace(0, len(ids) - 1, min(per_class, len(ids))).round().astype(int)]
                 for _, ids in sorted(by_class.items())]
        in_turn = [p[r] for r in range(per_class) for p in picks if r < len(p)]  # round r: each class's r-th
        chosen = set(in_turn[: at_most.get(name, len(in_turn))])
        (out / name).mkdir(parents=True, exist_ok=True)
        for file in FOLD_FILES:
            src = split.directory / file
            if not src.is_file():
                continue
            lines = src.read_text(encoding="utf-8-sig").splitlines()
            keep = {n for n, fields in fold_lines(src) if fields[0] in chosen}
            with atomic_open(out / name / file, "wb") as f:
                f.write("".join(f"{line}\n" for n, line in enumerate(lines, 1) if n in keep).encode("utf-8"))
        kept[name] = len(chosen)
    with atomic_open(out / "class_id.yaml", "wb") as f:
        f.write((folds_root / "class_id.yaml").read_bytes())
    return kept
