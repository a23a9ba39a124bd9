"""The mmengine CorLoc metric: same numbers as the plain function, CL by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsvol.evaluation import evaluate_localization
from wsvol.evaluation.metrics import CorLocMetric


def frame(i, label, pred, box, size=(160, 120), mask=False):
    rng = np.random.default_rng(i)
    cam = rng.random((24, 24)) * 0.3
    x0, y0, x1, y1 = (int(v * 24 / s) for v, s in zip(box, (*size, *size)))
    cam[y0:y1 + 1, x0:x1 + 1] += 1.0
    out = {"cam": torch.tensor(cam), "gt_boxes": np.array([box], float), "ori_size": size, "gt_label": label,
           "pred_label": pred, "scores": torch.full((3,), 1 / 3), "frame_id": f"f{i}", "video_id": f"v{i % 2}"}
    if mask:
        m = np.zeros(size[::-1], bool)
        m[box[1]:box[3] + 1, box[0]:box[2] + 1] = True
        out["gt_mask"] = m
    return out


def test_metric_matches_function_and_hand_cl():
    frames = [frame(0, 0, 0, (10, 10, 80, 60)), frame(1, 1, 2, (50, 20, 150, 110)),
              frame(2, 2, 2, (0, 0, 40, 40)), frame(3, 1, 1, (30, 30, 120, 100))]
    train_frame = {**frame(4, 0, 0, (0, 0, 1, 1)), "gt_boxes": np.zeros((0, 4))}  # no box: ignored
    metric = CorLocMetric(classes=["a", "b", "c"])
    metric.process({}, frames[:2])
    metric.process({}, [*frames[2:], train_frame])
    out = metric.compute_metrics(metric.results)
    ref = evaluate_localization([f["cam"].numpy() for f in frames], [f["gt_boxes"] for f in frames],
                                [f["ori_size"] for f in frames], [f["gt_label"] for f in frames], num_classes=3)
    assert out["corloc"] == ref.corloc and out["corloc_mean"] == ref.corloc_mean
    assert out["cl"] == 75.0 and out["cl/b"] == 50.0 and out["cl/a"] == 100.0
    assert len(metric.last_result) == 4 and "pxap" not in out


def test_each_frame_says_how_its_map_is_normalized():
    frames = [frame(i, i % 3, i % 3, box) for i, box in enumerate([(10, 10, 80, 60), (50, 20, 150, 110),
                                                                 (0, 0, 40, 40), (30, 30, 120, 100)])]
    for f in frames:  # probability maps with a floor: min-max and "as it is" differ
        f["cam"] = 0.3 + 0.5 * f["cam"] / f["cam"].max()
    args = ([f["cam"].numpy() for f in frames], [f["gt_boxes"] for f in frames], [f["ori_size"] for f in frames],
            [f["gt_label"] for f in frames])
    raw = evaluate_localization(*args, num_classes=3, normalization="none")
    minmax = evaluate_localization(*args, num_classes=3)
    assert not np.array_equal(raw.curve(), minmax.curve())
    for normalization, ref in (("none", raw), ("minmax", minmax), (None, minmax)):  # None: no key
        metric = CorLocMetric(classes=["a", "b", "c"])
        metric.process({}, [f if normalization is None else {**f, "map_normalization": normalization}
                            for f in frames])
        metric.compute_metrics(metric.results)
        np.testing.assert_array_equal(metric.last_result.localization.curve(), ref.curve())
    with pytest.raises(ValueError, match="frame f0: map normalization must be one of minmax, none, got 'max'"):
        CorLocMetric(classes=["a"]).process({}, [{**frames[0], "map_normalization": "max"}])


def test_pxap_appears_with_masks_and_is_perfect_for_a_perfect_map():
    f = frame(0, 0, 0, (40, 30, 119, 89), mask=True)
    cam = np.zeros((120, 160))
    cam[30:90, 40:120] = 1.0
    f["cam"] = torch.tensor(cam)
    metric = CorLocMetric(classes=["a"])
    metric.process({}, [f])
    out = metric.compute_metrics(metric.results)
    assert out["corloc"] == 100.0
    assert abs(out["pxap"] - 100.0) < 1e-6 and abs(out["pxiou"] - 100.0) < 1e-6


def test_a_map_with_nan_or_inf_stops_with_the_frame_named():
    for bad in (np.nan, np.inf):
        f = frame(7, 0, 0, (10, 10, 80, 60))
        f["cam"][3, 4] = bad
        with pytest.raises(ValueError, match=r"frame f7: the localization map \(24x24\) has .* first at \(row, col\) \(3, 4\)"):
            CorLocMetric(classes=["a"]).process({}, [f])
