"""The cheap benchmarks run end to end at toy sizes: every row is well formed (no timing is
asserted). bench_cams has its own test; the others build full-size networks or spawn processes
and are covered by test_main's import check."""

from __future__ import annotations

import math

import pytest

SMALL = {
    "bench_corloc": dict(frames=12, memory=False),
    "bench_crf": dict(batch_size=1, size=32, repeats=1, device="cpu"),
    "bench_trcamv": dict(batch_size=2, size=32, repeats=1, device="cpu"),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_runs_small(name, load_benchmark):
    rows = load_benchmark(name).run(**SMALL[name])
    assert rows
    for row in rows:
        assert isinstance(row["name"], str) and row["name"], row
        assert math.isfinite(row["ratio"]) and row["ratio"] >= 0, row
        assert row.get("target") is None or row["target"] > 0, row
    names = [row["name"] for row in rows]
    assert len(names) == len(set(names))  # the table's rows can be told apart
