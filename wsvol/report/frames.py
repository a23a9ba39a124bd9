"""Every method's per-frame results of a report, saved beside it (``report/frames.npz``) and read
back, so that runs can be compared frame by frame later (``wsvol compare``).

Per method: the correctness bits at every threshold (as the metric keeps them), true and
predicted class, score, largest-box area, the true boxes, frame and video ids; per file: the
classes, thresholds, evaluation size and IoU threshold. Read back it gives
:class:`~wsvol.evaluation.EvaluationResult` s without maps (no boxes at a threshold, no
pictures) whose numbers are those of the report. The file holds only arrays of numbers and
strings: it is read with ``allow_pickle=False``.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from wsvol.evaluation.bits import BitTable
from wsvol.evaluation.classification import ClassificationResult
from wsvol.evaluation.corloc import LocalizationResult
from wsvol.evaluation.metrics import EvaluationResult
from wsvol.utils.files import atomic_open

FRAMES_FILE = "frames.npz"
FORMAT = 1
PER_METHOD = ("correct", "labels", "preds", "scores", "areas", "frame_ids", "video_ids", "box_counts", "boxes")
# What numpy, zipfile and zlib raise on a damaged file.
_DAMAGE = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def save_frames(path: str | Path, results: Mapping[str, EvaluationResult]) -> None:
    """Write the per-frame results of ``results`` (method → result) to ``path`` atomically."""
    if not results:
        raise ValueError("no results to save")
    first = next(iter(results.values()))
    loc0 = first.localization
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "methods": np.array(list(results), dtype=str),
        "classes": np.array(first.classes, dtype=str),
        "taus": np.asarray(loc0.taus, dtype=np.float64),
        "eval_size": np.array(loc0.eval_size, dtype=np.int64),
        "iou_threshold": np.array(loc0.iou_threshold, dtype=np.float64),
    }
    for i, (method, res) in enumerate(results.items()):
        loc = res.localization
        if list(res.classes) != list(first.classes) or loc.correct.width != loc0.correct.width:
            raise ValueError(f"{method}: other classes or thresholds than {next(iter(results))}")
        n = len(loc)
        boxes = [np.asarray(b, dtype=np.int64).reshape(-1, 4) for b in loc.gt_boxes]
        arrays |= {
            f"m{i}_correct": loc.correct.packed,
            f"m{i}_labels": np.asarray(loc.labels, dtype=np.int64),
            f"m{i}_preds": np.asarray(res.classification.pred_labels, dtype=np.int64),
            f"m{i}_scores": np.asarray(res.scores, dtype=np.float64),
            f"m{i}_areas": np.asarray(res.areas, dtype=np.float64),
            f"m{i}_frame_ids": np.array(loc.frame_ids if loc.frame_ids is not None else
                                        [str(k) for k in range(n)], dtype=str),
            f"m{i}_video_ids": np.array(loc.video_ids if loc.video_ids is not None else
                                        (loc.frame_ids or [str(k) for k in range(n)]), dtype=str),
            f"m{i}_box_counts": np.array([len(b) for b in boxes], dtype=np.int64),
            f"m{i}_boxes": np.concatenate(boxes) if boxes else np.zeros((0, 4), np.int64),
        }
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def load_frames(path: str | Path) -> dict[str, EvaluationResult]:
    """The per-frame results saved by :func:`save_frames` (method → result, in saved order)."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except _DAMAGE as exc:  # a truncated file: "File is not a zip file"
        raise ValueError(f"{path}: not a readable per-frame results file ({exc})") from None
    try:
        with data:
            return _read(data, path)
    except _DAMAGE as exc:  # an object array (which would need pickle), a bad shape, a damaged member
        if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable per-frame results file ({exc})") from None


def _read(data, path: Path) -> dict[str, EvaluationResult]:
    head = ("format", "methods", "classes", "taus", "eval_size", "iou_threshold")
    missing = [k for k in head if k not in data.files]
    missing += [f"m{i}_{k}" for i in range(len(data["methods"]) if "methods" in data.files else 0)
                for k in PER_METHOD if f"m{i}_{k}" not in data.files]
    if missing:
        raise ValueError(f"{path}: incomplete per-frame results, {', '.join(missing)} missing")
    if data["format"].dtype.kind != "i" or int(data["format"]) != FORMAT:
        raise ValueError(f"{path}: per-frame results of format {data['format']}, this wsvol reads format {FORMAT}")
    classes = [str(c) for c in data["classes"]]
    taus = data["taus"]
    eval_size = tuple(int(v) for v in data["eval_size"])
    iou = float(data["iou_threshold"])
    out = {}
    for i, method in enumerate(str(m) for m in data["methods"]):
        labels = data[f"m{i}_labels"]
        counts = data[f"m{i}_box_counts"]
        boxes = np.split(data[f"m{i}_boxes"].reshape(-1, 4), np.cumsum(counts)[:-1])
        loc = LocalizationResult(
            taus=taus,
            correct=BitTable(data[f"m{i}_correct"], taus.size),
            labels=labels,
            gt_boxes=boxes,
            num_classes=len(classes),
            eval_size=eval_size,
            frame_ids=[str(f) for f in data[f"m{i}_frame_ids"]],
            video_ids=[str(v) for v in data[f"m{i}_video_ids"]],
            iou_threshold=iou,
        )
        out[method] = EvaluationResult(
            localization=loc,
            classification=ClassificationResult(labels, data[f"m{i}_preds"], len(classes)),
            classes=classes,
            scores=data[f"m{i}_scores"],
            areas=data[f"m{i}_areas"],
        )
    return out
