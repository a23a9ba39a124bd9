"""``wsvol compare``: finished run dirs read back and put in one table (:mod:`wsvol.report.compare`).

A finished run dir (of ``wsvol run`` or ``wsvol test``) holds the run marker, its merged
``config.yaml`` and the report with its per-frame results (``report/frames.npz``). Each method
the report holds becomes a row: for a ``wsvol run`` that is the pseudo-labels and the baseline
classifier too, before the run's own model; for ``wsvol test --cams`` every CAM method.
Which published numbers apply is read from the runs' configs (YouTube-Objects v1.0 / v2.2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from wsvol.engine.checkpoint import RUN_MARKER
from wsvol.evaluation.metrics import EvaluationResult
from wsvol.report.compare import (
    ComparisonError,
    Entry,
    build_comparison,
    check_bootstrap,
    print_comparison,
    write_comparison,
)
from wsvol.report.frames import FRAMES_FILE, load_frames
from wsvol.report.published import RELEASES

#: What a finished run dir holds, and why each may be missing.
REQUIRED = {
    RUN_MARKER: "not a wsvol work dir",
    "config.yaml": "not a wsvol work dir",
    "report/report.json": "the run has not finished: it stopped before its report (`wsvol run CFG --resume` "
                          "finishes it, `wsvol test CFG --checkpoint F` writes one)",
    f"report/{FRAMES_FILE}": "the report has no per-frame results: it was written by a wsvol older than "
                             "`wsvol compare` (`wsvol test CFG --checkpoint F` with its best checkpoint writes them)",
}
CAM_KEYS = ("cam", "gradcam", "gradcampp", "smooth_gradcampp", "xgradcam", "layercam")


@dataclass
class FinishedRun:
    """A finished run dir: its name (config stem), merged config and per-method results."""

    path: Path
    name: str
    config: dict
    results: dict[str, EvaluationResult]


def load_run(path: str | Path) -> FinishedRun:
    """Read a finished run dir; refuse one that is not, naming what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise ComparisonError(f"{path}: no such run dir")
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        raise ComparisonError(f"{path} is not a finished run: {', '.join(missing)} missing "
                              f"({REQUIRED[missing[0]]})")
    try:
        config = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) or {}
        marker = yaml.safe_load((path / RUN_MARKER).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ComparisonError(f"{path}: unreadable config.yaml or {RUN_MARKER} ({exc})") from None
    try:
        results = load_frames(path / "report" / FRAMES_FILE)
    except ValueError as exc:
        raise ComparisonError(str(exc)) from None
    name = Path(str(marker.get("config") or path.name)).stem
    return FinishedRun(path, name, config, results)


def detect_release(run: FinishedRun) -> str | None:
    """``ytov1`` / ``ytov22`` when the run's test data is YouTube-Objects v1.0 / v2.2 (by the
    folders and config name it used), None otherwise (the synthetic data, your own videos)."""
    if run.config.get("synthetic"):
        return None
    dataset = ((run.config.get("test_dataloader") or {}).get("dataset") or {})
    text = " ".join(str(dataset.get(k, "")) for k in ("data_root", "folds_root")) + " " + run.name
    text = text.lower()
    found = {key for key, pattern in (("ytov1", r"v1\.0|ytov1(?!\d)"), ("ytov22", r"v2\.2|ytov22"))
             if re.search(pattern, text)}
    return found.pop() if len(found) == 1 else None


def describe_data(run: FinishedRun) -> tuple[str, bool]:
    """What the run was tested on, in words, and whether that is known (a YouTube-Objects release,
    the synthetic data) rather than a data folder wsvol cannot name."""
    dataset = ((run.config.get("test_dataloader") or {}).get("dataset") or {})
    synthetic = run.config.get("synthetic")
    if not isinstance(synthetic, dict):  # a config without the section, on generated data all the same
        marker = Path(str(dataset.get("folds_root") or Path(str(dataset.get("data_root", ""))) / "folds"))
        try:
            synthetic = json.loads((marker / "synthetic.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            synthetic = None
    if isinstance(synthetic, dict):
        how = ", ".join(f"{k} {synthetic[k]}" for k in ("size", "seed") if k in synthetic)
        return f"synthetic data ({how})" if how else "synthetic data", True
    release = detect_release(run)
    if release:
        return RELEASES[release], True
    root = dataset.get("data_root")
    return (f"the data in {root}" if root else "data its config does not name"), False


def published_warning(runs: Sequence[FinishedRun], release: str) -> str | None:
    """Why the published numbers of ``release`` may not compare with these runs (their data is
    another dataset, or their configs do not show that release); None when every run shows it."""
    known, unknown = [], []
    for run in runs:
        if detect_release(run) == release:
            continue
        what, sure = describe_data(run)
        (known if sure else unknown).append(f"{run.path.resolve()} ({what})")
    name = RELEASES[release]
    parts = []
    if known:
        parts.append(f"the published rows are the papers' numbers on {name}, but these runs were tested on "
                     f"other data: {'; '.join(known)}; their numbers do not compare with the papers'")
    if unknown:
        parts.append(f"{'; '.join(unknown)}: the config does not show {name}; the published rows compare only "
                     "if it was tested on that release")
    return ". ".join(parts) or None


def method_key(method: str, config: dict) -> str | None:
    """Which published method a row of a run is (see :mod:`wsvol.report.published`), or None."""
    label = method.removeprefix("baseline: ")
    model = label.split(" (")[0].lower()
    if model.startswith("tcam"):
        return "tcam"
    if model.startswith("trcamv"):
        source = (((config.get("pseudo_labels") or {}).get("source")) or {}).get("type")
        return {"clip_es": "trcamv_clip", "clipseg": "trcamv_clipseg"}.get(source)
    cam = re.search(r"\((\w+)\)$", label)
    return cam.group(1) if cam and cam.group(1) in CAM_KEYS else None


def entries_of(runs: Sequence[FinishedRun]) -> list[Entry]:
    """One entry per method of every run, labelled by the method alone where that is unique,
    else by run name (config stem) and method, else by run dir and method."""
    rows = [(run, method) for run in runs for method in run.results]
    methods = [m for _, m in rows]
    named = [f"{run.name}: {m}" for run, m in rows]
    out = []
    for (run, method), name in zip(rows, named):
        label = method if methods.count(method) == 1 else name if named.count(name) == 1 else f"{run.path}: {method}"
        out.append(Entry(label, run.results[method], f"{run.path.resolve()} ({method})",
                         method_key(method, run.config)))
    return out


def reference_label(reference: str | None, runs: Sequence[FinishedRun], entries: Sequence[Entry]) -> str:
    """The entry label ``--reference`` names: a label, or a run dir (its last method: the run's
    own model in a ``wsvol run``); default: the first run's last method."""
    per_run = [[e for e in entries if e.origin.startswith(f"{run.path.resolve()} (")] for run in runs]
    if reference is None:
        return per_run[0][-1].label
    if any(e.label == reference for e in entries):
        return reference
    for run, rows in zip(runs, per_run):
        if Path(reference).resolve() == run.path.resolve():
            return rows[-1].label
    raise ComparisonError(f"--reference {reference}: neither one of the run dirs nor a method label "
                          f"({', '.join(e.label for e in entries)})")


def compare_runs(run_dirs: Sequence[str | Path], *, reference: str | None = None, out: str | Path | None = None,
                 intersection: bool = False, published: str = "auto", n_boot: int = 1000, confidence: float = 0.95,
                 seed: int = 0, console=None) -> dict:
    """Read the run dirs, compare them, write the files into ``out`` and print the tables."""
    from wsvol.engine.job import new_work_dir
    from wsvol.utils.terminal import make_console

    if not run_dirs:
        raise ComparisonError("no run dir to compare")
    check_bootstrap(n_boot, confidence)  # before reading every run
    runs = [load_run(p) for p in run_dirs]
    entries = entries_of(runs)
    ref = reference_label(reference, runs, entries)
    if published == "auto":
        found = {r for r in map(detect_release, runs) if r}
        if len(found) > 1:
            raise ComparisonError(f"the runs' configs name different releases ({', '.join(sorted(found))}); "
                                  "say which with --published")
        release = found.pop() if found else None
    else:
        release = None if published == "none" else published
    comparison = build_comparison(entries, reference=ref, release=release, intersection=intersection,
                                  n_boot=n_boot, confidence=confidence, seed=seed,
                                  published_warning=published_warning(runs, release) if release else None)
    comparison["meta"]["runs"] = [str(r.path.resolve()) for r in runs]
    out = Path(out) if out else new_work_dir("compare")
    page = write_comparison(out, comparison)
    console = console or make_console()
    print_comparison(comparison, console)
    console.print(f"comparison: {page}", highlight=False)
    return comparison
