"""mmengine metrics: CorLoc (MaxBoxAcc v1), CL, and PxAP / pixel IoU where masks exist."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from wsvol.evaluation.localization import (
    DEFAULT_EVAL_SIZE,
    IOU_THRESHOLD,
    LocalizationResult,
    evaluate_quantized,
    normalize_map,
    pixel_histograms,
    pixel_scores,
    quantize_map,
    rescale_boxes,
    resize_mask,
    thresholds,
)
from wsvol.registry import METRICS


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().float().numpy() if hasattr(x, "detach") else np.asarray(x)


@METRICS.register_module(name="corloc")
class CorLocMetric(BaseMetric):
    """CorLoc by MaxBoxAcc v1 and top-1 classification accuracy (CL), per class.

    Only frames with true boxes count. Per-frame results are kept compact (uint8 maps at the
    evaluation size) so that they can be gathered across ranks; after evaluation,
    ``last_result`` (a :class:`LocalizationResult`) and ``last_predictions`` feed the report.
    """

    default_prefix = None

    def __init__(self, classes: Sequence[str] | None = None, eval_size: int = DEFAULT_EVAL_SIZE,
                 tau_step: float = 0.001, iou_threshold: float = IOU_THRESHOLD,
                 collect_device: str = "cpu", prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.classes = list(classes) if classes else None
        self.eval_size = eval_size
        self.tau_step = tau_step
        self.iou_threshold = iou_threshold
        self.last_result: LocalizationResult | None = None
        self.last_predictions: dict[str, np.ndarray] = {}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        taus = thresholds(self.tau_step)
        for s in data_samples:
            boxes = np.asarray(s.get("gt_boxes", np.zeros((0, 4))), dtype=np.float64).reshape(-1, 4)
            if boxes.shape[0] == 0:
                continue
            normalized = normalize_map(_numpy(s["cam"]), self.eval_size)
            item = {
                "qmap": quantize_map(normalized),
                "boxes": rescale_boxes(boxes, s["ori_size"], self.eval_size),
                "label": int(s["gt_label"]),
                "pred": int(s["pred_label"]),
                "score": float(_numpy(s["scores"])[int(s["pred_label"])]) if "scores" in s else float("nan"),
                "frame_id": s.get("frame_id"),
                "video_id": s.get("video_id"),
                "area": float(np.mean([(b[2] - b[0] + 1) * (b[3] - b[1] + 1) for b in boxes])
                              / (s["ori_size"][0] * s["ori_size"][1])),
            }
            if s.get("gt_mask") is not None:
                item["hist"] = pixel_histograms(normalized, resize_mask(_numpy(s["gt_mask"]), self.eval_size), taus)
            self.results.append(item)

    def compute_metrics(self, results: list) -> dict[str, float]:
        names = self.classes or list((self.dataset_meta or {}).get("classes", []))
        if not results:
            raise ValueError("no evaluated frame carries a true box: nothing to compute CorLoc on")
        labels = np.array([r["label"] for r in results])
        num_classes = len(names) if names else int(labels.max()) + 1
        names = names or [str(c) for c in range(num_classes)]
        res = evaluate_quantized([r["qmap"] for r in results], [r["boxes"] for r in results], labels,
                                 num_classes=num_classes, tau_step=self.tau_step, iou_threshold=self.iou_threshold,
                                 frame_ids=[r["frame_id"] for r in results],
                                 video_ids=[r["video_id"] for r in results])
        preds = np.array([r["pred"] for r in results])
        self.last_result = res
        self.last_predictions = {"pred": preds, "score": np.array([r["score"] for r in results]),
                                 "area": np.array([r["area"] for r in results]), "classes": np.array(names)}
        per_class, _ = res.per_class()
        out = {"corloc": res.corloc, "corloc_mean": res.corloc_mean, "best_tau": res.best_tau,
               "cl": float((preds == labels).mean() * 100)}
        for c, name in enumerate(names):
            if (labels == c).any():
                out[f"corloc/{name}"] = float(per_class[c])
                out[f"cl/{name}"] = float((preds[labels == c] == c).mean() * 100)
        hists = [r["hist"] for r in results if "hist" in r]
        if hists:
            px = pixel_scores(np.sum(hists, axis=0), thresholds(self.tau_step))
            out.update(pxap=px.pxap, pxiou=px.pxiou)
        return out
