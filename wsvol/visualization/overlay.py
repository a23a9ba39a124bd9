"""Overlay pictures: a localization heatmap blended on the frame, boxes and a caption."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from wsvol.utils.files import atomic_open

PRED_COLOR = (255, 0, 0)  # RGB: predicted box in red
GT_COLOR = (0, 255, 0)  # true boxes in green
CAPTION_HEIGHT = 18


def draw_overlay(
    heatmap: np.ndarray,
    image: np.ndarray | None = None,
    *,
    pred_box: Sequence[int] | None = None,
    gt_boxes: Sequence[Sequence[int]] | np.ndarray = (),
    caption: str | None = None,
    alpha: float = 0.5,
    thickness: int = 2,
    colormap: int = cv2.COLORMAP_JET,
) -> np.ndarray:
    """RGB uint8 picture: ``heatmap`` (h, w) colored and blended on ``image``, boxes, caption.

    ``heatmap``: floats in [0, 1] or uint8. Boxes are inclusive x0,y0,x1,y1 in heatmap pixels; true
    boxes are drawn first, then the predicted one. ``image``: RGB (or gray) uint8 of any size (H, W):
    the picture is at the image's size and shape, the heatmap resized to it (bilinear) and the
    boxes scaled with it (the pixels they cover); None gives a gray background at the heatmap's
    size. A caption adds a black band of ``CAPTION_HEIGHT`` rows on top, so the output is
    (H + band, W, 3).
    """
    heat = np.asarray(heatmap)
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be 2-D, got shape {heat.shape}")
    if heat.dtype != np.uint8:
        heat = (np.clip(np.nan_to_num(heat.astype(np.float64)), 0, 1) * 255).astype(np.uint8)
    h, w = heat.shape
    if image is None:
        base = np.full((h, w, 3), 128, np.uint8)
    else:
        base = np.asarray(image, dtype=np.uint8)
        if base.ndim == 2:
            base = np.repeat(base[..., None], 3, axis=2)
        if base.ndim != 3 or base.shape[2] != 3:
            raise ValueError(f"image must be (H, W, 3) RGB or (H, W) gray, got shape {base.shape}")
    H, W = base.shape[:2]
    if (H, W) != (h, w):
        heat = cv2.resize(heat, (W, H), interpolation=cv2.INTER_LINEAR)
    colored = cv2.cvtColor(cv2.applyColorMap(heat, colormap), cv2.COLOR_BGR2RGB)
    out = cv2.addWeighted(base, 1 - alpha, colored, alpha, 0)
    for box in np.asarray(gt_boxes, dtype=np.int64).reshape(-1, 4):
        _rectangle(out, scale_box(box, (w, h), (W, H)), GT_COLOR, thickness)
    if pred_box is not None:
        _rectangle(out, scale_box(pred_box, (w, h), (W, H)), PRED_COLOR, thickness)
    if caption:
        band = np.zeros((CAPTION_HEIGHT, W, 3), np.uint8)
        cv2.putText(
            band,
            caption,
            (3, CAPTION_HEIGHT - 5),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        out = np.concatenate([band, out], axis=0)
    return out


def scale_box(box: Sequence[int], size: tuple[int, int], to: tuple[int, int]) -> tuple[int, int, int, int]:
    """An inclusive pixel box x0,y0,x1,y1 on a ``size`` = (w, h) grid → the pixels of a ``to`` grid it
    covers (pixel x spans [x, x + 1), so a box keeps its edges at any scale)."""
    (w, h), (W, H) = size, to
    x0, y0, x1, y1 = (int(v) for v in box)
    if (w, h) == (W, H):
        return x0, y0, x1, y1
    return (x0 * W // w, y0 * H // h, -(-(x1 + 1) * W // w) - 1, -(-(y1 + 1) * H // h) - 1)


def _rectangle(
    img: np.ndarray, box: Sequence[int], color: tuple[int, int, int], thickness: int
) -> None:
    x0, y0, x1, y1 = (int(v) for v in box)
    cv2.rectangle(img, (x0, y0), (x1, y1), color, thickness)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB (or gray) uint8 image."""
    image = np.asarray(image, dtype=np.uint8)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buf = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError(f"could not encode an image of shape {image.shape} as PNG")
    return buf.tobytes()


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an RGB image as a PNG file atomically; return the path."""
    path = Path(path)
    with atomic_open(path, "wb") as f:
        f.write(encode_png(image))
    return path
