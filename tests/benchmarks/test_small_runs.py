"""Every benchmark runs end to end at toy sizes: every row is well formed (no timing is asserted).
bench_cams has its own test."""

from __future__ import annotations

import math

import pytest

SMALL = {
    "bench_corloc": dict(frames=12, memory=False),
    "bench_crf": dict(batch_size=1, size=32, repeats=1, device="cpu"),
    "bench_trcamv": dict(batch_size=2, size=32, repeats=1, device="cpu"),
    "bench_predict": dict(batch_size=4, repeats=1, device="cpu", only=("synthetic",)),  # ONNX rows need [export]
    "bench_workers": dict(frames=32, repeats=1),
    "bench_startup": dict(repeats=1),
    "bench_pseudo_labels": dict(batch=1, repeats=1, frames=16, size=32, device="cpu"),  # random-init CLIP, 7 s
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
