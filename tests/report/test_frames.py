"""``report/frames.npz``: per-frame results written with the report and read back to the same numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest

from wsvol.engine.checkpoint import RUN_MARKER
from wsvol.engine.compare import load_run
from wsvol.evaluation.classification import evaluate_classification
from wsvol.evaluation.corloc import evaluate_quantized
from wsvol.evaluation.metrics import EvaluationResult
from wsvol.report import build_report, write_report
from wsvol.report.compare import ComparisonError
from wsvol.report.frames import FRAMES_FILE, load_frames, save_frames


def random_result(seed: int, n: int = 24) -> EvaluationResult:
    rng = np.random.default_rng(seed)
    maps = [(rng.random((16, 16)) * 255).astype(np.uint8) for _ in range(n)]
    boxes = [rng.integers(0, 8, (1 + i % 2, 2)).repeat(2, axis=1) + [0, 0, 6, 6] for i in range(n)]
    labels = [i % 3 for i in range(n)]
    loc = evaluate_quantized(maps, boxes, labels, num_classes=3, tau_step=0.05,
                             frame_ids=[f"f{i}" for i in range(n)], video_ids=[f"v{i // 4}" for i in range(n)])
    preds = [(i * 7) % 3 if i % 5 else -1 for i in range(n)]
    return EvaluationResult(loc, evaluate_classification(labels, preds, 3), ["a", "b", "c"],
                            scores=rng.random(n), areas=rng.random(n))


def test_write_report_saves_frames_that_give_the_same_report(tmp_path):
    results = {"one": random_result(0), "two": random_result(1)}
    write_report(tmp_path, results, n_boot=100, n_worst=0)
    back = load_frames(tmp_path / FRAMES_FILE)
    assert list(back) == ["one", "two"]
    for name, res in results.items():
        got, loc = back[name], res.localization
        assert got.localization.frame_ids == loc.frame_ids and got.localization.video_ids == loc.video_ids
        assert np.array_equal(np.asarray(got.localization.correct), np.asarray(loc.correct))
        assert all(np.array_equal(a, b) for a, b in zip(got.localization.gt_boxes, loc.gt_boxes))
        assert np.array_equal(got.classification.pred_labels, res.classification.pred_labels)
        assert np.array_equal(got.scores, res.scores) and np.array_equal(got.areas, res.areas)
    original, again = build_report(results, n_boot=100, n_worst=0), build_report(back, n_boot=100, n_worst=0)
    for table in ("per_class", "per_video", "by_size", "bootstrap", "corloc_curve"):
        assert again[table] == original[table], table
    assert [{k: v for k, v in r.items() if k not in ("pxap", "pxiou")} for r in again["summary"]] == \
           [{k: v for k, v in r.items() if k not in ("pxap", "pxiou")} for r in original["summary"]]


def test_unreadable_or_incomplete_files_are_refused(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz: not a readable per-frame results file"):
        load_frames(bad)
    save_frames(tmp_path / "ok.npz", {"one": random_result(0)})
    with np.load(tmp_path / "ok.npz") as data:
        kept = {k: data[k] for k in data.files if k != "m0_preds"}
    np.savez(tmp_path / "cut.npz", **kept)
    with pytest.raises(ValueError, match="cut.npz: incomplete per-frame results, m0_preds missing"):
        load_frames(tmp_path / "cut.npz")
    with np.load(tmp_path / "ok.npz") as data:
        objects = {k: data[k] for k in data.files} | {"classes": np.array([{"a": 1}], dtype=object)}
    np.savez(tmp_path / "objects.npz", **objects)
    with pytest.raises(ValueError, match="objects.npz"):  # object arrays would need pickle: never read
        load_frames(tmp_path / "objects.npz")


# -- damaged files are reported naming them --------------------------------------------------
def _result(n: int = 24) -> EvaluationResult:
    rng = np.random.default_rng(0)
    maps = [(rng.random((16, 16)) * 255).astype(np.uint8) for _ in range(n)]
    boxes = [np.array([[2, 2, 9, 9]]) for _ in range(n)]
    labels = [i % 3 for i in range(n)]
    loc = evaluate_quantized(maps, boxes, labels, num_classes=3, tau_step=0.05,
                             frame_ids=[f"f{i}" for i in range(n)], video_ids=[f"v{i // 4}" for i in range(n)])
    return EvaluationResult(loc, evaluate_classification(labels, labels, 3), ["a", "b", "c"],
                            scores=rng.random(n), areas=rng.random(n))


def _refused(path) -> pytest.RaisesContext:
    return pytest.raises(ValueError, match=f"{re.escape(str(path))}: not a readable per-frame results file")


@pytest.mark.parametrize("keep", [0.0, 0.002, 0.3, 0.6, 0.99])
def test_truncated_frames_file_is_refused_naming_it(tmp_path, keep):
    path = tmp_path / FRAMES_FILE
    save_frames(path, {"one": _result()})
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with _refused(path):
        load_frames(path)


@pytest.mark.parametrize("where", [0.2, 0.5, 0.8])
def test_overwritten_member_data_is_refused_naming_it(tmp_path, where):
    path = tmp_path / FRAMES_FILE
    save_frames(path, {"one": _result()})
    data = bytearray(path.read_bytes())
    at = int(len(data) * where)
    data[at : at + 16] = bytes(16)  # the zip directory at the end stays whole
    path.write_bytes(bytes(data))
    with _refused(path):
        load_frames(path)


def test_compare_names_a_truncated_frames_file(tmp_path):
    run = tmp_path / "run"
    (run / "report").mkdir(parents=True)
    (run / RUN_MARKER).write_text("config: run.yaml\n")
    (run / "config.yaml").write_text("{}\n")
    (run / "report" / "report.json").write_text("{}\n")
    path = run / "report" / FRAMES_FILE
    save_frames(path, {"one": _result()})
    assert list(load_run(run).results) == ["one"]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ComparisonError, match=f"{re.escape(str(path))}: not a readable per-frame results file"):
        load_run(run)
