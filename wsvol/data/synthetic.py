"""An embedded synthetic video dataset in the YouTube-Objects layout, generated procedurally.

Each of the ten YouTube-Objects classes is an object family (a shape drawn with OpenCV, with
random proportions). Only a small part of each object -- the *patch* -- carries a texture and
colours proper to its class; the rest of the body takes its textures from a pool shared by all
classes and by the class-neutral distractors. A classifier therefore needs only the patch, and
its CAM covers part of the object, while the true box is the whole object.

Videos are split into shots; in every frame one object of the video's class moves over a
textured, cluttered background with distractors, under camera pan, scale change and partial
occlusion. Box areas are log-uniform over 10-60 % of the frame (more small and medium objects)
and objects go anywhere in the frame, partly out of it at times, so that no fixed box (a
centred one, say) localizes many of them. Splits are by video. Val/test frames get exact boxes
(the bounding box of the visible object mask, inclusive pixel coordinates) and masks. The
output is byte-identical for a given seed and size with the same NumPy and OpenCV builds. OpenCV
5.0 and 5.1 give the same masks, boxes and fold files and JPEG frames that differ by a few levels
in a few frames; OpenCV 4.x draws the objects differently (hence ``opencv-python>=5.0``).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES as CLASSES
from wsvol.data.sprites import (
    Sprite,
    composite,
    distractor_sprite,
    object_sprite,
    placement,
    scene_background,
    warp,
)
from wsvol.utils.files import remove_stale_partials, temp_path
from wsvol.utils.terminal import make_console, make_progress

__all__ = [
    "BOX_AREA_RANGE",
    "SIZES",
    "VERSION",
    "SyntheticSize",
    "generate_synthetic",
    "mask_box",
]

VERSION = 2
#: Every object's box (visible mask, inclusive pixels) covers this fraction of its frame.
BOX_AREA_RANGE = (0.10, 0.60)
#: The occluder and the frame's edges together hide at most this fraction of the object's pixels.
MAX_OCCLUDED = 0.4
#: At least this fraction of the object's pixels lies inside the frame ...
MIN_INSIDE = 0.75
#: ... and at most this fraction of its box's width (height) crosses the left/right (top/bottom) edge.
MAX_OUTSIDE = 0.15
#: At least this fraction of the class patch is visible, so that every frame shows its class.
MIN_PATCH_SEEN = 0.3
_AREA_DRAW = (0.11, 0.62)  # log-uniform range of the planned box area (fraction of the frame)
JPEG_QUALITY = 90
_TRIES = 40


@dataclass(frozen=True)
class SyntheticSize:
    """How many videos/shots/frames a size preset generates, and the frame size."""

    frame_size: tuple[int, int]  # (width, height)
    train_videos: int  # per class
    val_videos: int
    test_videos: int
    train_shots: int  # per video
    train_frames: int  # per shot
    eval_shots: int
    eval_frames: int


SIZES: dict[str, SyntheticSize] = {
    "tiny": SyntheticSize((80, 60), 2, 1, 1, 2, 2, 1, 3),
    "small": SyntheticSize((160, 120), 24, 5, 10, 3, 4, 2, 2),
    "medium": SyntheticSize((224, 168), 60, 10, 25, 5, 5, 2, 3),
}


def _lerp(a, b, t: float):
    return a + (b - a) * t


def _box_scale(sw: int, sh: int, stretch: float, area: float, deg: float, W: int, H: int):
    """Sprite scales (sx, sy) and rotated box size (bw, bh) for a box of ``area`` × the frame."""
    c, si = abs(np.cos(np.deg2rad(deg))), abs(np.sin(np.deg2rad(deg)))
    ux, uy = np.sqrt(stretch), 1 / np.sqrt(stretch)
    bw1, bh1 = sw * ux * c + sh * uy * si, sw * ux * si + sh * uy * c
    s = np.sqrt(area * W * H / (bw1 * bh1))
    s *= min(1.0, (W - 4) / (bw1 * s), (H - 4) / (bh1 * s))  # the rotated box fits in the frame
    return ux * s, uy * s, bw1 * s, bh1 * s


def _plan_shot(
    obj: Sprite,
    stretch: float,
    W: int,
    H: int,
    cw: int,
    ch: int,
    n: int,
    rng: np.random.Generator,
    safe: bool,
):
    """Per-frame placement of the object, of an optional occluder, and of the camera for a shot.

    The box area is log-uniform (more small and medium objects than large ones) and the centre
    anywhere that keeps the object mostly in the frame, so that no fixed box fits many frames.
    ``safe`` gives a placement that always passes `_frame_ok`: upright, whole and unoccluded.
    """
    sh, sw = obj.alpha.shape
    if safe:
        area, deg, out = [0.3, 0.3], [0.0, 0.0], 0.0
    else:
        a0 = float(np.exp(rng.uniform(*np.log(_AREA_DRAW))))
        area = [a0, float(np.clip(a0 * np.exp(rng.uniform(-0.35, 0.35)), *_AREA_DRAW))]
        deg, out = [rng.uniform(-10, 10), rng.uniform(-10, 10)], MAX_OUTSIDE
    scales = [_box_scale(sw, sh, stretch, a, d, W, H) for a, d in zip(area, deg)]
    bw, bh = max(s[2] for s in scales), max(s[3] for s in scales)
    # `out` of the box's side may leave the frame on any edge; 1 px of slack when it may not
    lo = np.array([bw * (0.5 - out), bh * (0.5 - out)]) + (1 if safe else 0)
    hi = np.array([W, H]) - lo
    # a path through up to three uniform waypoints: a straight one would pull mid-shot frames
    # towards the frame's centre
    way = rng.uniform(lo, hi, (min(max(n, 2), 3), 2))
    p0 = way[0]
    cam0, cam1 = rng.uniform(0, [cw - W, ch - H]), rng.uniform(0, [cw - W, ch - H])
    occ = None
    if not safe and rng.random() < 0.5:
        occ = distractor_sprite(rng)
        so = np.sqrt(rng.uniform(0.15, 0.35) * scales[0][2] * scales[0][3] / occ.alpha.size)
        o0 = p0 + rng.uniform(-0.6, 0.6, 2) * [bw, bh]
        o1 = o0 + rng.uniform(-0.5, 0.5, 2) * [bw, bh]
        odeg = rng.uniform(-45, 45)
    frames = []
    for k in range(n):
        t = k / (n - 1) if n > 1 else 0.5
        sx, sy = _lerp(scales[0][0], scales[1][0], t), _lerp(scales[0][1], scales[1][1], t)
        cx, cy = (np.interp(t, np.linspace(0, 1, len(way)), way[:, i]) for i in (0, 1))
        f = {
            "obj": placement(obj, cx, cy, sx, sy, _lerp(deg[0], deg[1], t)),
            "cam": np.round(_lerp(cam0, cam1, t)).astype(int),
            "scale": sx * sy,  # frame pixels per sprite pixel
        }
        if occ is not None:
            f["occ"] = (occ, placement(occ, *_lerp(o0, o1, t), so, so, odeg))
        frames.append(f)
    return frames


def _visible(
    obj_alpha: np.ndarray, plan: dict, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The visible object mask and the occluder's (colour, coverage), if any."""
    mask = obj_alpha >= 0.5
    occ = None
    if "occ" in plan:
        occ = warp(plan["occ"][0], plan["occ"][1], size)
        mask &= occ[1] < 0.5
    return mask, occ


