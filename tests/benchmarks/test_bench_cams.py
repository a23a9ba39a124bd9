"""bench_cams end to end on a small input: every row, its interval and the reference libraries'
rows or notes (no timing is asserted: only what the rows must say whatever the machine)."""

from __future__ import annotations


def test_rows_intervals_and_libraries(load_benchmark):
    bench = load_benchmark("bench_cams")
    rows = bench.run(backbone="resnet18", size=32, batches=(2,), rounds=(6,), smooth_n=2, device="cpu")
    notes = [r["note"] for r in rows if "note" in r]
    rows = [r for r in rows if "note" not in r]
    names = [r["name"] for r in rows]
    assert names[:2] == ["forward", "forward+backward"]
    assert [n for n in names if n in bench.METHODS] == list(bench.METHODS)
    for r in rows:
        low, high = r["interval"]
        assert low <= r["ratio"] <= high, r
        assert r["batch"] == 2 and r["ms_per_frame"] > 0
    assert rows[0]["ratio"] == 1.0
    assert {r["name"]: r["target"] for r in rows if r["name"] in bench.METHODS} == {
        "cam": 1.2, "gradcam": 1.2, "gradcampp": 1.2, "smooth_gradcampp": 1.2 * 3, "xgradcam": 1.2,
        "layercam": 1.2}
    installed, missing = bench.available_libraries()
    assert len(notes) == len(missing)
    for library in ("torchcam", "pytorch-grad-cam"):
        rows_of = [n for n in names if n.endswith(f" / {library}")]
        if library in installed:
            want = [m for m in bench.METHODS if bench.LIBRARIES[m][library == "pytorch-grad-cam"]]
            assert rows_of == [f"{m} / {library}" for m in want]
        else:
            assert not rows_of and any(library in note for note in notes)
