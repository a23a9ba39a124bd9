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
import traceback
from pathlib import Path

from wsvol.utils.timing import verdict

#: module → direction of its ratios when a row does not say ("lower" is better, or "higher").
BENCHMARKS = {
    "bench_corloc": "higher",  # per-threshold loop time / fast sweep time; evaluation memory (rows say "lower")
    "bench_cams": "lower",  # CAM method time / forward (or forward+backward); / torchcam, / pytorch-grad-cam
    "bench_crf": "lower",  # CRF loss time / ViT-S forward+backward
    "bench_trcamv": "lower",  # parts of a TrCAM-V training step / the network; inference / forward
    "bench_pseudo_labels": "lower",  # pseudo-labels / CLIP fwd+bwd and / forward; cache read; cache size
    "bench_workers": "lower",  # data loading with 2 workers / 1 worker; loader / training step
    "bench_predict": "lower",  # exported models / torch eager; predict end to end (frames/s rows: higher)
    "bench_startup": "lower",  # what the commands import / what they need
}


def collect(names: list[str]) -> tuple[list[dict], list[str], list[str], dict[str, float]]:
    """Run the named benchmark modules; one normalised row per measured ratio, the notes (rows
    skipped, e.g. a reference library that is not installed), the modules that failed (each
    with its traceback, printed at once; the others still run) and each module's seconds."""
    rows, notes, failed, seconds = [], [], [], {}
    for name in names:
        started = time.perf_counter()
        try:
            out = importlib.import_module(f"benchmarks.{name}").run()
        except Exception:  # one broken benchmark must not throw away the minutes the others took
            traceback.print_exc()
            failed.append(name)
            continue
        for row in out if isinstance(out, list) else [out]:
            if "note" in row:
                notes.append(f"{name.removeprefix('bench_')}: {row['note']}")
                continue
            target = row.get("target")
            better = row.get("better", BENCHMARKS[name])
            interval = row.get("interval")
            label = row["name"] + (f" (batch {row['batch']})" if "batch" in row and "batch" not in row["name"] else "")
            rows.append({"benchmark": name, "name": label, "ratio": float(row["ratio"]), "target": target,
                         "better": better, "interval": interval,
                         "result": verdict(float(row["ratio"]), target, better, interval),
                         "measured_s": row.get("seconds"), "gpu": bool(row.get("gpu")), "tcam_ms": row.get("tcam_ms")})
        seconds[name] = time.perf_counter() - started
    return rows, notes, failed, seconds


def gpu_timings(rows: list[dict], device: str):
    """Absolute GPU times of the rows marked ``gpu`` (inference per frame next to TCAM's 18.5 ms,
    the training step, the CRF)."""
    from rich.table import Table

    table = Table(title=f"GPU timings ({device}; TrCAM-V ViT-S/16 at 224², batch of bench_trcamv)")
    for col in ("benchmark", "measure", "ms", "TCAM reports"):
        table.add_column(col, justify="right" if col in ("ms", "TCAM reports") else "left")
    for r in rows:
        if r.get("gpu") and r.get("measured_s") is not None:
            tcam = f"{r['tcam_ms']} ms / frame" if r.get("tcam_ms") else ""
            table.add_row(r["benchmark"].removeprefix("bench_"), r["name"], f"{1e3 * r['measured_s']:.2f}", tcam)
    return table


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write the JSON; exit 0 (a missed target is reported, not an error),
    1 when a benchmark failed to run."""
    import torch
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  wsvol bench                                   # every benchmark (python -m benchmarks)\n"
               "  wsvol bench --only bench_corloc bench_cams    # a subset\n"
               "  OMP_NUM_THREADS=1 python -m benchmarks --out /tmp/results.json")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these")
    parser.add_argument("--out", default="benchmarks/results.json")
    args = parser.parse_args(argv)
    rows, notes, failed, seconds = collect(args.only or list(BENCHMARKS))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
    table = Table(title=f"wsvol benchmarks — ratios measured side by side ({device}, {torch.get_num_threads()} threads)")
    for col in ("benchmark", "measure", "ratio", "95% interval", "target", "result"):
        table.add_column(col, justify="right" if col in ("ratio", "95% interval", "target") else "left")
    colours = {"pass": "green", "miss": "red", "tie": "yellow"}
    for r in rows:
        target = "" if r["target"] is None else ("≤ " if r["better"] == "lower" else "≥ ") + f"{r['target']:g}"
        result = f"[{colours[r['result']]}]{r['result']}[/]" if r["result"] else ""
        interval = "" if r["interval"] is None else "–".join(f"{v:.3g}" for v in r["interval"])
        table.add_row(r["benchmark"].removeprefix("bench_"), r["name"], f"{r['ratio']:.3g}", interval, target, result)
    Console().print(table)
    for note in notes:
        Console().print(f"note: {note}")
    if torch.cuda.is_available():
        Console().print(gpu_timings(rows, device))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"device": device, "rows": rows, "notes": notes, "failed": failed,
                                          "module_seconds": seconds},
                                         indent=2, default=str))
    if failed:
        Console().print(f"[red]failed[/red] (traceback above, the other rows are in the table): {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
