"""CorLoc: wsolevaluation's per-threshold loop against wsvol's level-bracketing sweep, and the
memory of a streaming evaluation.

Maps are CAM-like (1 to 3 Gaussian blobs and noise on a 28×28 grid, upsampled to 224×224), with
a true box near the strongest blob. Both sides get the same quantized maps and must agree on
every frame at every threshold. Run: ``python benchmarks/bench_corloc.py [--frames 300]``.

The memory rows run the ``corloc`` metric as a test loop does (``process`` batch by batch, then
``evaluate``) and build the report's tables, under ``tracemalloc`` (Python objects and NumPy
arrays), at two frame counts; the peak grows linearly with the frames, so the two points
extrapolate it to the 134 119 frames of YouTube-Objects' ``test-video-demo`` split. The goal is
at most 1 GB there. The evaluation holding every quantized map in memory (the former way, still
what ``evaluate_records`` does with records that carry maps) is measured alongside, on the
smaller count, with the same numbers required.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import cv2
import numpy as np

from wsvol.evaluation.corloc import correct_matrix
from wsvol.evaluation.maps import prepare_map, thresholds


def make_frames(n: int, seed: int = 0, size: int = 224) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` (quantized map, true boxes) pairs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28] + 0.5
    frames = []
    for _ in range(n):
        low = 0.15 * rng.random((28, 28))
        blobs = []
        for _ in range(rng.integers(1, 4)):
            cx, cy, s, a = *rng.uniform(4, 24, 2), rng.uniform(1.5, 6), rng.uniform(0.3, 1.0)
            low += a * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
            blobs.append((a, cx, cy, s))
        a, cx, cy, s = max(blobs)
        k = size / 28
        jitter = rng.normal(0, 0.4 * s, 4)
        box = (
            np.clip(np.array([cx - 2 * s, cy - 2 * s, cx + 2 * s, cy + 2 * s]) + jitter, 0, 28) * k
        )
        box[2:] = np.maximum(box[2:], box[:2] + 1)
        cam = cv2.resize(low, (size, size), interpolation=cv2.INTER_LINEAR)
        frames.append((prepare_map(cam, size), box.astype(np.int64)[None]))
    return frames


def loop_correct(q: np.ndarray, gt: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """wsolevaluation's BoxEvaluator.accumulate: one threshold/contour pass per τ."""
    h, w = q.shape
    img = np.expand_dims(q, 2)
    boxes = []
    for t in taus:
        _, b = cv2.threshold(img, int(t * np.max(img)), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(b, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        if len(contours) == 0:
            boxes.append([0, 0, 0, 0])
            continue
        x, y, bw, bh = cv2.boundingRect(max(contours, key=cv2.contourArea))
        boxes.append([x, y, min(x + bw, w - 1), min(y + bh, h - 1)])
    a, g = np.array(boxes)[:, None], gt[None]
    inter = np.maximum(
        0, np.minimum(a[..., 2], g[..., 2]) - np.maximum(a[..., 0], g[..., 0]) + 1
    ) * np.maximum(0, np.minimum(a[..., 3], g[..., 3]) - np.maximum(a[..., 1], g[..., 1]) + 1)
    area = lambda b: (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)  # noqa: E731
    union = area(a) + area(g) - inter
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
    return (iou >= 0.5).any(axis=1)


def run(frames: int = 300, tau_step: float = 0.001, seed: int = 0, memory: bool = True) -> list[dict]:
    """The sweep row (``ratio`` = loop time / fast time) and the memory rows."""
    return [sweep(frames, tau_step, seed), *(memory_rows() if memory else [])]


def sweep(frames: int = 300, tau_step: float = 0.001, seed: int = 0) -> dict:
    """Time both sweeps on the same maps; ``ratio`` = loop time / fast time."""
    data = make_frames(frames, seed)
    taus = thresholds(tau_step)
    clocks = {"loop": [0.0, 0.0], "fast": [0.0, 0.0]}  # [CPU s, wall s]
    results: dict[str, list] = {"loop": [], "fast": []}
    sides = {
        "loop": lambda part: [loop_correct(q, g, taus) for q, g in part],
        "fast": lambda part: list(correct_matrix([q for q, _ in part], [g for _, g in part], taus)),
    }
    half = len(data) // 2
    # ABBA order on the two halves, so that a drifting machine load hits both sides alike
    for side, part in (
        ("loop", data[:half]),
        ("fast", data[:half]),
        ("fast", data[half:]),
        ("loop", data[half:]),
    ):
        c, t = time.process_time(), time.perf_counter()
        results[side] += sides[side](part)
        clocks[side][0] += time.process_time() - c
        clocks[side][1] += time.perf_counter() - t
    fast = results["fast"]
    identical = all(np.array_equal(a, b) for a, b in zip(results["loop"], fast))
    corloc = float(np.mean(fast, axis=0).max() * 100)
    (loop_cpu, loop_wall), (fast_cpu, fast_wall) = clocks["loop"], clocks["fast"]
    return {
        "name": "corloc_sweep",
        "frames": frames,
        "thresholds": int(taus.size),
        "loop_s": loop_cpu,  # CPU time of this process: steadier than wall time on a shared machine
        "fast_s": fast_cpu,
        "ratio": loop_cpu / fast_cpu,
        "wall_ratio": loop_wall / fast_wall,
        "target": 20,
        "identical": identical,
        "corloc": corloc,
    }


#: Frames of YouTube-Objects' published ``test-video-demo`` split.
DEMO_SPLIT_FRAMES = 134_119
#: Frames a video in the memory rows (the bootstrap's tables grow with the videos).
FRAMES_PER_VIDEO = 50
GB = 1e9


def model_outputs(start: int, n: int, seed: int = 0) -> list[dict]:
    """``n`` outputs of a model's ``predict`` (frames ``start`` to ``start + n``): a CAM-like map at
    56×56 for a 320×240 frame, its true box, labels, scores, ids; ``FRAMES_PER_VIDEO`` a video."""
    import torch

    out = []
    for i in range(start, start + n):
        rng = np.random.default_rng((seed, i))
        yy, xx = np.mgrid[:14, :14] + 0.5
        low = 0.15 * rng.random((14, 14))
        cx, cy, s = *rng.uniform(2, 12, 2), rng.uniform(1, 3)
        low += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        cam = cv2.resize(low, (56, 56), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        box = np.clip(np.array([cx - 2 * s, cy - 2 * s, cx + 2 * s, cy + 2 * s]) + rng.normal(0, s / 2, 4), 0, 14)
        box = box * np.array([320, 240, 320, 240]) / 14
        box[2:] = np.maximum(box[2:], box[:2] + 1)
        video = i // FRAMES_PER_VIDEO
        label = video % 10
        out.append({"cam": torch.from_numpy(cam), "gt_boxes": box[None], "ori_size": (320, 240),
                    "gt_label": label, "pred_label": label, "scores": torch.full((10,), 0.1),
                    "frame_id": f"c{label}/video{video:05d}/frame{i:06d}.jpg",
                    "video_id": f"c{label}/video{video:05d}"})  # fmt: skip
    return out


def _evaluate(frames: int, streaming: bool, batch: int = 16) -> tuple[int, dict]:
    """(peak traced bytes, summary) of evaluating ``frames`` frames and building the report."""
    from wsvol.evaluation.maps import thresholds
    from wsvol.evaluation.metrics import CorLocMetric, evaluate_records, frame_record
    from wsvol.report.tables import build_report

    classes = [f"c{k}" for k in range(10)]
    gc.collect()
    tracemalloc.start()
    if streaming:
        metric = CorLocMetric(classes=classes)
        for start in range(0, frames, batch):
            metric.process({}, model_outputs(start, min(batch, frames - start)))
        metric.evaluate(frames)
        result = metric.last_result
    else:  # the former way: every record keeps its quantized map until the end
        taus = thresholds()
        records = [frame_record(o, 224, taus) for s in range(0, frames, batch)
                   for o in model_outputs(s, min(batch, frames - s))]  # fmt: skip
        result = evaluate_records(records, classes)
    result.localization.at()  # the boxes at the best threshold, as the report needs them
    build_report({"m": result}, n_boot=200)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    summary = result.summary()
    del result
    gc.collect()
    return peak, summary


def memory_rows(frames: tuple[int, int] = (1500, 4500), dense_frames: int = 400) -> list[dict]:
    """Peak memory of a streaming evaluation, extrapolated to the ``test-video-demo`` split.

    The counts are large enough for the records to outweigh the constant working memory of a
    batch (a 16-frame batch: ~7 MB), so the slope is the cost of a frame."""
    small, large = frames
    (p_small, _), (p_large, _) = _evaluate(small, True), _evaluate(large, True)
    p_dense, s_dense = _evaluate(dense_frames, False)
    _, s_check = _evaluate(dense_frames, True)
    per_frame = (p_large - p_small) / (large - small)
    at_split = p_small + per_frame * (DEMO_SPLIT_FRAMES - small)
    dense_per_frame = p_dense / dense_frames
    return [
        {"name": f"streaming evaluation: KB / frame (peak, slope from {small} to {large} frames)",
         "ratio": per_frame / 1e3, "target": None, "better": "lower"},
        {"name": f"in-memory evaluation (maps kept): KB / frame (peak / {dense_frames} frames)",
         "ratio": dense_per_frame / 1e3, "target": None, "better": "lower"},
        {"name": f"streaming evaluation of {DEMO_SPLIT_FRAMES} frames (extrapolated) / 1 GB"
                 + ("" if s_check == s_dense else " — NUMBERS DIFFER from the in-memory evaluation"),
         "ratio": at_split / GB, "target": 1.0, "better": "lower", "identical": s_check == s_dense},
        {"name": "  the same, in memory (extrapolated) / 1 GB", "ratio": dense_per_frame * DEMO_SPLIT_FRAMES / GB,
         "target": None, "better": "lower"},
    ]  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--tau-step", type=float, default=0.001)
    args = parser.parse_args()
    r = sweep(args.frames, args.tau_step)
    print(
        f"{r['frames']} frames × {r['thresholds']} thresholds: loop {r['loop_s']:.2f} s, "
        f"fast {r['fast_s']:.3f} s (CPU), ratio {r['ratio']:.1f}× (wall {r['wall_ratio']:.1f}×, "
        f"target {r['target']}×), "
        f"identical={r['identical']}, CorLoc {r['corloc']:.1f}%"
    )
    for row in memory_rows():
        print(f"{row['name']}: {row['ratio']:.3g}" + (f" (target ≤ {row['target']})" if row["target"] else "")
              + (f", identical numbers: {row['identical']}" if "identical" in row else ""))
