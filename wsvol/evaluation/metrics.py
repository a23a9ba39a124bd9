"""The ``corloc`` mmengine metric: CorLoc (MaxBoxAcc v1), CL, and PxAP where masks exist."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from mmengine.evaluator import BaseMetric

from wsvol.evaluation.classification import ClassificationResult, evaluate_classification
from wsvol.evaluation.corloc import IOU_THRESHOLD, LocalizationResult, evaluate_quantized
from wsvol.evaluation.maps import (
    DEFAULT_EVAL_SIZE,
    as_size,
    normalize_map,
    quantize_map,
    rescale_boxes,
    resize_mask,
    thresholds,
)
from wsvol.evaluation.pxap import PixelResult, pixel_histograms, pixel_scores
from wsvol.registry import METRICS


@dataclass
class EvaluationResult:
    """One method's evaluation: the per-frame localization sweep, classification and PxAP."""

    localization: LocalizationResult
    classification: ClassificationResult
    classes: list[str]
    scores: np.ndarray  # (N,) probability of the predicted class (NaN when unknown)
    areas: np.ndarray  # (N,) area of the largest true box / frame area (original pixels)
    pixel: PixelResult | None = None

    def __len__(self) -> int:
        return len(self.localization)

    def summary(self) -> dict[str, float]:
        """Flat metrics: corloc, corloc_mean, best_tau, cl, corloc/<class>, cl/<class>, pxap, pxiou."""
        loc, cls = self.localization, self.classification
        out = {
            "corloc": loc.corloc,
            "corloc_mean": loc.corloc_mean,
            "best_tau": loc.best_tau,
            "cl": cls.accuracy,
        }
        per_loc, per_cl = loc.per_class()[0], cls.per_class()
        for c, name in enumerate(self.classes):
            if np.isfinite(per_loc[c]):
                out[f"corloc/{name}"] = float(per_loc[c])
            if np.isfinite(per_cl[c]):
                out[f"cl/{name}"] = float(per_cl[c])
        if self.pixel is not None:
            out["pxap"], out["pxiou"] = self.pixel.pxap, self.pixel.pxiou
        return out


def frame_record(
    sample: dict, eval_size: int | Sequence[int] = DEFAULT_EVAL_SIZE, taus: np.ndarray | None = None
) -> dict | None:
    """Compact per-frame record of one model output (None for a frame without true boxes).

    Holds the map quantized at the evaluation size (uint8), the true boxes rescaled to it, labels
    and, with a ``gt_mask``, the frame's pixel score histograms for PxAP (``taus`` needed then).
    """
    boxes = _numpy(sample.get("gt_boxes", np.zeros((0, 4)))).reshape(-1, 4)
    if boxes.shape[0] == 0:
        return None
    where = sample.get("frame_id", "?")
    for key in ("cam", "gt_label", "ori_size"):
        if key not in sample:
            raise KeyError(f"{where}: model output lacks {key!r} (keys: {sorted(sample)})")
    try:
        normalized = normalize_map(_numpy(sample["cam"]), eval_size)
    except ValueError as exc:  # NaN / inf: a diverged model or a broken map, never scored silently
        raise ValueError(f"frame {where}: {exc}") from None
    scores = _numpy(sample["scores"]).reshape(-1) if sample.get("scores") is not None else None
    pred = sample.get("pred_label")
    if pred is None:
        pred = int(np.argmax(scores)) if scores is not None else -1
    pred = int(_numpy(pred).reshape(-1)[0]) if not isinstance(pred, int) else pred
    ori_size = tuple(int(v) for v in _numpy(sample["ori_size"]).reshape(-1)[:2])
    box_areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    record = {
        "frame_id": str(where),
        "video_id": str(sample.get("video_id", where)),
        "gt_label": int(_numpy(sample["gt_label"]).reshape(-1)[0]),
        "pred_label": pred,
        "score": float(scores[pred])
        if scores is not None and 0 <= pred < scores.size
        else float("nan"),
        "map": quantize_map(normalized),
        "boxes": rescale_boxes(boxes, ori_size, eval_size),
        "area": float(box_areas.max() / (ori_size[0] * ori_size[1])),
    }
    if sample.get("gt_mask") is not None:
        mask = resize_mask(_numpy(sample["gt_mask"]), eval_size)
        record["hist"] = pixel_histograms(normalized, mask, thresholds() if taus is None else taus)
    return record


