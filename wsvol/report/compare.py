"""One table for several methods on the same test frames: per-class CorLoc with the class mean,
CorLoc and CL with paired bootstrap differences against a reference, and the published numbers
beside them (``wsvol compare``).

:func:`build_comparison` takes per-method results (typically read back from runs' ``frames.npz``),
aligns them frame by frame and hands them to :func:`~wsvol.report.tables.build_report`, so every
number is computed as in the report; :func:`write_comparison` writes ``compare.html`` (the
report's style), ``compare.json`` and ``tables/*.csv``; :func:`print_comparison` prints it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.evaluation.bootstrap import bootstrap_corloc_difference
from wsvol.evaluation.classification import ClassificationResult
from wsvol.evaluation.corloc import LocalizationResult
from wsvol.evaluation.metrics import EvaluationResult
from wsvol.report.console import print_tables
from wsvol.report.files import csv_text, json_ready
from wsvol.report.page import STYLE, html_table
from wsvol.report.published import PUBLISHED, RELEASES, published_for
from wsvol.report.tables import build_report, interval_row, videos_of
from wsvol.utils.files import atomic_write_text

COMPARE_TABLES = ("summary", "per_class", "differences", "methods")


class ComparisonError(ValueError):
    """Results that cannot be put in one table (other classes, other frames, unknown reference)."""


@dataclass
class Entry:
    """One measured method: its row label, per-frame result, where it comes from, and which
    published method it is (a key of :mod:`wsvol.report.published`, None if none)."""

    label: str
    result: EvaluationResult
    origin: str = ""
    published_key: str | None = None


def build_comparison(
    entries: Sequence[Entry],
    *,
    reference: str | None = None,
    release: str | None = None,
    intersection: bool = False,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    published_warning: str | None = None,
) -> dict:
    """The comparison tables (``summary``, ``per_class``, ``differences``, ``methods``) and ``meta``.

    ``reference`` is an entry label (default: the first entry). Entries must share their class
    list and evaluation settings, and their test frames, unless ``intersection``: then only the
    frames all of them hold are compared; a frame must have the same true class and boxes in every
    entry. ``release`` (``ytov1`` / ``ytov22``) adds the published numbers of the methods present;
    ``published_warning`` says why those may not be comparable (the runs' data is not that release),
    shown above the tables and in the terminal.
    """
    if len(entries) < 1:
        raise ComparisonError("nothing to compare")
    check_bootstrap(n_boot, confidence)
    labels = [e.label for e in entries]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise ComparisonError(f"two methods share the label {twice[0]!r}")
    reference = reference or labels[0]
    if reference not in labels:
        raise ComparisonError(f"reference {reference!r} is none of the methods: {', '.join(labels)}")
    first = entries[0]
    _same_setup(entries)
    ref = next(e for e in entries if e.label == reference)
    frames, notes = _common_frames(entries, ref, intersection)
    aligned = {e.label: _aligned(e, frames) for e in entries}
    ordered = {reference: aligned[reference], **aligned}  # build_report's differences are against its first
    report = build_report(ordered, n_boot=n_boot, confidence=confidence, seed=seed, n_worst=0)
    classes = list(first.result.classes)
    if release is not None:
        if release not in PUBLISHED:
            raise ComparisonError(f"published numbers exist for {', '.join(PUBLISHED)}, not {release!r}")
        if classes != list(YOUTUBE_OBJECTS_CLASSES):
            raise ComparisonError(f"published numbers are for the YouTube-Objects classes; these runs have {classes}")

    summary = {r["method"]: r for r in report["summary"]}
    per_class: dict[str, dict] = {label: {} for label in labels}
    for r in report["per_class"]:
        per_class[r["method"]][r["class"]] = r
    diffs = {r["method"]: r for r in report["bootstrap"] if r["statistic"] != "corloc"}
    out: dict = {name: [] for name in COMPARE_TABLES}
    for e in entries:
        s, res = summary[e.label], aligned[e.label]
        cl_diff = _cl_difference(res, aligned[reference], n_boot, confidence, seed) if e.label != reference else None
        d = diffs.get(e.label)
        out["summary"].append({
            "method": e.label, "source": "measured", "frames": s["frames"], "videos": s["videos"],
            "corloc": s["corloc"], "corloc_low": s["corloc_low"], "corloc_high": s["corloc_high"],
            "best_tau": s["best_tau"], "corloc_mean": s["corloc_mean"], "cl": s["cl"],
            "d_corloc": d["estimate"] if d else None, "d_corloc_low": d["low"] if d else None,
            "d_corloc_high": d["high"] if d else None,
            "d_cl": cl_diff.estimate if cl_diff else None, "d_cl_low": cl_diff.low if cl_diff else None,
            "d_cl_high": cl_diff.high if cl_diff else None,
        })
        out["per_class"].append({"method": e.label, "source": "measured",
                                 **{c: per_class[e.label].get(c, {}).get("corloc") for c in classes},
                                 "corloc_mean": s["corloc_mean"]})
        if d:
            out["differences"].append(d)
        if cl_diff:
            out["differences"].append(interval_row(e.label, f"cl - cl[{reference}]", cl_diff))
        out["methods"].append({"method": e.label, "origin": e.origin, "frames": s["frames"],
                               "published_as": None, "per_class_tau": [per_class[e.label].get(c, {}).get("tau")
                                                                      for c in classes]})
    if release is not None:
        keys = {e.published_key for e in entries if e.published_key}
        for e, row in zip(entries, out["methods"]):
            p = published_for(release, e.published_key) if e.published_key else None
            row["published_as"] = p.method if p else None
        for p in PUBLISHED[release]:
            if not keys & set(p.keys):
                continue
            label = f"{p.method} (published)"
            out["summary"].append({k: None for k in out["summary"][0]} | {
                "method": label, "source": p.source, "corloc_mean": p.corloc_mean, "cl": p.cl})
            values = dict(zip(YOUTUBE_OBJECTS_CLASSES, p.per_class or [None] * len(classes)))
            out["per_class"].append({"method": label, "source": p.per_class_source or p.source, **values,
                                     "corloc_mean": p.corloc_mean})
        if not keys:
            notes.append(f"no method here matches one with published numbers on {RELEASES[release]}")
    elif any(e.published_key for e in entries):
        notes.append("no published numbers: the runs' test data is not YouTube-Objects v1.0 or v2.2 "
                     "(--published names the release when the configs do not show it)")
    out["meta"] = {
        "methods": labels,
        "reference": reference,
        "classes": classes,
        "frames": len(frames),
        "release": release,
        "release_name": RELEASES.get(release) if release else None,
        "published_warning": published_warning if release else None,
        "n_boot": n_boot,
        "confidence": confidence,
        "seed": seed,
        "eval_size": report["meta"]["eval_size"],
        "notes": notes + report["meta"]["notes"],
        "definitions": report["meta"]["definitions"] + (
            " CL difference: paired bootstrap of the accuracy difference over the same videos. Published "
            "rows: the papers' test-set numbers (class mean = their 'avg'); per-class values only where "
            "the source gives them."),
    }
    return out


def check_bootstrap(n_boot: int, confidence: float) -> None:
    """Refuse bootstrap settings that give no interval."""
    if n_boot < 1 or not 0 < confidence < 1:
        raise ComparisonError(f"need n_boot >= 1 and 0 < confidence < 1, got {n_boot} and {confidence}")


def _same_setup(entries: Sequence[Entry]) -> None:
    """Refuse entries that differ in classes or in how CorLoc was computed."""
    first = entries[0]
    a = first.result.localization
    for e in entries[1:]:
        if list(e.result.classes) != list(first.result.classes):
            only_a = [c for c in first.result.classes if c not in e.result.classes]
            only_b = [c for c in e.result.classes if c not in first.result.classes]
            what = (f"only in {first.label}: {only_a}; only in {e.label}: {only_b}" if only_a or only_b
                    else "the same names in another order (class ids differ)")
            raise ComparisonError(f"different class lists, {what}: {first.label} has {list(first.result.classes)}, "
                                  f"{e.label} has {list(e.result.classes)}")
        b = e.result.localization
        if tuple(a.eval_size) != tuple(b.eval_size) or a.iou_threshold != b.iou_threshold:
            raise ComparisonError(
                f"{e.label} was evaluated at {tuple(b.eval_size)} with IoU >= {b.iou_threshold}, {first.label} at "
                f"{tuple(a.eval_size)} with IoU >= {a.iou_threshold}: CorLoc is not the same measure")


def _common_frames(entries: Sequence[Entry], ref: Entry, intersection: bool) -> tuple[list[str], list[str]]:
    """The frames compared, in the reference's order, and notes; refuse differing frames without
    ``intersection``, duplicate frames, and frames whose true class or boxes differ between entries."""
    ids = {}
    for e in entries:
        frames = e.result.localization.frame_ids
        if frames is None:
            raise ComparisonError(f"{e.label}: its frames have no ids, so they cannot be paired")
        if len(set(frames)) != len(frames):
            raise ComparisonError(f"{e.label}: {len(frames) - len(set(frames))} frames appear twice")
        ids[e.label] = frames
    common = set(ids[ref.label]).intersection(*ids.values())
    notes = []
    differ = [(e.label, len(ids[e.label]) - len(common)) for e in entries if len(ids[e.label]) != len(common)]
    if differ:
        detail = "; ".join(f"{label}: {n} of its {len(ids[label])} frames are not in every other run"
                           for label, n in differ)
        if not intersection:
            raise ComparisonError(
                f"the runs were not tested on the same frames ({detail}; {len(common)} frames are common to all). "
                "Pass --intersection to compare on the common frames only")
        if not common:
            raise ComparisonError(f"the runs have no test frame in common ({detail})")
        notes.append(f"compared on the {len(common)} frames common to all runs only ({detail})")
    # Frame ids are paths inside the dataset: two datasets (another synthetic seed, another copy)
    # can share them, so the true class and boxes must agree too.
    truth: dict[str, tuple[int, np.ndarray, Entry]] = {}
    for e in entries:
        loc = e.result.localization
        for f, c, boxes in zip(loc.frame_ids, loc.labels.tolist(), loc.gt_boxes):
            if f not in common:
                continue
            boxes = _box_rows(boxes)
            c0, boxes0, e0 = truth.setdefault(f, (c, boxes, e))
            if c0 != c:
                raise ComparisonError(f"frame {f} is class {c} in {e.label} but class {c0} in "
                                      f"{e0.label}: the runs read other fold files")
            if not np.array_equal(boxes0, boxes):
                raise ComparisonError(
                    f"frame {f} has other true boxes in {_who(e)} ({boxes.tolist()}) than in {_who(e0)} "
                    f"({boxes0.tolist()}): the runs were tested on different data (another dataset, synthetic "
                    "seed or annotation), so their frames cannot be paired")
    return [f for f in ids[ref.label] if f in common], notes


def _box_rows(boxes) -> np.ndarray:
    """A frame's true boxes as sorted (K, 4) int rows, so that their order does not matter."""
    b = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    return b[np.lexsort(b.T[::-1])]


def _who(e: Entry) -> str:
    """An entry named by where it comes from (run dir and method) when known, else by its label."""
    return e.origin or e.label


def _aligned(e: Entry, frames: list[str]) -> EvaluationResult:
    """``e``'s result restricted to ``frames``, in that order (maps dropped)."""
    res, loc = e.result, e.result.localization
    where = {f: i for i, f in enumerate(loc.frame_ids)}
    rows = np.array([where[f] for f in frames], dtype=np.int64)
    new = LocalizationResult(
        taus=loc.taus, correct=loc.correct.rows(rows), labels=np.asarray(loc.labels)[rows],
        gt_boxes=[loc.gt_boxes[i] for i in rows], num_classes=loc.num_classes, eval_size=loc.eval_size,
        frame_ids=list(frames), video_ids=[videos_of(res)[i] for i in rows], iou_threshold=loc.iou_threshold)
    cls = res.classification
    return EvaluationResult(
        localization=new,
        classification=ClassificationResult(cls.gt_labels[rows], cls.pred_labels[rows], cls.num_classes),
        classes=list(res.classes), scores=np.asarray(res.scores)[rows], areas=np.asarray(res.areas)[rows])


def _cl_difference(a: EvaluationResult, b: EvaluationResult, n_boot: int, confidence: float, seed: int):
    """CL(a) − CL(b) paired over videos: the CorLoc difference of one-column tables is the
    difference of their means. None when either method predicts no class."""
    if not (a.classification.predicts and b.classification.predicts):
        return None
    return bootstrap_corloc_difference(a.classification.correct[:, None], b.classification.correct[:, None],
                                       videos_of(b), n_boot=n_boot, confidence=confidence, seed=seed)


# -- what is shown -------------------------------------------------------------------------------
def columns(comparison: dict) -> dict[str, list[tuple[str, str, int]]]:
    """Columns of each table: (key, heading, digits); per class: the comparison's classes."""
    return {
        "summary": [("method", "method", 0), ("frames", "frames", 0), ("videos", "videos", 0),
                    ("corloc", "CorLoc", 2), ("corloc_low", "low", 2), ("corloc_high", "high", 2),
                    ("corloc_mean", "class mean", 2), ("best_tau", "τ", 3), ("cl", "CL", 2),
                    ("d_corloc", "Δ CorLoc", 2), ("d_corloc_low", "low", 2), ("d_corloc_high", "high", 2),
                    ("d_cl", "Δ CL", 2), ("d_cl_low", "low", 2), ("d_cl_high", "high", 2)],
        "per_class": [("method", "method", 0), *((c, c, 1) for c in comparison["meta"]["classes"]),
                      ("corloc_mean", "mean", 1)],
        "differences": [("method", "method", 0), ("statistic", "statistic", 0), ("estimate", "estimate", 2),
                        ("low", "low", 2), ("high", "high", 2)],
        "methods": [("method", "method", 0), ("origin", "from", 0), ("frames", "frames", 0),
                    ("published_as", "published as", 0)],
    }


def headings(comparison: dict) -> dict[str, str]:
    """The title of each table."""
    meta = comparison["meta"]
    level = f"{meta['confidence']:.0%}"
    other = (f"; published rows: {meta['release_name']}, not these runs' data" if meta.get("published_warning")
             else "")
    return {
        "summary": f"Comparison on {meta['frames']} test frames (%; low/high: {level} bootstrap interval over "
                   f"videos; τ: the threshold of CorLoc; Δ: paired difference with {meta['reference']}{other})",
        "per_class": "CorLoc per class (%, τ swept within each class) and the class mean",
        "differences": f"Paired differences with {meta['reference']} ({level} bootstrap over videos, %)",
        "methods": "Where each method comes from",
    }


def write_comparison(out_dir: str | Path, comparison: dict, title: str = "wsvol comparison") -> Path:
    """Write ``compare.html``, ``compare.json`` and ``tables/*.csv`` under ``out_dir``; return the page."""
    out = Path(out_dir)
    for name in COMPARE_TABLES:
        atomic_write_text(out / "tables" / f"{name}.csv", csv_text(comparison[name]))
    atomic_write_text(out / "compare.json", json.dumps(json_ready(comparison), indent=2, allow_nan=False))
    meta, cols, heads = comparison["meta"], columns(comparison), headings(comparison)
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f"<p class='note'>{html.escape(meta['definitions'])}</p>"]
    if meta.get("published_warning"):
        parts.append(f"<p class='note' id='published-warning'><strong>Warning: "
                     f"{html.escape(meta['published_warning'])}</strong></p>")
    if meta["release_name"]:
        data = "" if meta.get("published_warning") else f"Data: {html.escape(meta['release_name'])}; "
        parts.append(f"<p class='note'>{data}published rows cite their source (the 'source' column of "
                     "tables/summary.csv).</p>")
    parts += [f"<p class='note'>{html.escape(n)}</p>" for n in meta["notes"]]
    for key in COMPARE_TABLES:
        shown = cols[key] + ([("source", "source", 0)] if key in ("summary", "per_class") else [])
        parts.append(f"<h2>{html.escape(heads[key])}</h2>{html_table(comparison[key], shown, key)}")
    parts.append("</body></html>")
    page = out / "compare.html"
    atomic_write_text(page, "\n".join(parts))
    return page


def print_comparison(comparison: dict, console=None) -> None:
    """Print the summary and per-class tables (and the notes, and any warning about the published rows)."""
    from rich.markup import escape

    from wsvol.utils.terminal import make_console

    console = console or make_console()
    print_tables(comparison, ["per_class", "summary"], columns(comparison), headings(comparison), console)
    if comparison["meta"].get("published_warning"):
        console.print(f"[bold yellow]warning: {escape(comparison['meta']['published_warning'])}[/bold yellow]")
