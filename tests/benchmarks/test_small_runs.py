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


def test_the_gpu_table_gives_the_marked_rows_in_milliseconds(load_benchmark, monkeypatch):
    """What a machine with CUDA prints after the ratios: the training step, the sampler, the CRF
    and the per-frame times, in ms, the inference next to TCAM's 18.5 ms a frame."""
    from types import SimpleNamespace

    from rich.console import Console

    main = load_benchmark("__main__")
    small = load_benchmark("bench_trcamv").run(**SMALL["bench_trcamv"])
    monkeypatch.setattr(main, "importlib", SimpleNamespace(import_module=lambda _: SimpleNamespace(run=lambda: small)))
    rows, _, failed, _ = main.collect(["bench_trcamv"])
    console = Console(record=True, width=200)
    console.print(main.gpu_timings(rows, "stand-in GPU"))
    lines = {line.split("│")[2].strip(): line for line in console.export_text().splitlines() if line.count("│") == 5}
    marked = {r["name"]: r["seconds"] for r in small if r.get("gpu")}
    assert not failed and set(marked) == set(lines) - {"measure"}
    assert {"train_step (batch 2)", "pixel sampling / network", "loss crf fwd/bwd / network",
            "network forward / frame"} <= set(marked)  # fmt: skip
    for name, seconds in marked.items():
        assert f"{1e3 * seconds:.2f}" in lines[name].split("│")[3]
    inference = "inference (cls + map + box) / frame vs forward"
    assert "18.5 ms / frame" in lines[inference] and "ms / frame" not in lines["network forward / frame"]
