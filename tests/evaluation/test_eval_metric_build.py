"""The ``corloc`` metric through mmengine: registry, dataset_meta classes, compact results."""

import numpy as np
import pytest
import torch

from wsvol.evaluation.corloc import evaluate_localization
from wsvol.evaluation.maps import thresholds
from wsvol.evaluation.metrics import CorLocMetric, evaluate_records, frame_record
from wsvol.registry import METRICS


def output(i, label, pred, mask=False):
    rng = np.random.default_rng(i)
    cam = torch.tensor(rng.random((32, 32)), dtype=torch.float32)
    box = np.array([[4 + i, 6, 60 + 2 * i, 50]], float)
    out = {
        "cam": cam,
        "gt_boxes": box,
        "ori_size": (96, 64),
        "gt_label": label,
        "pred_label": pred,
        "scores": torch.softmax(torch.tensor(rng.normal(size=3)), 0),
        "frame_id": f"f{i}",
        "video_id": f"v{i // 2}",
    }
    if mask:
        out["gt_mask"] = np.zeros((64, 96), bool)
        out["gt_mask"][6:51, 4 + i : 61 + 2 * i] = True
    return out


def test_registered_uses_dataset_meta_and_keeps_records_compact():
    assert (
        METRICS.module_dict["corloc"] is CorLocMetric
    )  # registered on import (no plugin loading here)
    metric = CorLocMetric(tau_step=0.01)
    metric.dataset_meta = {"classes": ("cat", "dog", "cow")}
    outs = [output(i, i % 3, (i + (i == 4)) % 3) for i in range(6)]
    metric.process({}, outs)
    width = (thresholds(0.01).size + 7) // 8  # one bit per threshold, no map
    assert all("map" not in r and len(r["correct"]) == width and "map_ref" in r for r in metric.results)
    values = metric.evaluate(len(outs))  # mmengine's path: collect, compute, reset
    ref = evaluate_localization(
        [o["cam"].numpy() for o in outs],
        [o["gt_boxes"] for o in outs],
        [o["ori_size"] for o in outs],
        [o["gt_label"] for o in outs],
        num_classes=3,
        tau_step=0.01,
    )
    assert values["corloc"] == ref.corloc and values["best_tau"] == ref.best_tau
    assert (
        values["cl"] == pytest.approx(5 / 6 * 100)
        and values["cl/dog"] == 50.0
        and values["cl/cow"] == 100.0
    )
    assert set(values) >= {"corloc/cat", "corloc/dog", "corloc/cow", "corloc_mean"}
    ev = metric.last_result
    assert ev.classes == ["cat", "dog", "cow"] and len(ev) == 6
    assert ev.localization.video_ids == [o["video_id"] for o in outs]
    assert ev.classification.pred_labels.tolist() == [o["pred_label"] for o in outs]
    expected = [float(o["scores"][o["pred_label"]]) for o in outs]
    np.testing.assert_allclose(ev.scores, expected, rtol=1e-6)
    assert metric.results == []  # reset by evaluate
    at, ref_at = ev.localization.at(), ref.at()  # boxes traced from the maps' file
    np.testing.assert_array_equal(at.boxes, ref_at.boxes)
    np.testing.assert_array_equal(at.ious, ref_at.ious)


def test_records_with_masks_give_pxap():
    outs = [output(i, 0, 0, mask=True) for i in range(3)]
    res = evaluate_records(
        [frame_record(o, 224, thresholds(0.01)) for o in outs], ["a"], tau_step=0.01
    )
    assert res.pixel is not None and 0 <= res.pixel.pxap <= 100 and "pxap" in res.summary()
    with pytest.raises(ValueError, match="bins"):
        evaluate_records([frame_record(o, 224) for o in outs], ["a"], tau_step=0.01)


def test_missing_key_is_named():
    bad = output(0, 0, 0)
    del bad["ori_size"]
    with pytest.raises(KeyError, match="f0.*ori_size"):
        frame_record(bad)