def _frame_ok(obj: Sprite, plan: dict, obj_alpha: np.ndarray, mask: np.ndarray) -> bool:
    """Whether a placed object is mostly in the frame, little occluded, its patch seen, its box in range."""
    whole = float(obj.alpha.sum()) * plan["scale"]  # the object's area were the frame unbounded
    if float(obj_alpha.sum()) < MIN_INSIDE * whole or mask.sum() < (1 - MAX_OCCLUDED) * whole:
        return False
    patch = cv2.warpAffine(obj.patch.astype(np.float32), plan["obj"], mask.shape[::-1]) >= 0.5
    if (patch & mask).sum() < MIN_PATCH_SEEN * float(obj.patch.sum()) * plan["scale"]:
        return False
    x0, y0, x1, y1 = mask_box(mask)
    frac = (x1 - x0 + 1) * (y1 - y0 + 1) / mask.size
    return BOX_AREA_RANGE[0] <= frac <= BOX_AREA_RANGE[1]


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1), inclusive pixel coordinates, of a non-empty mask."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise ValueError("mask_box: the mask is empty")
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def render_video(name: str, rng: np.random.Generator, W: int, H: int, shots: int, frames: int):
    """All frames of one video as [shot][frame] -> (RGB uint8 image, visible object mask)."""
    obj = object_sprite(name, rng)
    if rng.random() < 0.5:  # facing left
        obj = Sprite(obj.rgb[:, ::-1].copy(), obj.alpha[:, ::-1].copy(), obj.patch[:, ::-1].copy())
    stretch = float(np.exp(rng.uniform(-0.15, 0.15)))
    cw, ch = int(W * 1.8), int(H * 1.5)
    bg = scene_background(cw, ch, W * H, rng)
    gain = rng.uniform(0.9, 1.1, 3).astype(np.float32)
    out = []
    for _ in range(shots):
        for attempt in range(_TRIES + 1):
            plan = _plan_shot(obj, stretch, W, H, cw, ch, frames, rng, safe=attempt == _TRIES)
            warped = [warp(obj, p["obj"], (W, H)) for p in plan]
            vis = [_visible(a, p, (W, H)) for (_, a), p in zip(warped, plan)]
            if all(_frame_ok(obj, p, a, m) for p, (_, a), (m, _) in zip(plan, warped, vis)):
                break
        else:
            raise RuntimeError(f"synthetic {name}: no valid placement for a {W}x{H} frame")
        shot = []
        for p, (rgb, alpha), (mask, occ) in zip(plan, warped, vis):
            x, y = p["cam"]
            img = composite(bg[y : y + H, x : x + W], rgb, alpha)
            if occ is not None:
                img = composite(img, *occ)
            img = img * gain * np.float32(rng.uniform(0.95, 1.05)) + 0.01 * rng.standard_normal(
                (H, W, 1), np.float32
            )
            shot.append((np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8), mask))
        out.append(shot)
    return out


