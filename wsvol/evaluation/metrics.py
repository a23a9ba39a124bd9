"""The ``corloc`` mmengine metric: CorLoc (MaxBoxAcc v1), CL, and PxAP where masks exist."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from mmengine.evaluator import BaseMetric

from wsvol.evaluation.bits import BitTable
from wsvol.evaluation.classification import ClassificationResult, evaluate_classification
from wsvol.evaluation.corloc import (
    IOU_THRESHOLD,
    LocalizationResult,
    correct_bits,
    evaluate_quantized,
)
from wsvol.evaluation.map_store import MapSpill, MapStore
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
    The sample's ``map_normalization`` (``minmax`` when absent; ``none`` for a probability map)
    says how its map is brought to [0, 1] (:func:`wsvol.evaluation.maps.normalize_map`).
    """
    boxes = _numpy(sample.get("gt_boxes", np.zeros((0, 4)))).reshape(-1, 4)
    if boxes.shape[0] == 0:
        return None
    where = sample.get("frame_id", "?")
    for key in ("cam", "gt_label", "ori_size"):
        if key not in sample:
            raise KeyError(f"{where}: model output lacks {key!r} (keys: {sorted(sample)})")
    try:
        normalized = normalize_map(_numpy(sample["cam"]), eval_size, sample.get("map_normalization", "minmax"))
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


def compact_records(
    records: Sequence[dict],
    taus: np.ndarray,
    iou_threshold: float = IOU_THRESHOLD,
    spill: MapSpill | None = None,
) -> list[dict]:
    """``frame_record`` outputs with their maps swept: each map is replaced by its correctness
    bits at ``taus`` (``correct``: packed bytes) and, with a ``spill``, by where the map went
    (``map_ref``: file, row). What an evaluation keeps per frame: about 1.5 KB as Python objects, not 50 KB."""
    if not records:
        return []
    maps = np.stack([r["map"] for r in records])
    bits = correct_bits(maps, [r["boxes"] for r in records], taus, iou_threshold)
    rows = spill.append(maps) if spill is not None else None
    out = []
    for i, r in enumerate(records):
        compact = {k: v for k, v in r.items() if k != "map"}
        compact["correct"] = bits.packed[i].tobytes()
        compact["map_shape"] = maps.shape[1:]
        if rows is not None:
            compact["map_ref"] = (spill.path, int(rows[i]))
        out.append(compact)
    return out


def evaluate_records(
    records: Sequence[dict],
    classes: Sequence[str] | None = None,
    *,
    tau_step: float = 0.001,
    iou_threshold: float = IOU_THRESHOLD,
    keep_maps: bool = True,
) -> EvaluationResult:
    """Evaluate ``frame_record`` outputs (PxAP only when every frame has a mask histogram).

    Records may also be compact (:func:`compact_records`): their bits are used as they are, and
    their maps are read back from the spill files when ``keep_maps``.
    """
    if not records:
        raise ValueError("no frame with a true box to evaluate")
    labels = [r["gt_label"] for r in records]
    preds = [r["pred_label"] for r in records]
    num_classes = len(classes) if classes else max(max(labels), max(preds)) + 1
    names = list(classes) if classes else [str(c) for c in range(num_classes)]
    ids = {"frame_ids": [r["frame_id"] for r in records], "video_ids": [r["video_id"] for r in records]}
    compact = ["correct" in r for r in records]
    if all(compact):
        loc = _from_compact(records, labels, num_classes, tau_step, iou_threshold, keep_maps, ids)
    elif not any(compact):
        loc = evaluate_quantized(
            [r["map"] for r in records],
            [r["boxes"] for r in records],
            labels,
            num_classes=num_classes,
            tau_step=tau_step,
            iou_threshold=iou_threshold,
            keep_maps=keep_maps,
            **ids,
        )
    else:
        raise ValueError("records mix maps and swept bits; compact all of them or none")
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


