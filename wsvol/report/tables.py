"""The report's tables: per-method results turned into rows (summary, per class, per video, by
object size, bootstrap intervals, worst frames, CorLoc vs τ), and the columns each table shows.

Per-video and per-size CorLoc use each method's best threshold over all frames; per-class CorLoc
sweeps the threshold within each class (no τ for a class, or a method, whose CorLoc is 0 at every τ:
none is better than another). Every class of the class list has a per-class row: one without frames
shows —, the class mean leaves it out (it is not a 0) and a note names it. A worst frame shows its
true class, the predicted class and that prediction's score. The baselines (a centred box) are not
methods: they localize without a model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from wsvol.evaluation.baselines import centred_box_corloc
from wsvol.evaluation.bootstrap import bootstrap_corloc, bootstrap_corloc_difference
from wsvol.evaluation.metrics import EvaluationResult

SIZE_BINS = (0.05, 0.25)  # largest true box area / frame area: small < 5% <= medium < 25% <= large
TABLES = (
    "summary",
    "per_class",
    "per_video",
    "by_size",
    "bootstrap",
    "worst_frames",
    "corloc_curve",
    "baselines",
)


def size_names(bins: Sequence[float] = SIZE_BINS) -> list[str]:
    """Names of the object-size groups, thresholds included."""
    lo, hi = (f"{100 * b:g}%" for b in bins)
    return [f"small (< {lo})", f"medium ({lo} to < {hi})", f"large (>= {hi})"]


def build_report(
    results: Mapping[str, EvaluationResult],
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    size_bins: Sequence[float] = SIZE_BINS,
    n_worst: int = 8,
) -> dict:
    """Every table of the report as lists of row dicts, plus ``meta`` (settings and notes)."""
    if not results:
        raise ValueError("no results to report")
    if len(size_bins) != 2 or not 0 < size_bins[0] < size_bins[1] < 1:
        raise ValueError(f"size_bins must be two increasing fractions in (0, 1), got {size_bins!r}")
    report: dict = {name: [] for name in TABLES}
    notes: list[str] = []
    absent: dict[str, list[str]] = {}  # each method's classes without a frame
    ref_name, ref = next(iter(results.items()))
    for method, res in results.items():
        loc, cls = res.localization, res.classification
        videos = videos_of(res)
        best = loc.best_index
        ci = bootstrap_corloc(loc.correct, videos, n_boot=n_boot, confidence=confidence, seed=seed)
        px = res.pixel
        report["summary"].append(
            {
                "method": method,
                "frames": len(loc),
                "videos": len(set(videos)),
                "corloc": loc.corloc,
                "corloc_low": ci.low,
                "corloc_high": ci.high,
                "corloc_mean": loc.corloc_mean,
                "best_tau": loc.best_tau if loc.corloc > 0 else None,  # as per class: no τ beats another
                "cl": cls.accuracy,
                "pxap": px.pxap if px else None,
                "pxiou": px.pxiou if px else None,
            }
        )
        report["bootstrap"].append(interval_row(method, "corloc", ci))
        per_loc, per_tau = loc.per_class()
        per_cl = cls.per_class()
        per_frames = np.bincount(loc.labels, minlength=len(res.classes))
        for c, name in enumerate(res.classes):
            frames = int(per_frames[c])
            # every class has its row: one without frames shows — rather than vanishing
            report["per_class"].append(
                {
                    "method": method,
                    "class": name,
                    "frames": frames,
                    "corloc": per_loc[c] if frames else None,
                    "tau": per_tau[c] if frames and per_loc[c] > 0 else None,
                    "cl": per_cl[c] if frames else None,
                }
            )
        absent[method] = [name for c, name in enumerate(res.classes) if not per_frames[c]]
        correct = loc.correct.column(best)
        names, video_of = np.unique(np.asarray(videos, dtype=object).astype(str), return_inverse=True)
        video_of = video_of.reshape(-1)
        frames = np.bincount(video_of, minlength=len(names))
        hits = np.bincount(video_of, weights=correct, minlength=len(names)).astype(np.int64)
        # each video's most frequent class (the smallest on ties)
        classes = np.bincount(video_of * loc.num_classes + loc.labels, minlength=len(names) * loc.num_classes)
        label_of = classes.reshape(len(names), loc.num_classes).argmax(1)
        for v, video in enumerate(names.tolist()):
            report["per_video"].append(
                {
                    "method": method,
                    "video": video,
                    "class": res.classes[label_of[v]],
                    "frames": int(frames[v]),
                    "correct": int(hits[v]),
                    "corloc": float(hits[v] / frames[v] * 100),
                }
            )
        group = np.digitize(res.areas, size_bins)
        for g, name in enumerate(size_names(size_bins)):
            sel = group == g
            report["by_size"].append(
                {
                    "method": method,
                    "size": name,
                    "frames": int(sel.sum()),
                    "corloc": float(correct[sel].mean() * 100) if sel.any() else None,
                }
            )
        report["corloc_curve"] += [
            {"method": method, "tau": float(t), "corloc": float(c)}
            for t, c in zip(loc.taus, loc.curve())
        ]
        if loc.maps is None:
            if n_worst:
                notes.append(f"{method}: no maps kept, so no worst frames")
        else:
            at = loc.at()
            preds = res.classification.pred_labels
            for rank, i in enumerate(np.argsort(at.ious, kind="stable")[:n_worst].tolist()):
                pred = int(preds[i])
                report["worst_frames"].append(
                    {
                        "method": method,
                        "rank": rank + 1,
                        "index": i,
                        "frame": loc.frame_ids[i] if loc.frame_ids else str(i),
                        "true_class": res.classes[loc.labels[i]],
                        "predicted_class": res.classes[pred] if 0 <= pred < len(res.classes) else None,
                        "score": float(res.scores[i]),  # the predicted class's probability
                        "iou": float(at.ious[i]),
                        "tau": at.tau,
                        "pred_box": at.boxes[i].tolist(),
                        "gt_boxes": loc.gt_boxes[i].tolist(),
                    }
                )
        if method != ref_name:
            order = _same_frames(ref, res)
            if order is None:
                notes.append(
                    f"{method} vs {ref_name}: not evaluated on the same frames, no paired difference"
                )
            else:
                diff = bootstrap_corloc_difference(
                    loc.correct.rows(order),
                    ref.localization.correct,
                    videos_of(ref),
                    n_boot=n_boot,
                    confidence=confidence,
                    seed=seed,
                )
                report["bootstrap"].append(
                    interval_row(method, f"corloc - corloc[{ref_name}]", diff)
                )
    notes += class_mean_notes(absent, {m: len(r.classes) for m, r in results.items()})
    corloc, side = centred_box_corloc(ref.localization)
    report["baselines"].append(
        {"baseline": "centred box", "frames": len(ref.localization), "corloc": corloc, "side": side}
    )
    eval_size = ref.localization.eval_size
    report["meta"] = {
        "methods": list(results),
        "reference": ref_name,
        "eval_size": list(eval_size),
        "size_bins": list(size_bins),
        "size_names": size_names(size_bins),
        "confidence": confidence,
        "n_boot": n_boot,
        "bootstrap_seed": seed,
        "notes": notes,
        "definitions": (
            "CorLoc: MaxBoxAcc v1 (wsolevaluation), % of frames whose box has IoU >= 0.5 with a true box, at the "
            f"best threshold tau over all frames; maps and boxes at {eval_size[0]}x{eval_size[1]}. CorLoc mean: "
            "unweighted mean of per-class CorLoc over the classes with test frames, each class with its own best "
            "tau. CL: top-1 accuracy on the same frames. Per-video and per-size CorLoc: at the method's best tau. "
            f"Size: largest true box area / frame area. Interval: {confidence:.0%} percentile bootstrap over "
            f"videos ({n_boot} resamples, seed {seed}); differences are paired, on the frames of {ref_name}. "
            "Centred box: a baseline, not a method, the box centred in the frame whose side (a fraction of the "
            f"frame's) gives the best CorLoc on the frames of {ref_name}, chosen on those frames (an upper bound "
            "of the baseline)."
        ),
    }
    return report


def class_mean_notes(absent: Mapping[str, Sequence[str]], num_classes: Mapping[str, int]) -> list[str]:
    """Notes naming the classes without frames, that each method's class mean leaves out."""
    groups: dict[tuple[tuple[str, ...], int], list[str]] = {}
    for method, names in absent.items():
        if names:
            groups.setdefault((tuple(names), num_classes[method]), []).append(method)
    notes = []
    for (names, total), methods in groups.items():
        who = "" if len(methods) == len(absent) else f"{', '.join(methods)}: "
        notes.append(
            f"{who}class mean over the {total - len(names)} of {total} classes with test frames; "
            f"no test frame of {', '.join(names)} (shown as —, left out of the mean, not counted as 0; "
            "the papers' average is over all classes)"
        )
    return notes


