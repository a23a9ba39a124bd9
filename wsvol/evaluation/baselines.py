"""Trivial localizers every method must beat: a centred box of fixed relative size."""

from __future__ import annotations

import numpy as np

from wsvol.evaluation.corloc import IOU_THRESHOLD, LocalizationResult, box_iou


def centred_box(width: int, height: int, side: float) -> np.ndarray:
    """The box (x0, y0, x1, y1), inclusive, whose sides are ``side`` × the frame's, in the centre."""
    w, h = max(1, round(width * side)), max(1, round(height * side))
    x0, y0 = (width - w) // 2, (height - h) // 2
    return np.array([x0, y0, x0 + w - 1, y0 + h - 1])


SIDES = tuple(round(0.05 * k, 2) for k in range(1, 21))  # 0.05, 0.10, ..., 1.00


def centred_box_corloc(result: LocalizationResult, sides=SIDES,
                       iou_threshold: float = IOU_THRESHOLD) -> tuple[float, float]:
    """(CorLoc %, side) of the best centred box over ``sides``, on the frames of ``result``.

    The side is chosen on the evaluated frames themselves, so this is an upper bound of the
    baseline — the comparison is conservative.
    """
    width, height = result.eval_size
    best = (0.0, float(sides[0]))
    if not result.gt_boxes:
        return best
    # every frame's true boxes in one padded array; padding boxes never count as a hit
    most = max(len(g) for g in result.gt_boxes)
    gts = np.zeros((len(result.gt_boxes), most, 4), dtype=np.int64)
    valid = np.zeros((len(result.gt_boxes), most), dtype=bool)
    for i, g in enumerate(result.gt_boxes):
        gts[i, : len(g)], valid[i, : len(g)] = g, True
    for side in sides:
        box = centred_box(width, height, float(side))
        ious = box_iou(box, gts.reshape(-1, 4)).reshape(gts.shape[:2])
        hits = (valid & (ious >= iou_threshold)).any(axis=1)
        corloc = float(np.mean(hits) * 100)
        if corloc > best[0]:
            best = (corloc, float(side))
    return best
