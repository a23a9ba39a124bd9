"""The streaming evaluation (bits per frame, maps on disk) gives every number of the in-memory one.

The reference is the evaluation as it was before it streamed: the dense (frames × thresholds)
boolean table from ``correct_matrix``, every statistic computed from it with plain numpy (the
former code's formulas), and boxes traced from maps held in memory.
"""

from __future__ import annotations

import gc
import os

import cv2
import numpy as np
import pytest
import torch

from wsvol.evaluation import BitTable, MapSpill, MapStore
from wsvol.evaluation.bits import CHUNK_ROWS
from wsvol.evaluation.bootstrap import _interval, _resampled_corloc, bootstrap_corloc
from wsvol.evaluation.corloc import box_at_level, box_iou, correct_matrix, level_of
from wsvol.evaluation.maps import prepare_map, rescale_boxes, thresholds
from wsvol.evaluation.metrics import CorLocMetric
from wsvol.report.tables import SIZE_BINS, build_report

CLASSES = ["cat", "dog", "cow", "car"]


# -- the bit table --------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [1, 13, 1000])
def test_bit_table_sums_columns_and_rows_equal_the_dense_table(width):
    rng = np.random.default_rng(width)
    dense = rng.random((CHUNK_ROWS * 2 + 37, width)) < rng.random(width)  # > 2 chunks of rows
    table = BitTable.from_bool(dense)
    assert table.shape == dense.shape and table.packed.nbytes == len(dense) * ((width + 7) // 8)
    np.testing.assert_array_equal(np.asarray(table), dense)
    np.testing.assert_array_equal(table.sums(), dense.sum(0))
    pick = rng.permutation(len(dense))[:500]
    np.testing.assert_array_equal(table.sums(pick), dense[pick].sum(0))
    mask = rng.random(len(dense)) < 0.3
    np.testing.assert_array_equal(table.sums(mask), dense[mask].sum(0))
    for k in (0, width // 2, width - 1):
        np.testing.assert_array_equal(table.column(k), dense[:, k])
    np.testing.assert_array_equal(np.asarray(table.rows(pick)), dense[pick])
    groups = rng.integers(0, 57, len(dense))
    expected = np.stack([dense[groups == g].sum(0) for g in range(60)])
    np.testing.assert_array_equal(table.group_sums(groups, 60), expected)
    both = BitTable.concat([table.rows(pick), table.rows(mask)])
    np.testing.assert_array_equal(np.asarray(both), np.concatenate([dense[pick], dense[mask]]))


# -- frames ----------------------------------------------------------------------------------------
def cam_like(rng, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A CAM-like map (blobs and noise on a coarse grid, upsampled) and one or two true boxes."""
    grid = 12
    yy, xx = np.mgrid[:grid, :grid] + 0.5
    low = 0.2 * rng.random((grid, grid))
    centres = []
    for _ in range(rng.integers(1, 4)):
        cx, cy, s = *rng.uniform(2, grid - 2, 2), rng.uniform(1, 3)
        low += rng.uniform(0.3, 1) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        centres.append((cx, cy, s))
    cam = cv2.resize(low, (size, size), interpolation=cv2.INTER_LINEAR)
    boxes = []
    for cx, cy, s in centres[: rng.integers(1, 3)]:
        k = size / grid
        b = np.clip(np.array([cx - 2 * s, cy - 2 * s, cx + 2 * s, cy + 2 * s]) + rng.normal(0, s, 4), 0, grid) * k
        b[2:] = np.maximum(b[2:], b[:2] + 1)
        boxes.append(b)
    return cam, np.array(boxes)


def model_outputs(n: int, seed: int, kind: str) -> list[dict]:
    """What a model's ``predict`` hands the metric: random noise maps or CAM-like ones, frames
    of several sizes, some without boxes (skipped), a few constant maps."""
    rng = np.random.default_rng(seed)
    outs = []
    for i in range(n):
        size = (int(rng.integers(40, 90)), int(rng.integers(40, 90)))  # (width, height)
        if kind == "noise":
            cam = rng.random((size[1], size[0])) ** 3
            k = int(rng.integers(1, 3))
            xs, ys = (np.sort(rng.uniform(0, side, (k, 2)), axis=1) for side in size)
            boxes = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)  # x0, y0, x1, y1
        else:
            cam, boxes = cam_like(rng, 48)
            boxes = boxes * np.array(size * 2) / 48
        if i % 17 == 3:
            cam = np.full_like(cam, 0.3)  # constant: every box is (0, 0, 0, 0)
        label = int(rng.integers(0, len(CLASSES)))
        scores = torch.softmax(torch.tensor(rng.normal(size=len(CLASSES))), 0)
        outs.append({
            "cam": torch.tensor(cam, dtype=torch.float32),
            "gt_boxes": boxes if i % 11 != 5 else np.zeros((0, 4)),  # frames without boxes
            "ori_size": size,
            "gt_label": label,
            "pred_label": int(scores.argmax()),
            "scores": scores,
            "frame_id": f"{CLASSES[label]}/v{i // 5}/frame{i:04d}.jpg",
            "video_id": f"{CLASSES[label]}/v{i // 5}",
        })  # fmt: skip
    return outs


def streamed(outs: list[dict], tmp_path, batch: int = 7):
    metric = CorLocMetric(classes=CLASSES, tau_step=0.001, maps_dir=str(tmp_path))
    for start in range(0, len(outs), batch):
        metric.process({}, outs[start : start + batch])
    metric.evaluate(len(outs))
    return metric.last_result


# -- the reference: dense table and maps in memory ---------------------------------------------------
class Dense:
    """The evaluation of frames with boxes, computed the former way."""

    def __init__(self, outs: list[dict]):
        kept = [o for o in outs if len(o["gt_boxes"])]
        self.maps = np.stack([prepare_map(o["cam"].numpy()) for o in kept])
        self.boxes = [rescale_boxes(o["gt_boxes"], o["ori_size"]) for o in kept]
        self.labels = np.array([o["gt_label"] for o in kept])
        self.videos = [o["video_id"] for o in kept]
        self.frames = [o["frame_id"] for o in kept]
        self.taus = thresholds()
        self.correct = correct_matrix(self.maps, self.boxes, self.taus)
        sizes = np.array([o["ori_size"] for o in kept], dtype=np.float64)
        raw = [np.asarray(o["gt_boxes"], np.float64).reshape(-1, 4) for o in kept]
        self.areas = np.array([((b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)).max() / (s[0] * s[1])
                               for b, s in zip(raw, sizes)])  # fmt: skip

    def curve(self, sel=None):
        c = self.correct if sel is None else self.correct[sel]
        return c.mean(axis=0) * 100.0

    def at(self, k):
        t = self.taus[k : k + 1]
        boxes = np.array([box_at_level(m, int(level_of(m, t)[0])) for m in self.maps])
        return boxes, np.array([box_iou(b, g).max() for b, g in zip(boxes, self.boxes)])

    def bootstrap(self, correct, n_boot, seed):
        """The former ``_per_group``: float64 rows sorted by video, summed with reduceat."""
        _, inverse = np.unique(np.asarray(self.videos, dtype=object).astype(str), return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        starts = np.flatnonzero(np.diff(inverse[order], prepend=-1))
        counts = np.add.reduceat(np.asarray(correct, dtype=np.float64)[order], starts, axis=0)
        sizes = np.diff(np.append(starts, len(order))).astype(np.float64)
        estimate = float(np.asarray(correct, dtype=np.float64).mean(axis=0).max() * 100)
        return estimate, _resampled_corloc([counts], sizes, n_boot, seed)[:, 0]


@pytest.mark.parametrize("kind", ["noise", "cam_like"])
def test_streamed_evaluation_and_report_equal_the_dense_evaluation(tmp_path, kind):
    outs = model_outputs(90, seed=1 if kind == "noise" else 2, kind=kind)
    res = streamed(outs, tmp_path)
    ref = Dense(outs)
    loc = res.localization
    assert isinstance(loc.correct, BitTable) and isinstance(loc.maps, MapStore)
    assert loc.frame_ids == ref.frames and loc.video_ids == ref.videos
    np.testing.assert_array_equal(np.asarray(loc.correct), ref.correct)
    np.testing.assert_array_equal(res.areas, ref.areas)

    curve = ref.curve()
    best = int(np.argmax(curve))
    assert curve.min() < curve[best] < 100  # thresholds matter on these frames
    np.testing.assert_array_equal(loc.curve(), curve)
    assert loc.best_index == best and loc.best_tau == ref.taus[best] and loc.corloc == float(curve[best])
    per_class, per_tau = loc.per_class()
    for c in range(len(CLASSES)):
        cur = ref.curve(ref.labels == c)
        assert per_class[c] == cur.max() and per_tau[c] == ref.taus[int(np.argmax(cur))]
    assert loc.corloc_mean == float(np.nanmean(per_class))

    boxes, ious = ref.at(best)
    at = loc.at()  # read back from the maps' file
    np.testing.assert_array_equal(at.boxes, boxes)
    np.testing.assert_array_equal(at.ious, ious)
    np.testing.assert_array_equal(at.correct, ref.correct[:, best])
    k = 321
    np.testing.assert_array_equal(loc.at(ref.taus[k]).boxes, ref.at(k)[0])
    for i in (0, len(ref.maps) // 2, len(ref.maps) - 1):
        np.testing.assert_array_equal(loc.maps[i], ref.maps[i])

    # the report, row by row, against the dense table
    report = build_report({"m": res, "shifted": res}, n_boot=200, seed=3)
    summary = report["summary"][0]
    estimate, samples = ref.bootstrap(ref.correct, 200, 3)
    ci = _interval(estimate, samples, 0.95)
    assert (summary["corloc"], summary["corloc_low"], summary["corloc_high"]) == (estimate, ci.low, ci.high)
    assert summary["best_tau"] == ref.taus[best] and summary["frames"] == len(ref.maps)
    col = ref.correct[:, best]
    rows = [r for r in report["per_video"] if r["method"] == "m"]
    assert [r["video"] for r in rows] == sorted(set(ref.videos))
    for r in rows:
        sel = np.array([v == r["video"] for v in ref.videos])
        assert r["frames"] == sel.sum() and r["correct"] == col[sel].sum()
        assert r["corloc"] == float(col[sel].mean() * 100)
        assert r["class"] == CLASSES[np.bincount(ref.labels[sel]).argmax()]
    group = np.digitize(ref.areas, SIZE_BINS)
    for g, r in enumerate(r for r in report["by_size"] if r["method"] == "m"):
        sel = group == g
        assert r["corloc"] == (float(col[sel].mean() * 100) if sel.any() else None)
    assert [r["corloc"] for r in report["corloc_curve"] if r["method"] == "m"] == curve.tolist()
    worst = [r for r in report["worst_frames"] if r["method"] == "m"]
    order = np.argsort(ious, kind="stable")[: len(worst)]
    assert [r["index"] for r in worst] == order.tolist()
    assert [r["pred_box"] for r in worst] == boxes[order].tolist()
    diff = [r for r in report["bootstrap"] if r["statistic"].startswith("corloc - ")][0]
    assert diff["estimate"] == 0.0 and diff["low"] == 0.0 == diff["high"]  # a method against itself


def test_bootstrap_of_bits_equals_the_dense_bootstrap():
    rng = np.random.default_rng(5)
    correct = rng.random((3000, 40)) < rng.random(40)
    videos = [f"v{int(v)}" for v in rng.integers(0, 150, 3000)]
    a = bootstrap_corloc(correct, videos, n_boot=300, seed=1)
    b = bootstrap_corloc(BitTable.from_bool(correct), videos, n_boot=300, seed=1)
    assert a == b


def test_one_process_spills_to_an_unlinked_file(tmp_path):
    outs = model_outputs(20, seed=4, kind="cam_like")
    metric = CorLocMetric(classes=CLASSES, maps_dir=str(tmp_path))
    metric.process({}, outs[:10])
    assert not any(tmp_path.iterdir())  # unlinked at once: a killed run leaves nothing behind
    metric.process({}, outs[10:])
    metric.evaluate(len(outs))
    loc = metric.last_result.localization
    assert len(loc.maps) == len(loc) and loc.maps[len(loc) - 1].shape == (224, 224)


def test_a_shared_spill_lives_until_its_store_opens_it(tmp_path):
    spill = MapSpill(tmp_path, private=False)  # what each rank of a distributed run writes
    spill.append(np.arange(60, dtype=np.uint8).reshape(3, 4, 5))
    with pytest.raises(ValueError, match="size"):
        spill.append(np.zeros((1, 5, 4), np.uint8))
    path = spill.path
    spill.handed_over()
    del spill
    gc.collect()
    assert os.path.exists(path)  # the reader (rank 0) deletes it
    store = MapStore([path], np.zeros(2), np.array([2, 0]), (4, 5))
    assert not os.path.exists(path)  # unlinked as soon as it is open
    np.testing.assert_array_equal(store[0], np.arange(40, 60).reshape(4, 5))
    np.testing.assert_array_equal(list(store)[1], np.arange(20).reshape(4, 5))
    with pytest.raises(FileNotFoundError, match="maps_dir"):
        MapStore([path], np.zeros(1), np.zeros(1), (4, 5))
    lost = MapSpill(tmp_path, private=False)
    lost_path = lost.path
    del lost  # never handed over: deleted with the spill
    gc.collect()
    assert not os.path.exists(lost_path)


def test_without_maps_the_numbers_stay_and_boxes_are_refused(tmp_path):
    outs = model_outputs(30, seed=6, kind="noise")
    metric = CorLocMetric(classes=CLASSES, keep_maps=False, maps_dir=str(tmp_path))
    metric.process({}, outs)
    values = metric.evaluate(len(outs))
    assert not any(tmp_path.iterdir()) and metric.last_result.localization.maps is None
    assert values == streamed(outs, tmp_path).summary()
    with pytest.raises(ValueError, match="keeps no maps"):
        metric.last_result.localization.at()
