"""CorLoc sweep: wsolevaluation's per-threshold loop against wsvol's level-bracketing sweep.

Maps are CAM-like (1 to 3 Gaussian blobs and noise on a 28×28 grid, upsampled to 224×224), with
a true box near the strongest blob. Both sides get the same quantized maps and must agree on
every frame at every threshold. Run: ``python benchmarks/bench_corloc.py [--frames 300]``.
"""

from __future__ import annotations

import argparse
import time

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


def run(frames: int = 300, tau_step: float = 0.001, seed: int = 0) -> dict:
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--tau-step", type=float, default=0.001)
    args = parser.parse_args()
    r = run(args.frames, args.tau_step)
    print(
        f"{r['frames']} frames × {r['thresholds']} thresholds: loop {r['loop_s']:.2f} s, "
        f"fast {r['fast_s']:.3f} s (CPU), ratio {r['ratio']:.1f}× (wall {r['wall_ratio']:.1f}×, "
        f"target {r['target']}×), "
        f"identical={r['identical']}, CorLoc {r['corloc']:.1f}%"
    )
