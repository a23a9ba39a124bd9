"""The report's files: ``report.html`` with embedded pictures, ``report.json`` and ``tables/*.csv``."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from wsvol.evaluation.metrics import EvaluationResult
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
    **options,
) -> dict:
    """Write ``report.html``, ``report.json`` and ``tables/*.csv`` under ``out_dir``; return the data.

    ``image_loader(frame_id)`` gives a frame's RGB image for the worst-frame pictures (without
    it, heatmaps are drawn on gray); pictures are ``thumb`` pixels on their long side.
    ``environment`` (threads, library versions: ``wsvol.engine.job.environment()``) is recorded
    as ``meta.environment``. ``options`` go to :func:`build_report`.
    """
    out = Path(out_dir)
    report = build_report(results, **options)
    if environment is not None:
        report["meta"]["environment"] = environment
    for name in TABLES:
        atomic_write_text(out / "tables" / f"{name}.csv", _csv(report[name]))
    atomic_write_text(out / "report.json", json.dumps(_plain(report), indent=2, allow_nan=False))
    atomic_write_text(out / "report.html", render_html(report, results, image_loader, title, thumb))
    return report


def _csv(rows: list[dict]) -> str:
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


def _plain(x):
    """JSON-ready copy: NaN → null, numpy scalars → Python numbers."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
