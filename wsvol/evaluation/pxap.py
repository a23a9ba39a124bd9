"""PxAP: the area under the pixel precision-recall curve over the map thresholds, where masks exist
(wsolevaluation's ``MaskEvaluator``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PixelResult:
    """PxAP (area under the pixel precision-recall curve, %) and the best-τ pixel IoU (%)."""

    pxap: float
    pxiou: float
    pxiou_tau: float
    precision: np.ndarray
    recall: np.ndarray


def pixel_histograms(normalized: np.ndarray, mask: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """(2, T + 2) int64 histograms of map scores on foreground (row 0) and background (row 1).

    Bins are [τ_0, τ_1), …, [τ_{T-1}, 1), [1, 2), [2, 3] as in wsolevaluation's MaskEvaluator.
    """
    if normalized.shape != mask.shape:
        raise ValueError(f"map shape {normalized.shape} differs from mask shape {mask.shape}")
    edges = np.append(taus, [1.0, 2.0, 3.0])
    pos = np.histogram(normalized[mask], bins=edges)[0]
    neg = np.histogram(normalized[~mask], bins=edges)[0]
    return np.stack([pos, neg]).astype(np.int64)


def pixel_scores(histograms: np.ndarray, taus: np.ndarray) -> PixelResult:
    """PxAP and best pixel IoU from histograms summed over frames (NaN without positives)."""
    pos, neg = (np.asarray(h, dtype=np.float64) for h in histograms)
    tp, fp = pos[::-1].cumsum(), neg[::-1].cumsum()
    fn = pos.sum() - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        iou = tp / (tp + fp + fn)
    if pos.sum() == 0 or not (tp + fp > 0).any():
        return PixelResult(float("nan"), float("nan"), float("nan"), precision, recall)
    defined = (tp + fp) != 0
    pxap = float((precision[1:] * np.diff(recall))[defined[1:]].sum() * 100)
    cut_edges = np.append(taus, [1.0, 2.0])[::-1]  # cut i keeps scores >= cut_edges[i]
    k = int(np.nanargmax(iou))
    return PixelResult(pxap, float(iou[k] * 100), float(cut_edges[k]), precision, recall)
