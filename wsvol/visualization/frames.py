"""Overlay PNGs for evaluated frames: heatmap, predicted box (red), true boxes (green), caption."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from wsvol.visualization.overlay import draw_overlay, save_png


def save_overlays(out_dir: str | Path, result, image_loader: Callable[[str], np.ndarray], limit: int = 16,
                  frames: list[int] | None = None) -> list[Path]:
    """Write one PNG per frame (``limit`` frames taken in turn from each class) at the best τ, at the
    frame's size (the map and boxes, evaluated at ``eval_size``, scaled to it)."""
    loc = result.localization
    at = loc.at()
    if frames is None:
        frames = round_robin(loc.labels, limit)
    paths = []
    for i in frames:  # at the frame's own size and shape, not the evaluation's
        image = np.ascontiguousarray(image_loader(loc.frame_ids[i]))
        pred = int(result.classification.pred_labels[i])
        name = result.classes[pred] if 0 <= pred < len(result.classes) else "?"
        caption = f"{name} {result.scores[i]:.2f} IoU {at.ious[i]:.2f} (true: {result.classes[loc.labels[i]]})"
        picture = draw_overlay(loc.maps[i] / 255.0, image, pred_box=at.boxes[i], gt_boxes=loc.gt_boxes[i], caption=caption)
        stem = loc.frame_ids[i].replace("/", "__").rsplit(".", 1)[0]
        paths.append(save_png(Path(out_dir) / f"{stem}.png", picture))
    return paths


def round_robin(labels: np.ndarray, limit: int) -> list[int]:
    """Up to ``limit`` frame indices, one of each class in turn, until the limit or the frames run out."""
    labels = np.asarray(labels)
    per_class = [np.flatnonzero(labels == c).tolist() for c in np.unique(labels)]
    rounds = max(map(len, per_class), default=0)
    return [group[r] for r in range(rounds) for group in per_class if r < len(group)][:max(limit, 0)]
