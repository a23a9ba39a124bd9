"""Maps and boxes at the evaluation size, as wsolevaluation prepares them (Choe et al., 2020).

* a map is resized to the evaluation size with ``cv2.resize(..., INTER_CUBIC)`` in float64 and
  min-max normalized (a constant map becomes all zeros), then quantized with
  ``uint8(map * 255)``; a map with NaN or infinite values is refused (wsolevaluation zeroes a NaN
  map, which scores the frame as wrong without a word, and casts infinities to arbitrary bytes);
* a probability map (a localization head's foreground, normalization ``"none"``) is quantized as
  it is, as TCAM's and TrCAM's code score ``softmax(S)[fg]``: its threshold ``int(τ·max)`` is then
  relative to its own maximum, and its minimum stays where it is;
* true boxes are rescaled from the frame size with ``int(x * 224 / width)``;
* masks are resized nearest-neighbour;
* the thresholds are ``np.arange(0, 1, 0.001)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

DEFAULT_EVAL_SIZE = 224
#: how a map is brought to [0, 1] before quantization: ``minmax`` (a CAM, any range) or ``none``
#: (a probability map, already in [0, 1], scored as it is)
MAP_NORMALIZATIONS = ("minmax", "none")


def thresholds(step: float = 0.001) -> np.ndarray:
    """The CAM thresholds τ = 0, step, …, < 1 (``np.arange`` exactly as wsolevaluation)."""
    if not 0 < step < 1:
        raise ValueError(f"tau_step must be in (0, 1), got {step!r}")
    return np.arange(0, 1, step)


def as_size(eval_size: int | Sequence[int]) -> tuple[int, int]:
    """``224`` or ``(width, height)`` → ``(width, height)``."""
    if isinstance(eval_size, int | np.integer):
        w = h = int(eval_size)
    else:
        w, h = (int(s) for s in eval_size)
    if w <= 0 or h <= 0:
        raise ValueError(f"eval_size must be positive, got {eval_size!r}")
    return w, h


def check_normalization(normalization: str) -> str:
    """``normalization`` if it is one of :data:`MAP_NORMALIZATIONS`, else a ``ValueError``."""
    if normalization not in MAP_NORMALIZATIONS:
        raise ValueError(f"map normalization must be one of {', '.join(MAP_NORMALIZATIONS)}, got {normalization!r}")
    return normalization


def normalize_map(
    cam: np.ndarray, eval_size: int | Sequence[int] = DEFAULT_EVAL_SIZE, normalization: str = "minmax"
) -> np.ndarray:
    """Resize a 2-D map to ``eval_size`` (bicubic, float64) and bring it to [0, 1]: min-max
    normalized (``minmax``), or as it is (``none``: a probability map, checked to be in [0, 1];
    the bicubic's overshoot is clipped)."""
    check_normalization(normalization)
    cam = np.asarray(cam, dtype=np.float64)
    if cam.ndim != 2 or 0 in cam.shape:
        raise ValueError(f"a localization map must be a non-empty 2-D array, got shape {cam.shape}")
    bad = ~np.isfinite(cam)
    if bad.any():
        raise ValueError(f"the localization map ({cam.shape[0]}x{cam.shape[1]}) has {int(np.isnan(cam).sum())} NaN "
                         f"and {int(np.isinf(cam).sum())} infinite values, first at (row, col) "
                         f"{tuple(int(i) for i in np.argwhere(bad)[0])}")
    if normalization == "none" and (cam.min() < 0 or cam.max() > 1):
        raise ValueError(f"a map scored without normalization must be a probability map in [0, 1], got values "
                         f"from {cam.min():.4g} to {cam.max():.4g}")
    w, h = as_size(eval_size)
    cam = cv2.resize(cam, (w, h), interpolation=cv2.INTER_CUBIC)
    if normalization == "none":
        return np.clip(cam, 0.0, 1.0, out=cam)
    if cam.min() == cam.max():
        return np.zeros_like(cam)
    cam -= cam.min()
    cam /= cam.max()
    return cam


def quantize_map(normalized: np.ndarray) -> np.ndarray:
    """``uint8(map * 255)`` (truncation) of a map in [0, 1]."""
    return (np.asarray(normalized) * 255).astype(np.uint8)


def prepare_map(cam: np.ndarray, eval_size: int | Sequence[int] = DEFAULT_EVAL_SIZE,
                normalization: str = "minmax") -> np.ndarray:
    """Map at any size → quantized uint8 map at the evaluation size (see :func:`normalize_map`)."""
    return quantize_map(normalize_map(cam, eval_size, normalization))


def rescale_boxes(
    boxes: np.ndarray, ori_size: Sequence[int], eval_size: int | Sequence[int] = DEFAULT_EVAL_SIZE
) -> np.ndarray:
    """Rescale (N, 4) x0,y0,x1,y1 boxes from ``ori_size`` = (width, height) with int truncation."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ow, oh = (float(s) for s in ori_size)
    if ow <= 0 or oh <= 0:
        raise ValueError(f"ori_size must be positive (width, height), got {tuple(ori_size)!r}")
    if (boxes < 0).any() or (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
        raise ValueError(
            f"boxes must be non-negative x0,y0,x1,y1 with x1>=x0, y1>=y0; got {boxes.tolist()}"
        )
    w, h = as_size(eval_size)
    scale = np.array([w, h, w, h], dtype=np.float64)
    size = np.array([ow, oh, ow, oh])
    return (boxes * scale / size).astype(np.int64)


def resize_mask(mask: np.ndarray, eval_size: int | Sequence[int] = DEFAULT_EVAL_SIZE) -> np.ndarray:
    """Bool mask at any size → bool mask at the evaluation size (nearest neighbour, > 0.5)."""
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim != 2:
        raise ValueError(f"a mask must be 2-D, got shape {mask.shape}")
    return cv2.resize(mask, as_size(eval_size), interpolation=cv2.INTER_NEAREST) > 0.5
