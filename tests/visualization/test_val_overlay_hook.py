"""The val_overlays hook writes one overlay per frame from the metric's last result."""

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

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
    assert picture is not None and picture.shape[1] == 64  # drawn at the frame's size, not the evaluation's (224)


class RecordingBackend:
    """A visualizer backend that keeps what it is given (stands for TensorBoard, W&B...)."""

    def __init__(self):
        self.images = []

    def add_image(self, name, image, step=0):
        self.images.append((name, image, step))


def _runner_with_backends(tmp_path, backends):
    records = []
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"f{i}.jpg"), np.full((48, 64, 3), 60 * i, np.uint8))
        cam = np.zeros((48, 64))
        cam[10:30, 20:40] = 1.0
        records.append(frame_record({"cam": cam, "gt_boxes": np.array([[20, 10, 39, 29]]), "ori_size": (64, 48),
                                     "gt_label": i, "pred_label": i, "frame_id": f"f{i}.jpg", "video_id": f"v{i}"}))
    return SimpleNamespace(
        val_evaluator=SimpleNamespace(metrics=[SimpleNamespace(last_result=evaluate_records(records, ["a", "b"]))]),
        val_dataloader=SimpleNamespace(dataset=SimpleNamespace(data_root=tmp_path)),
        visualizer=SimpleNamespace(_vis_backends=backends),
        work_dir=str(tmp_path / "work"), epoch=3)


def test_hook_sends_the_overlays_to_image_backends_but_not_the_local_one(tmp_path):
    from mmengine.visualization import LocalVisBackend

    local, recorder = LocalVisBackend(save_dir=str(tmp_path / "vis")), RecordingBackend()
    ValOverlayHook(limit=2).after_val_epoch(_runner_with_backends(tmp_path, {"local": local, "rec": recorder}))
    written = sorted((tmp_path / "work" / "overlays" / "val_epoch_3").glob("*.png"))
    assert [name for name, _, _ in recorder.images] == [f"val_overlays/{p.stem}" for p in written]
    for (_, image, step), path in zip(recorder.images, written):
        assert step == 3
        assert np.array_equal(image, cv2.imread(str(path))[..., ::-1])  # RGB, as mmengine backends take it
    assert not (tmp_path / "vis").exists()  # the local backend would only copy overlays/


def test_hook_writes_tensorboard_images(tmp_path):
    pytest.importorskip("tensorboard")
    from mmengine.visualization import TensorboardVisBackend
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    backend = TensorboardVisBackend(save_dir=str(tmp_path / "tb"))
    ValOverlayHook(limit=2).after_val_epoch(_runner_with_backends(tmp_path, {"tb": backend}))
    backend.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = events.Tags()["images"]
    assert len(tags) == 2 and all(t.startswith("val_overlays/") for t in tags)
    assert events.Images(tags[0])[0].step == 3
