"""The report's files: ``report.html`` with embedded pictures, ``report.json``, ``tables/*.csv`` and
the per-frame results ``frames.npz``."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from wsvol.evaluation.metrics import EvaluationResult
from wsvol.report.frames import FRAMES_FILE, save_frames
from wsvol.report.page import render_html
from wsvol.report.tables import TABLES, build_report
from wsvol.utils.files import atomic_write_text


def write_report(
    out_dir: str | Path,
    results: Mapping[str, EvaluationResult],
    *,
    image_loader: Callable[[str], np.ndarray] | None = None,
    title: str = "wsvol evaluation report",
    thumb: int = 160,
    environment: dict | None = None,
    reproducibility: dict | None = None,
    **options,
) -> dict:
    """Write ``report.html``, ``report.json``, ``tables/*.csv`` and the per-frame results
    (``frames.npz``, :mod:`wsvol.report.frames`) under ``out_dir``; return the data.

    ``image_loader(frame_id)`` gives a frame's RGB image for the worst-frame pictures (without
    it, heatmaps are drawn on gray); pictures are ``thumb`` pixels on their long side.
    ``environment`` (threads, library versions: ``wsvol.engine.job.environment()``) is recorded
    as ``meta.environment``; ``reproducibility`` (the training seed, the config and its sha256, the
    checkpoints tested, the date: ``wsvol.engine.pipeline.reproducibility()``) as
    ``meta.reproducibility``. ``options`` go to :func:`build_report`.
    """
    out = Path(out_dir)
    report = build_report(results, **options)
    if environment is not None:
        report["meta"]["environment"] = environment
    if reproducibility is not None:
        report["meta"]["reproducibility"] = reproducibility
    for name in TABLES:
        atomic_write_text(out / "tables" / f"{name}.csv", csv_text(report[name]))
    save_frames(out / FRAMES_FILE, results)  # what `wsvol compare` pairs frame by frame
    atomic_write_text(out / "report.json", json.dumps(json_ready(report), indent=2, allow_nan=False))
    atomic_write_text(out / "report.html", render_html(report, results, image_loader, title, thumb))
    return report


def csv_text(rows: list[dict]) -> str:
    """CSV of rows (the first row's keys as header; missing numbers empty, lists as JSON)."""
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return buf.getvalue()


def _cell(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return json.dumps(v) if isinstance(v, list) else v


def json_ready(x):
    """JSON-ready copy: NaN → null, numpy scalars → Python numbers."""
    if isinstance(x, dict):
        return {k: json_ready(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_ready(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
