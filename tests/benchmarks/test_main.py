"""``python -m benchmarks``: every name a benchmark imports from wsvol exists, including the
imports inside functions (a renamed helper once broke the command minutes into its run), every
module is listed, and a benchmark that fails leaves the others' rows."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_wsvol_imports_resolve(path):
    imports = [node for node in ast.walk(ast.parse(path.read_text(), str(path)))
               if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "wsvol"]
    for node in imports:
        module = importlib.import_module(node.module)
        for alias in node.names:
            submodule = hasattr(module, "__path__") and importlib.util.find_spec(f"{node.module}.{alias.name}")
            assert hasattr(module, alias.name) or submodule, (
                f"{path.name}:{node.lineno}: {node.module} has no {alias.name!r}")


def test_every_benchmark_module_is_listed(load_benchmark):
    module = load_benchmark("__main__")
    assert {p.stem for p in BENCHMARKS if p.stem.startswith("bench_")} == set(module.BENCHMARKS)


def test_a_failing_benchmark_keeps_the_others_rows(load_benchmark, monkeypatch, capsys):
    module = load_benchmark("__main__")

    def broken():
        raise ImportError("cannot import name '_render_video'")

    fakes = {
        "benchmarks.bench_ok": SimpleNamespace(run=lambda: [
            {"name": "a", "ratio": 0.5, "target": 1.0},
            {"name": "b", "ratio": 0.99, "target": 1.0, "interval": [0.95, 1.02]},
            {"name": "reference library missing", "note": "x is not installed"}]),
        "benchmarks.bench_broken": SimpleNamespace(run=broken),
        "benchmarks.bench_notes": SimpleNamespace(run=lambda: [{"name": "skipped", "note": "y is not installed"}]),
    }
    monkeypatch.setattr(module, "importlib", SimpleNamespace(import_module=fakes.__getitem__))
    monkeypatch.setitem(module.BENCHMARKS, "bench_ok", "lower")
    monkeypatch.setitem(module.BENCHMARKS, "bench_broken", "lower")
    monkeypatch.setitem(module.BENCHMARKS, "bench_notes", "lower")
    rows, notes, failed, seconds = module.collect(["bench_notes", "bench_broken", "bench_ok"])
    assert [(r["name"], r["result"]) for r in rows] == [("a", "pass"), ("b", "tie")]
    assert notes == ["notes: y is not installed", "ok: x is not installed"] and failed == ["bench_broken"]
    assert set(seconds) == {"bench_notes", "bench_ok"}  # a module's time is its own, rows or not
    assert "_render_video" in capsys.readouterr().err  # the traceback, printed


def test_its_help_ends_with_examples_of_wsvol_bench(load_benchmark, capsys):
    """`wsvol bench --help` is this page: it ends with examples, as every wsvol command's does."""
    with pytest.raises(SystemExit):
        load_benchmark("__main__").main(["--help"])
    page = capsys.readouterr().out
    examples = page[page.index("\nexamples:"):]
    assert "wsvol bench --only bench_corloc" in examples and "--only" in page[: page.index("\nexamples:")]