def evaluate_records(
    records: Sequence[dict],
    classes: Sequence[str] | None = None,
    *,
    tau_step: float = 0.001,
    iou_threshold: float = IOU_THRESHOLD,
    keep_maps: bool = True,
) -> EvaluationResult:
    """Evaluate ``frame_record`` outputs (PxAP only when every frame has a mask histogram)."""
    if not records:
        raise ValueError("no frame with a true box to evaluate")
    labels = [r["gt_label"] for r in records]
    preds = [r["pred_label"] for r in records]
    num_classes = len(classes) if classes else max(max(labels), max(preds)) + 1
    names = list(classes) if classes else [str(c) for c in range(num_classes)]
    loc = evaluate_quantized(
        [r["map"] for r in records],
        [r["boxes"] for r in records],
        labels,
        num_classes=num_classes,
        tau_step=tau_step,
        iou_threshold=iou_threshold,
        frame_ids=[r["frame_id"] for r in records],
        video_ids=[r["video_id"] for r in records],
        keep_maps=keep_maps,
    )
    pixel = None
    if all("hist" in r for r in records):
        taus = thresholds(tau_step)
        hist = np.sum([r["hist"] for r in records], axis=0)
        if hist.shape != (2, taus.size + 2):
            raise ValueError(
                f"mask histograms have {hist.shape[1]} bins, tau_step {tau_step} needs {taus.size + 2}"
            )
        pixel = pixel_scores(hist, taus)
    return EvaluationResult(
        localization=loc,
        classification=evaluate_classification(labels, preds, num_classes),
        classes=names,
        scores=np.array([r["score"] for r in records], dtype=np.float64),
        areas=np.array([r["area"] for r in records], dtype=np.float64),
        pixel=pixel,
    )


@METRICS.register_module(name="corloc")
class CorLocMetric(BaseMetric):
    """CorLoc (MaxBoxAcc v1, per class and averaged), CL, and PxAP / pixel IoU where masks exist.

    ``process`` keeps one compact record per frame with true boxes (uint8 map at the evaluation
    size), so results gather cheaply across ranks, and an empty dict for a frame without:
    mmengine interleaves the ranks' results and cuts the sampler's padding by counting one result
    per dataset item (and drops ``None``). After ``evaluate`` (on the main process),
    ``last_result`` is the per-frame :class:`EvaluationResult` (what ``write_report`` takes).
    """

    default_prefix: str | None = None

    def __init__(
        self,
        classes: Sequence[str] | None = None,
        eval_size: int | Sequence[int] = DEFAULT_EVAL_SIZE,
        tau_step: float = 0.001,
        iou_threshold: float = IOU_THRESHOLD,
        keep_maps: bool = True,
        collect_device: str = "cpu",
        prefix: str | None = None,
        collect_dir: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.classes = list(classes) if classes is not None else None
        self.eval_size = as_size(eval_size)
        self.taus = thresholds(tau_step)
        self.tau_step = tau_step
        self.iou_threshold = iou_threshold
        self.keep_maps = keep_maps
        self.last_result: EvaluationResult | None = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep a compact record of every output frame (``{}`` for one without true boxes)."""
        for sample in data_samples:
            self.results.append(frame_record(dict(sample), self.eval_size, self.taus) or {})

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Metrics over all gathered frame records."""
        classes = self.classes or list((self.dataset_meta or {}).get("classes") or []) or None
        self.last_result = evaluate_records(
            [r for r in results if r],
            classes,
            tau_step=self.tau_step,
            iou_threshold=self.iou_threshold,
            keep_maps=self.keep_maps,
        )
        return self.last_result.summary()


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu()
        x = x.float() if x.is_floating_point() else x
        return x.numpy()
    return np.asarray(x)
