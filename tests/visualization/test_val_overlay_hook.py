"""The val_overlays hook writes one overlay per frame from the metric's last result."""

from types import SimpleNamespace

import cv2
import numpy as np

from wsvol.engine.hooks import ValOverlayHook
from wsvol.evaluation import evaluate_records, frame_record


def test_hook_writes_overlays_of_the_last_validation(tmp_path):
    records = []
    for i in range(3):
        img = np.full((48, 64, 3), 40 * i, np.uint8)
        cv2.imwrite(str(tmp_path / f"f{i}.jpg"), img)
        cam = np.zeros((48, 64))
        cam[10:30, 20:40] = 1.0
        records.append(frame_record({"cam": cam, "gt_boxes": np.array([[20, 10, 39, 29]]), "ori_size": (64, 48),
                                     "gt_label": i % 2, "pred_label": i % 2, "frame_id": f"f{i}.jpg",
                                     "video_id": f"v{i}"}))
    result = evaluate_records(records, ["a", "b"])
    runner = SimpleNamespace(
        val_evaluator=SimpleNamespace(metrics=[SimpleNamespace(last_result=result)]),
        val_dataloader=SimpleNamespace(dataset=SimpleNamespace(data_root=tmp_path)),
        work_dir=str(tmp_path / "work"), epoch=4)
    ValOverlayHook(limit=2).after_val_epoch(runner)
    written = sorted((tmp_path / "work" / "overlays" / "val_epoch_4").glob("*.png"))
    assert len(written) == 2
    picture = cv2.imread(str(written[0]))
    assert picture is not None and picture.shape[1] == 224  # drawn at the evaluation size
