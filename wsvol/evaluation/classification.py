"""CL: top-1 classification accuracy over the evaluated frames (the frames that carry boxes); a
frame without a prediction is a wrong frame, as in the papers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class ClassificationResult:
    """True and predicted class of every evaluated frame (a negative prediction: none made)."""

    gt_labels: np.ndarray  # (N,)
    pred_labels: np.ndarray  # (N,)
    num_classes: int

    @property
    def correct(self) -> np.ndarray:
        """(N,) bool: predicted class == true class."""
        return self.pred_labels == self.gt_labels

    @property
    def predicts(self) -> bool:
        """Whether the method predicts classes at all (pseudo-labels, say, do not)."""
        return bool((self.pred_labels >= 0).any())

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy (%) over all evaluated frames, a frame without a prediction counting as
        wrong (the papers' CL); NaN for a method that predicts no class at all, or no frame."""
        return float(self.correct.mean() * 100) if self.predicts else float("nan")

    def per_class(self) -> np.ndarray:
        """(C,) top-1 accuracy (%) within each true class (missing predictions wrong); NaN for
        classes without frames, and everywhere for a method that predicts no class."""
        out = np.full(self.num_classes, np.nan)
        if not self.predicts:
            return out
        for c in range(self.num_classes):
            sel = self.gt_labels == c
            if sel.any():
                out[c] = self.correct[sel].mean() * 100
        return out


def evaluate_classification(
    gt_labels: Sequence[int], pred_labels: Sequence[int], num_classes: int | None = None
) -> ClassificationResult:
    """Top-1 accuracy of ``pred_labels`` against ``gt_labels`` (use -1 for a missing prediction)."""
    gt = np.asarray(gt_labels, dtype=np.int64).reshape(-1)
    pred = np.asarray(pred_labels, dtype=np.int64).reshape(-1)
    if gt.shape != pred.shape:
        raise ValueError(f"got {gt.size} true labels and {pred.size} predictions")
    if num_classes is None:
        num_classes = int(max(gt.max(initial=-1), pred.max(initial=-1))) + 1
    if gt.size and (gt.min() < 0 or gt.max() >= num_classes):
        raise ValueError(
            f"true labels must be in [0, {num_classes}); got {sorted(set(gt.tolist()))}"
        )
    if pred.size and pred.max() >= num_classes:
        raise ValueError(
            f"predicted labels must be < {num_classes}; got {sorted(set(pred.tolist()))}"
        )
    return ClassificationResult(gt, pred, int(num_classes))
