"""``python -m benchmarks``: every benchmark of the project, one table of ratios with targets.

Each ratio is measured side by side in the same run (never against a stored time). Results are
also written as JSON (``--out``, default ``benchmarks/results.json``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
from pathlib import Path

#: module → direction of its ratios when a row does not say ("lower" is better, or "higher").
BENCHMARKS = {
    "bench_corloc": "higher",  # per-threshold loop time / fast sweep time
    "bench_cams": "lower",  # CAM method time / forward (or forward+backward)
    "bench_crf": "lower",  # CRF loss time / ViT-S forward+backward
    "bench_trcamv": "lower",  # parts of a TrCAM-V training step / the step; inference / forward
    "bench_pseudo_labels": "lower",  # pseudo-labels / CLIP fwd+bwd; cache read; cache size
    "bench_workers": "lower",  # data loading with 2 workers / 1 worker
    "bench_predict": "lower",  # exported models / torch eager; predict end to end (frames/s rows: higher)
}


def collect(names: list[str]) -> list[dict]:
    """Run the named benchmark modules; one normalised row per measured ratio."""
    rows = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.perf_counter()
        out = module.run()
        for row in out if isinstance(out, list) else [out]:
            target = row.get("target")
            better = row.get("better", BENCHMARKS[name])
            ok = None if target is None else (row["ratio"] <= target if better == "lower" else row["ratio"] >= target)
            label = row["name"] + (f" (batch {row['batch']})" if "batch" in row and "batch" not in row["name"] else "")
            rows.append({"benchmark": name, "name": label, "ratio": float(row["ratio"]), "target": target,
                         "better": better, "pass": ok, "measured_s": row.get("seconds")})
        rows[-1]["seconds"] = time.perf_counter() - started
    return rows


#: per-frame inference time that TCAM (Belharbi et al., WACV 2023) reports on its GPU
TCAM_MS_PER_FRAME = 18.5


def gpu_timings(rows: list[dict], device: str):
    """Absolute per-frame times of the TrCAM-V rows (the GPU run), next to TCAM's figure."""
    from rich.table import Table

    table = Table(title=f"GPU timings per frame ({device}; TrCAM-V ViT-S/16 at 224², batch of bench_trcamv)")
    for col in ("measure", "ms / frame", "TCAM reports"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    for r in rows:
        if r["benchmark"] == "bench_trcamv" and "/ frame" in r["name"] and r.get("measured_s") is not None:
            tcam = f"{TCAM_MS_PER_FRAME} ms" if r["name"].startswith("inference") else ""
            table.add_row(r["name"], f"{1e3 * r['measured_s']:.2f}", tcam)
    return table


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write the JSON; exit 0 (a missed target is reported, not an error)."""
    import torch
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these")
    parser.add_argument("--out", default="benchmarks/results.json")
    args = parser.parse_args(argv)
    rows = collect(args.only or list(BENCHMARKS))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
    table = Table(title=f"wsvol benchmarks — ratios measured side by side ({device}, {torch.get_num_threads()} threads)")
    for col in ("benchmark", "measure", "ratio", "target", "result"):
        table.add_column(col, justify="right" if col in ("ratio", "target") else "left")
    for r in rows:
        target = "" if r["target"] is None else ("≤ " if r["better"] == "lower" else "≥ ") + f"{r['target']:g}"
        result = "" if r["pass"] is None else ("[green]pass[/green]" if r["pass"] else "[red]miss[/red]")
        table.add_row(r["benchmark"].removeprefix("bench_"), r["name"], f"{r['ratio']:.3g}", target, result)
    Console().print(table)
    if torch.cuda.is_available():
        Console().print(gpu_timings(rows, device))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"device": device, "rows": rows}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