def videos_of(res: EvaluationResult) -> list[str]:
    """Each frame's video id (the frame id, or its index, when the result has none)."""
    loc = res.localization
    if loc.video_ids is not None:
        return list(loc.video_ids)
    return list(loc.frame_ids) if loc.frame_ids is not None else [str(i) for i in range(len(loc))]


def _same_frames(ref: EvaluationResult, other: EvaluationResult) -> np.ndarray | None:
    """Row order that aligns ``other`` to ``ref`` frame by frame, or None if the frames differ."""
    a, b = ref.localization.frame_ids, other.localization.frame_ids
    if a is None or b is None or len(a) != len(b) or set(a) != set(b) or len(set(a)) != len(a):
        return None
    where = {f: i for i, f in enumerate(b)}
    return np.array([where[f] for f in a])


def interval_row(method: str, statistic: str, ci) -> dict:
    """A row of the bootstrap table: ``method``'s ``statistic`` with its interval ``ci``."""
    return {
        "method": method,
        "statistic": statistic,
        "estimate": ci.estimate,
        "low": ci.low,
        "high": ci.high,
        "confidence": ci.confidence,
        "n_boot": ci.n_boot,
    }


def fmt(v, digits: int = 2) -> str:
    """How the report prints a number (an em dash when missing)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


# Columns shown on the page and in the terminal: (key, heading, digits). Percentages unless noted.
COLUMNS = {
    "summary": [
        ("method", "method", 0),
        ("frames", "frames", 0),
        ("videos", "videos", 0),
        ("corloc", "CorLoc", 2),
        ("corloc_low", "low", 2),
        ("corloc_high", "high", 2),
        ("corloc_mean", "class mean", 2),
        ("best_tau", "τ", 3),
        ("cl", "CL", 2),
        ("pxap", "PxAP", 2),
        ("pxiou", "PxIoU", 2),
    ],
    "baselines": [
        ("baseline", "baseline", 0),
        ("frames", "frames", 0),
        ("corloc", "CorLoc", 2),
        ("side", "side", 2),
    ],
    "per_class": [
        ("method", "method", 0),
        ("class", "class", 0),
        ("frames", "frames", 0),
        ("corloc", "CorLoc", 2),
        ("tau", "τ", 3),
        ("cl", "CL", 2),
    ],
    "by_size": [
        ("method", "method", 0),
        ("size", "size", 0),
        ("frames", "frames", 0),
        ("corloc", "CorLoc", 2),
    ],
    "bootstrap": [
        ("method", "method", 0),
        ("statistic", "statistic", 0),
        ("estimate", "estimate", 2),
        ("low", "low", 2),
        ("high", "high", 2),
    ],
    "per_video": [
        ("method", "method", 0),
        ("video", "video", 0),
        ("class", "class", 0),
        ("frames", "frames", 0),
        ("correct", "correct", 0),
        ("corloc", "CorLoc", 2),
    ],
}
HEADINGS = {
    "summary": "Summary (%; low/high: bootstrap interval of CorLoc; class mean: mean of per-class CorLoc over "
               "the classes with test frames)",
    "baselines": "Baseline, not a method (%; side: of the frame, chosen on these frames)",
    "per_class": "Per class (%; τ swept within each class, — where CorLoc is 0 at every τ; no number for a class "
                 "without test frames)",
    "by_size": "CorLoc by object size (%, at the best τ)",
    "bootstrap": "Bootstrap intervals over videos (%)",
    "per_video": "Per video (%, at the best τ)",
}


def describe_environment(env: dict) -> str:
    """One line of what a run's numbers depend on (``wsvol.engine.job.environment()``): ``threads 2,
    NVIDIA H100, CUDA 12.8, cuDNN 91002; wsvol 0.1.0, python 3.11.7, torch 2.14.1, ...; wsvol commit
    0123abc...; cpu: AMD EPYC, AVX512 kernels; plugins: ...; platform: Linux-...``."""
    libs = ", ".join(f"{k} {v}" for k, v in env.get("libraries", {}).items() if v)
    plugins = ", ".join(f"{k} ({v})" for k, v in env.get("plugins", {}).items())
    device = [f"threads {env.get('threads')}", str(env.get("device"))]
    device += [f"{name} {env[key]}" for key, name in (("cuda", "CUDA"), ("cudnn", "cuDNN")) if env.get(key)]
    parts = [", ".join(device), libs]
    parts += [f"{key}: {value}" for key, value in (("wsvol commit", env.get("wsvol_commit")), ("cpu", env.get("cpu")),
                                                   ("plugins", plugins), ("platform", env.get("platform"))) if value]
    return "; ".join(part for part in parts if part)