# ------------------------------------------------------------------------------------ writing


def _write(path: Path, image: np.ndarray, params: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, params):
        raise OSError(f"could not write {path}")


def _split_videos(seed: int, preset: SyntheticSize) -> dict[str, list[int]]:
    """Video numbers (1-based) of each split for one class; the same for every class."""
    counts = {"train": preset.train_videos, "val": preset.val_videos, "test": preset.test_videos}
    perm = np.random.default_rng([seed, VERSION, 1_000_003]).permutation(sum(counts.values())) + 1
    out, i = {}, 0
    for split, n in counts.items():
        out[split] = sorted(int(v) for v in perm[i : i + n])
        i += n
    return out


def _write_folds(root: Path, records: dict[str, list[tuple]], W: int, H: int) -> None:
    for split, recs in records.items():
        d = root / split
        d.mkdir(parents=True)
        (d / "image_ids.txt").write_text("".join(f"{r[0]}\n" for r in recs))
        (d / "class_labels.txt").write_text("".join(f"{r[0]},{r[1]}\n" for r in recs))
        (d / "image_sizes.txt").write_text("".join(f"{r[0]},{W},{H}\n" for r in recs))
        if split != "train":
            (d / "localization.txt").write_text(
                "".join(f"{r[0]},{','.join(map(str, r[2]))}\n" for r in recs)
            )
    (root / "class_id.yaml").write_text(
        yaml.safe_dump({c: i for i, c in enumerate(CLASSES)}, sort_keys=False)
    )


def _summary(seed: int, size: str, preset: SyntheticSize, records: dict[str, list[tuple]]) -> dict:
    splits = {}
    for split, recs in records.items():
        per_class = {c: {"videos": 0, "frames": 0} for c in CLASSES}
        videos = set()
        for fid, cls, _box in recs:
            per_class[CLASSES[cls]]["frames"] += 1
            videos.add(fid.rsplit("/", 2)[0])
        for v in videos:
            per_class[v.split("/")[0]]["videos"] += 1
        splits[split] = {
            "videos": len(videos),
            "frames": len(recs),
            "boxes": len(recs) if split != "train" else 0,
            "per_class": per_class,
        }
    return {
        "seed": seed,
        "size": size,
        "version": VERSION,
        "frame_size": list(preset.frame_size),
        "splits": splits,
    }


