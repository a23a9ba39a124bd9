"""wsvol's own checkpoints hold only what ``torch.load(weights_only=True)`` reads: mmengine's runtime
objects go through ``to_safe`` / ``from_safe`` and come back equal."""

from __future__ import annotations

from collections import Counter, OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.optim.scheduler import MultiStepLR

from wsvol.engine.checkpoint import from_safe, to_safe
from wsvol.weights import load_checkpoint_file


def through_a_file(obj, tmp_path):
    """``obj`` → to_safe → torch.save → load with weights_only=True → from_safe."""
    path = tmp_path / "c.pth"
    torch.save(to_safe(obj), path)
    return from_safe(load_checkpoint_file(path))


def test_runtime_objects_round_trip_through_a_weights_only_file(tmp_path):
    buffer = HistoryBuffer(max_length=5)
    for x, n in ((1.5, 1), (2.0, 3), (0.25, 2)):
        buffer.update(x, n)
    hub = MessageHub("round-trip-hub")
    hub.update_scalar("train/loss", 0.5)
    hub.update_scalar("train/loss", 0.25)
    hub.update_info("best_score", np.float64(0.75))
    hub.update_info("keep_ckpt_ids", [1, 2])
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(3))], lr=0.1, momentum=0.9)
    scheduler = MultiStepLR(optimizer, milestones=[1, 3, 3], gamma=0.5, by_epoch=True)
    optimizer.step()
    scheduler.step()
    obj = {
        "buffer": buffer, "hub": hub.state_dict(), "scheduler": scheduler.state_dict(),
        "array": np.arange(6, dtype=np.int16).reshape(2, 3), "scalar": np.int64(7), "float": np.float32(0.5),
        "counter": Counter({"a": 2, 5: 1}), "set": {3, 1, 2}, "ordered": OrderedDict(b=1, a=2),
        "nested": [(1, "x"), {"t": torch.arange(3)}], "none": None,
    }
    back = through_a_file(obj, tmp_path)

    assert back["buffer"].data[0].tolist() == buffer.data[0].tolist()
    assert back["buffer"].data[1].tolist() == buffer.data[1].tolist()
    assert back["buffer"].max_length == 5 and back["buffer"].mean() == buffer.mean()
    restored = MessageHub("round-trip-hub-2")
    restored.load_state_dict(back["hub"])
    assert restored.get_scalar("train/loss").current() == 0.25 and restored.get_scalar("train/loss").mean() == 0.375
    assert restored.get_info("best_score") == 0.75 and restored.get_info("keep_ckpt_ids") == [1, 2]
    assert back["scheduler"] == scheduler.state_dict()  # milestones: a Counter with a repeated step
    assert isinstance(back["scheduler"]["milestones"], Counter) and back["scheduler"]["milestones"][3] == 2
    other_optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(3))], lr=0.1, momentum=0.9)
    other = MultiStepLR(other_optimizer, milestones=[9])
    other_optimizer.load_state_dict(optimizer.state_dict())  # as the runner restores both
    other.load_state_dict(back["scheduler"])
    for _ in range(3):
        optimizer.step(), other_optimizer.step()
        scheduler.step(), other.step()
        assert other.get_last_value() == scheduler.get_last_value()
    assert back["array"].dtype == np.int16 and np.array_equal(back["array"], obj["array"])
    assert back["scalar"] == 7 and back["float"] == 0.5
    assert back["counter"] == obj["counter"] and isinstance(back["counter"], Counter)
    assert back["set"] == {1, 2, 3} and list(back["ordered"]) == ["b", "a"]
    assert back["nested"][0] == (1, "x") and torch.equal(back["nested"][1]["t"], torch.arange(3))
    assert back["none"] is None


def test_anything_else_is_refused_before_it_is_written_naming_its_key():
    class Custom:
        pass

    with pytest.raises(TypeError, match=r"checkpoint\.meta\.extra\[1\]: a .*Custom cannot be stored"):
        to_safe({"meta": {"extra": [1, Custom()]}})


def test_best_checkpoints_follow_save_best_order(tmp_path):
    from wsvol.engine.checkpoint import best_checkpoints

    for name in ("best_cl_epoch_2.pth", "best_corloc_mean_epoch_3.pth", "best_corloc_epoch_1.pth", "epoch_3.pth"):
        (tmp_path / name).write_bytes(b"")
    cfg = {"default_hooks": {"checkpoint": {"save_best": ["corloc_mean", "cl", "pxap"]}}}
    assert best_checkpoints(tmp_path, cfg) == {"corloc_mean": tmp_path / "best_corloc_mean_epoch_3.pth",
                                               "cl": tmp_path / "best_cl_epoch_2.pth"}
    assert list(best_checkpoints(tmp_path, {"default_hooks": {"checkpoint": {"save_best": "corloc"}}}).values()) \
        == [tmp_path / "best_corloc_epoch_1.pth"]
    auto = best_checkpoints(tmp_path, {"default_hooks": {"checkpoint": {"save_best": "auto"}}})
    assert auto == {"auto": tmp_path / "best_corloc_mean_epoch_3.pth"}  # mmengine names it after a metric
