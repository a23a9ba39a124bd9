"""Overlay PNGs for evaluated frames: heatmap, predicted box (red), true boxes (green), caption."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from wsvol.visualization.overlay import draw_overlay, save_png


def save_overlays(out_dir: str | Path, result, image_loader: Callable[[str], np.ndarray], limit: int = 16,
                  frames: list[int] | None = None) -> list[Path]:
    """Write one PNG per frame (the first ``limit`` frames, spread over classes) at the best τ."""
    loc = result.localization
    at = loc.at()
    if frames is None:
        order = np.argsort(loc.labels, kind="stable")
        per_class = {c: [i for i in order if loc.labels[i] == c] for c in np.unique(loc.labels)}
        frames = [idx for group in zip(*per_class.values()) for idx in group][:limit] if per_class else []
    width, height = loc.eval_size
    paths = []
    for i in frames:
        image = cv2.resize(np.ascontiguousarray(image_loader(loc.frame_ids[i])), (width, height))
        pred = int(result.classification.pred_labels[i])
        name = result.classes[pred] if 0 <= pred < len(result.classes) else "?"
        caption = f"{name} {result.scores[i]:.2f} IoU {at.ious[i]:.2f} (true: {result.classes[loc.labels[i]]})"
        picture = draw_overlay(loc.maps[i] / 255.0, image, pred_box=at.boxes[i], gt_boxes=loc.gt_boxes[i], caption=caption)
        stem = loc.frame_ids[i].replace("/", "__").rsplit(".", 1)[0]
        paths.append(save_png(Path(out_dir) / f"{stem}.png", picture))
    return paths