def _print_summary(summary: dict) -> None:
    t = Table(title=f"synthetic dataset (size={summary['size']}, seed={summary['seed']})")
    for col in ("split", "videos", "frames", "boxes", "videos/class"):
        t.add_column(col, justify="left" if col == "split" else "right")
    for split, s in summary["splits"].items():
        t.add_row(
            split,
            str(s["videos"]),
            str(s["frames"]),
            str(s["boxes"]),
            str(s["per_class"][CLASSES[0]]["videos"]),
        )
    make_console().print(t)


def generate_synthetic(
    out_dir: str | Path, seed: int = 0, size: str = "small", progress: bool = True
) -> dict:
    """Write the synthetic dataset (frames, val/test masks, folds) to ``out_dir``; return counts.

    Generation happens in a sibling temporary folder renamed to ``out_dir`` at the end, so an
    interrupted run never leaves a dataset that looks complete. If ``out_dir`` already holds the
    dataset of the same seed, size and version, it is kept and its summary returned.
    """
    if size not in SIZES:
        raise ValueError(f"unknown synthetic size {size!r}; choose one of {', '.join(SIZES)}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"synthetic seed must be a non-negative int, got {seed!r}")
    seed, preset, out = int(seed), SIZES[size], Path(out_dir)
    meta_path = out / "folds" / "synthetic.json"
    if out.exists():
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            if (meta.get("seed"), meta.get("size"), meta.get("version")) == (seed, size, VERSION):
                return meta["summary"]
            raise FileExistsError(
                f"{out} holds a synthetic dataset with seed={meta.get('seed')}, size={meta.get('size')}, "
                f"version={meta.get('version')}, not seed={seed}, size={size}, version={VERSION}; remove it or pick another folder"
            )
        if not out.is_dir() or any(out.iterdir()):
            raise FileExistsError(
                f"{out} exists and is not an empty folder; remove it or pick another folder"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out.parent, recursive=False)  # what killed generators left
    tmp = temp_path(out)
    try:
        records = _generate_into(tmp, seed, preset, progress)
        summary = _summary(seed, size, preset, records)
        _write_folds(tmp / "folds", records, *preset.frame_size)
        meta = {
            "generator": __name__,
            "version": VERSION,
            "seed": seed,
            "size": size,
            "preset": asdict(preset),
            "summary": summary,
        }
        (tmp / "folds" / "synthetic.json").write_text(json.dumps(meta, indent=2) + "\n")
        try:
            if out.exists() and not meta_path.is_file():
                out.rmdir()
            os.replace(tmp, out)
        except OSError:
            if not meta_path.is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # a concurrent generator finished first: keep its copy
            return generate_synthetic(out, seed=seed, size=size, progress=progress)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        _print_summary(summary)
    return summary


def _generate_into(
    root: Path, seed: int, preset: SyntheticSize, progress: bool
) -> dict[str, list[tuple]]:
    W, H = preset.frame_size
    videos = _split_videos(seed, preset)
    layout = {
        "train": (preset.train_shots, preset.train_frames),
        "val": (preset.eval_shots, preset.eval_frames),
        "test": (preset.eval_shots, preset.eval_frames),
    }
    jpg, png = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY], [cv2.IMWRITE_PNG_COMPRESSION, 3]
    records: dict[str, list[tuple]] = {}
    columns = (
        TextColumn("[bold]{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("videos"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with make_progress(*columns, disable=not progress) as bar:
        tasks = {
            s: bar.add_task(f"synthetic {s}", total=len(v) * len(CLASSES))
            for s, v in videos.items()
        }
        for split, numbers in videos.items():
            recs = records[split] = []
            for ci, name in enumerate(CLASSES):
                bar.update(tasks[split], description=f"{split} {name}")
                for vno in numbers:
                    rng = np.random.default_rng([seed, VERSION, ci, vno])
                    frame_no = 0
                    for si, shot in enumerate(
                        render_video(name, rng, W, H, *layout[split]), start=1
                    ):
                        for img, mask in shot:
                            frame_no += 1
                            fid = f"{name}/video-{vno:04d}/shot-{si:06d}/frame_{frame_no:06d}.jpg"
                            _write(root / fid, img[..., ::-1], jpg)
                            box = None
                            if split != "train":
                                _write(
                                    root / "masks" / (fid[:-4] + ".png"),
                                    mask.astype(np.uint8) * 255,
                                    png,
                                )
                                box = mask_box(mask)
                            recs.append((fid, ci, box))
                    bar.advance(tasks[split])
            bar.update(tasks[split], description=f"synthetic {split}")
    return records