def _from_compact(records, labels, num_classes, tau_step, iou_threshold, keep_maps, ids) -> LocalizationResult:
    taus = thresholds(tau_step)
    width = {len(r["correct"]) for r in records}
    if width != {(taus.size + 7) // 8}:
        raise ValueError(f"records were swept at another tau_step: {sorted(width)} bytes of bits, "
                         f"tau_step {tau_step} gives {(taus.size + 7) // 8}")
    packed = np.frombuffer(b"".join(r["correct"] for r in records), dtype=np.uint8)
    correct = BitTable(packed.reshape(len(records), -1), taus.size)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must be in [0, {num_classes}); got {sorted(set(labels.tolist()))}")
    shapes = {tuple(r["map_shape"]) for r in records}
    if len(shapes) > 1:
        raise ValueError(f"maps must share one size; got {sorted(shapes)}")
    h, w = shapes.pop()
    maps = None
    if keep_maps and all("map_ref" in r for r in records):
        paths = sorted({r["map_ref"][0] for r in records})
        file_of = {p: i for i, p in enumerate(paths)}
        maps = MapStore(
            paths,
            np.array([file_of[r["map_ref"][0]] for r in records]),
            np.array([r["map_ref"][1] for r in records]),
            (h, w),
        )
    return LocalizationResult(
        taus=taus,
        correct=correct,
        labels=labels,
        gt_boxes=[np.asarray(r["boxes"], dtype=np.int64).reshape(-1, 4) for r in records],
        num_classes=int(num_classes),
        eval_size=(int(w), int(h)),
        maps=maps,
        iou_threshold=float(iou_threshold),
        **ids,
    )


@METRICS.register_module(name="corloc")
class CorLocMetric(BaseMetric):
    """CorLoc (MaxBoxAcc v1, per class and averaged), CL, and PxAP / pixel IoU where masks exist.

    The evaluation streams: ``process`` sweeps each batch at once and keeps per frame with true
    boxes a compact record (its correctness bit at every threshold, boxes, labels, score,
    ids; about 1.5 KB as Python objects), and an empty dict for a frame without, so results gather cheaply
    across ranks (mmengine interleaves the ranks' results and cuts the sampler's padding by
    counting one result per dataset item). With ``keep_maps`` (default) the quantized maps go
    to a file in ``maps_dir`` (default: the temp dir; a directory shared by all nodes in a
    multi-node run), from which the boxes at the best threshold and the report's pictures are
    read back; the files go with the result, and a killed run leaves none behind (see
    :mod:`wsvol.evaluation.map_store`). After ``evaluate`` (on the main process),
    ``last_result`` is the per-frame :class:`EvaluationResult` (what ``write_report`` takes).
    """

    #: metric names unprefixed (``corloc``, not ``corloc/corloc``) and said so: mmengine warns on
    #: every run when a metric has no prefix at all (None)
    default_prefix: str | None = ""
    #: what ``compute_metrics`` gives (fnmatch patterns: one key per class), for ``save_best``
    #: checks before a run (:func:`wsvol.config.checker.validation_metrics`)
    metric_names = ("corloc", "corloc_mean", "best_tau", "cl", "pxap", "pxiou", "corloc/*", "cl/*")

    def __init__(
        self,
        classes: Sequence[str] | None = None,
        eval_size: int | Sequence[int] = DEFAULT_EVAL_SIZE,
        tau_step: float = 0.001,
        iou_threshold: float = IOU_THRESHOLD,
        keep_maps: bool = True,
        maps_dir: str | None = None,
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
        self.maps_dir = maps_dir
        self.last_result: EvaluationResult | None = None
        self._spill: MapSpill | None = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Sweep the batch; keep a compact record of every frame (``{}`` for one without true boxes)."""
        records = [frame_record(dict(sample), self.eval_size, self.taus) for sample in data_samples]
        if self.keep_maps and self._spill is None and any(records):
            from mmengine.dist import get_world_size

            self._spill = MapSpill(self.maps_dir, private=get_world_size() == 1)
        boxed = iter(compact_records([r for r in records if r], self.taus, self.iou_threshold, self._spill))
        self.results.extend(next(boxed) if r else {} for r in records)

    def evaluate(self, size: int) -> dict:
        """Gather, compute on the main process, broadcast; the maps' file passes to the result."""
        spill, self._spill = self._spill, None
        if spill is not None:
            spill.close()  # complete on disk before the main process reads it
        try:
            return super().evaluate(size)
        finally:
            if spill is not None:
                spill.handed_over()  # the main process's result owns (and deletes) the file

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Metrics over all gathered frame records."""
        classes = self.classes or list((self.dataset_meta or {}).get("classes") or []) or None
        self.last_result = None  # drop the previous result (and its maps' files) first
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
