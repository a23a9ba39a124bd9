"""`wsvol predict` on a user's video: batched, τ and classes from the checkpoint, an mp4 plus the
tables, decoding that stops at --max-frames, and clear errors for what is missing."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import yaml
from tiny_checkpoints import (  # beside this file
    CLASSES,
    decoded_frames,
    save_checkpoint,
    tiny_cfg,
    write_video,
)
from tiny_configs import tiny_config  # beside this file (pytest puts its folder on sys.path)

import wsvol.data.video as video_module
from wsvol.config.loader import dump_yaml
from wsvol.data.synthetic import generate_synthetic
from wsvol.engine.checkpoint import from_safe
from wsvol.engine.predict import DEFAULT_TAU, Trained, load_trained, predict_meta, predict_video


# -- τ, classes and config from the checkpoint ----------------------------------------------------
def test_config_classes_and_tau_come_from_the_checkpoint(tmp_path):
    meta = predict_meta(tiny_cfg(), {"tau": 0.25, "epoch": 3, "iter": 12}, map_normalization="none")
    model = save_checkpoint(tmp_path / "best.pth", meta)
    trained = load_trained(tmp_path / "best.pth")  # no config.yaml beside it
    assert trained.classes == list(CLASSES) and trained.notes == []
    assert trained.tau == 0.25 and "epoch 3" in trained.tau_from
    x = torch.randn(2, 3, 32, 32)
    for a, b in zip(trained.model.localize(x), model.localize(x)):  # the checkpoint's weights
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_checkpoint_saved_before_its_validation_has_no_tau(tmp_path):
    save_checkpoint(tmp_path / "epoch_1.pth", predict_meta(tiny_cfg(), map_normalization="none"))
    trained = load_trained(tmp_path / "epoch_1.pth")
    assert trained.tau is None and "best_*.pth" in trained.tau_from


def test_a_validation_with_corloc_0_at_every_tau_chooses_none(tmp_path):
    """No τ beats another when CorLoc is 0 at all of them: the checkpoint holds none (not the
    sweep's first, 0.0) and predict takes its default, saying why."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub

    from wsvol.engine.hooks import VAL_TAU_INFO, CheckpointMetaHook

    hub = MessageHub.get_instance("test_tau_none")
    runner = SimpleNamespace(message_hub=hub, iter=12, epoch=3)
    CheckpointMetaHook().after_val_epoch(runner, {"corloc": 0.0, "best_tau": 0.0, "cl": 40.0})
    assert hub.get_info(VAL_TAU_INFO) == {"tau": None, "iter": 12, "epoch": 3}
    CheckpointMetaHook().after_val_epoch(runner, {"corloc": 12.5, "best_tau": 0.0, "cl": 40.0})
    assert hub.get_info(VAL_TAU_INFO)["tau"] == 0.0  # a real τ of 0.0 stays
    save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), {"tau": None, "epoch": 3, "iter": 12},
                                                        map_normalization="none"))
    trained = load_trained(tmp_path / "best.pth")
    assert trained.tau is None and "found CorLoc 0 at every τ" in trained.tau_from
    write_video(tmp_path / "v.mp4", 2)
    run = predict_video(trained, tmp_path / "v.mp4", tmp_path / "out", video=False, progress=False)
    assert run.tau == DEFAULT_TAU and "found CorLoc 0 at every τ" in run.tau_from


def test_older_checkpoints_fall_back_with_a_note_and_never_guess_classes(tmp_path):
    save_checkpoint(tmp_path / "old.pth", meta=None, classes=None)
    with pytest.raises(FileNotFoundError, match="holds no config.*no config.yaml beside it"):
        load_trained(tmp_path / "old.pth")
    cfg = tiny_cfg()
    cfg.test_dataloader.dataset.folds_root = str(tmp_path / "folds")
    (tmp_path / "config.yaml").write_text(dump_yaml(cfg))
    with pytest.raises(FileNotFoundError, match=r"no class names.*class_id.yaml, is missing.*not guess"):
        load_trained(tmp_path / "old.pth")
    (tmp_path / "folds").mkdir()
    (tmp_path / "folds" / "class_id.yaml").write_text(yaml.safe_dump({"cat": 2, "ant": 0, "bee": 1}))
    trained = load_trained(tmp_path / "old.pth")
    assert trained.classes == ["ant", "bee", "cat"] and trained.tau is None
    assert any("config.yaml" in n for n in trained.notes) and any("class_id.yaml" in n for n in trained.notes)


class Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickled_payload_never_runs_even_in_a_wsvol_work_dir(tmp_path):
    from wsvol.weights import WeightsError

    marker = tmp_path / "pwned"
    save_checkpoint(tmp_path / "epoch_1.pth", predict_meta(tiny_cfg(), map_normalization="none"))
    ckpt = torch.load(tmp_path / "epoch_1.pth", weights_only=True)
    ckpt["meta"]["extra"] = Payload(marker)
    torch.save(ckpt, tmp_path / "epoch_1.pth")
    (tmp_path / "config.yaml").write_text(dump_yaml(tiny_cfg()))  # what made older wsvol trust the folder
    (tmp_path / "wsvol-run.json").write_text("{}")
    with pytest.raises(WeightsError, match="weights_only=True"):
        load_trained(tmp_path / "epoch_1.pth")
    assert not marker.exists()


def test_class_names_must_fit_the_model(tmp_path):
    save_checkpoint(tmp_path / "c.pth", predict_meta(tiny_cfg(), map_normalization="none"), classes=("ant", "bee"))
    with pytest.raises(ValueError, match="model has 3 classes but 2 class names"):
        load_trained(tmp_path / "c.pth")


def test_a_checkpoints_stored_config_cannot_name_code_to_run(tmp_path):
    """A weights_only checkpoint holds only strings and tensors, but a dotted ``type`` in its stored
    config would be imported and called by mmengine's fallback: it is refused as unknown."""
    cfg = tiny_cfg()
    meta = predict_meta(cfg, map_normalization="none")
    for key, payload in (("model", {"type": "subprocess.Popen", "args": ["touch", str(tmp_path / "ran")]}),
                         ("test_dataloader", {"dataset": {"pipeline": [{"type": "os.system",
                                                                         "command": f"touch {tmp_path / 'ran'}"}]}})):
        evil = yaml.safe_load(meta["config"])
        evil[key] = payload
        save_checkpoint(tmp_path / "evil.pth", {**meta, "config": yaml.safe_dump(evil)})
        with pytest.raises(KeyError, match="unknown (model|transform) type '(subprocess.Popen|os.system)'"):
            trained = load_trained(tmp_path / "evil.pth")
            trained.pipeline()
    assert not (tmp_path / "ran").exists()


def test_the_frames_are_prepared_by_predict_pipeline_else_test_else_val(tmp_path):
    from mmengine.config import Config

    steps = {name: [{"type": "resize", "size": [size, size]}, {"type": "normalize"}, {"type": "pack_inputs"}]
             for name, size in (("predict", 24), ("test", 32), ("val", 40))}
    loader = {name: {"dataset": {"pipeline": steps[name]}} for name in ("test", "val")}

    def pipeline(**cfg) -> list[dict]:
        return Trained(NestedSquares(), Config(cfg), list(CLASSES), None, "", tmp_path / "c.pth").pipeline_cfg()

    assert pipeline(predict={"pipeline": steps["predict"]}, test_dataloader=loader["test"]) == steps["predict"]
    assert pipeline(test_dataloader=loader["test"], val_dataloader=loader["val"]) == steps["test"]
    assert pipeline(test_dataloader=None, val_dataloader=loader["val"]) == steps["val"]
    with pytest.raises(ValueError, match="c.pth: its config has no predict.pipeline, test_dataloader"):
        pipeline(test_dataloader=None, val_dataloader=None)


TAU_META = {"tau": 0.3, "epoch": 1, "iter": 1}


# -- predict_video --------------------------------------------------------------------------------
class NestedSquares(torch.nn.Module):
    """A stub localizer whose map is known: 1.0 on [10, 20]², 0.4 on the ring [4, 27]² around it,
    ``floor`` elsewhere."""

    num_classes = 3

    def __init__(self, floor: float = 0.0) -> None:
        super().__init__()
        self.floor = floor

    def localize(self, x):
        cam = torch.full((len(x), 32, 32), self.floor)
        cam[:, 4:28, 4:28] = 0.4
        cam[:, 10:21, 10:21] = 1.0
        scores = torch.tensor([0.1, 0.7, 0.2]).repeat(len(x), 1)
        return scores, cam


def stub(tau: float | None) -> Trained:
    return Trained(NestedSquares(), tiny_cfg(), list(CLASSES), tau, "chosen on validation after epoch 1",
                   Path("stub.pth"))


@pytest.mark.parametrize("stored, override, box", [
    (0.25, None, [4, 4, 28, 28]),  # τ from the checkpoint: int(0.25·255) = 63 < 102, the ring counts
    (0.25, 0.5, [10, 10, 21, 21]),  # --tau: 127 > 102, only the core (x1 = last pixel + 1, wsolevaluation's)
    (None, None, [10, 10, 21, 21]),  # no τ stored: 0.5
])  # fmt: skip
def test_the_box_is_cut_at_the_stored_tau_unless_overridden(tmp_path, stored, override, box):
    write_video(tmp_path / "v.mp4", 3, size=(32, 32))  # frame size = map size: no resizing to reason about
    run = predict_video(stub(stored), tmp_path / "v.mp4", tmp_path / "out", tau=override, progress=False)
    out = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert [[r[k] for k in ("x0", "y0", "x1", "y1")] for r in out["frames"]] == [box] * 3
    assert {r["class"] for r in out["frames"]} == {"bee"} and out["classes"] == list(CLASSES)
    assert out["tau"] == run.tau == (override or stored or DEFAULT_TAU)
    assert ("default" in out["tau_from"]) == (stored is None and override is None)


@pytest.mark.parametrize("normalization, box", [
    ("none", [0, 0, 31, 31]),  # as it is: the floor int(0.3·255) = 76 > int(0.25·255) = 63, the whole frame
    ("minmax", [10, 10, 21, 21]),  # the floor → 0, the ring → int(255·0.1/0.7) = 36 < 63: only the core
])  # fmt: skip
def test_tau_cuts_the_map_normalized_as_on_validation(tmp_path, normalization, box):
    write_video(tmp_path / "v.mp4", 2, size=(32, 32))
    trained = Trained(NestedSquares(floor=0.3), tiny_cfg(), list(CLASSES), 0.25, "validation", Path("stub.pth"),
                      map_normalization=normalization)
    predict_video(trained, tmp_path / "v.mp4", tmp_path / "out", video=False, progress=False)
    rows = json.loads((tmp_path / "out" / "predictions.json").read_text())["frames"]
    assert [[r[k] for k in ("x0", "y0", "x1", "y1")] for r in rows] == [box] * 2


def test_the_checkpoint_says_how_its_maps_are_normalized(tmp_path):
    save_checkpoint(tmp_path / "new.pth", predict_meta(tiny_cfg(), TAU_META, map_normalization="none"))
    assert load_trained(tmp_path / "new.pth").map_normalization == "none"
    older = predict_meta(tiny_cfg(), TAU_META, map_normalization="none")
    del older["map_normalization"]  # wsvol before it: τ was chosen on min-max normalized maps
    save_checkpoint(tmp_path / "old.pth", older)
    trained = load_trained(tmp_path / "old.pth")
    assert trained.map_normalization == "minmax" and "min-max" in trained.notes[0]
    del older["tau"]  # no τ to keep consistent with: the model's own (TrCAM-V: a probability map)
    save_checkpoint(tmp_path / "epoch.pth", older)
    assert load_trained(tmp_path / "epoch.pth").map_normalization == "none"
    save_checkpoint(tmp_path / "bad.pth", {**older, "map_normalization": "max"})
    with pytest.raises(ValueError, match="bad.pth: meta.wsvol.map_normalization must be one of minmax, none"):
        load_trained(tmp_path / "bad.pth")


def test_batched_predictions_an_mp4_and_no_pngs_by_default(tmp_path):
    save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), TAU_META, map_normalization="none"))
    write_video(tmp_path / "v.mp4", 30, rate=10)
    trained = load_trained(tmp_path / "best.pth")
    run = predict_video(trained, tmp_path / "v.mp4", tmp_path / "b3", stride=2, max_frames=7, batch_size=3,
                        progress=False)
    one = predict_video(trained, tmp_path / "v.mp4", tmp_path / "b1", stride=2, max_frames=7, batch_size=1,
                        video=False, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "b3" / "predictions.csv")))
    assert [int(r["frame"]) for r in rows] == [0, 2, 4, 6, 8, 10, 12] and run.frames == one.frames == 7
    assert rows == list(csv.DictReader(open(tmp_path / "b1" / "predictions.csv")))  # batches change nothing
    for r in rows:
        assert r["class"] in CLASSES and 0.0 <= float(r["score"]) <= 1.0
        x0, y0, x1, y1 = (int(r[k]) for k in ("x0", "y0", "x1", "y1"))
        assert 0 <= x0 <= x1 <= 79 and 0 <= y0 <= y1 <= 59  # boxes in frame pixels
    frames = decoded_frames(tmp_path / "b3" / "predictions.mp4")
    assert len(frames) == 7 and frames[0].shape == (60 + 18, 80, 3)  # the overlay and its caption band
    with av.open(str(tmp_path / "b3" / "predictions.mp4")) as container:
        assert float(container.streams.video[0].average_rate) == pytest.approx(5.0)  # 10 fps ÷ stride 2
    assert not (tmp_path / "b3" / "frames").exists() and not (tmp_path / "b1" / "predictions.mp4").exists()
    predict_video(trained, tmp_path / "v.mp4", tmp_path / "png", max_frames=2, png=True, video=False, progress=False)
    assert sorted(p.name for p in (tmp_path / "png" / "frames").iterdir()) == ["frame_000000.png", "frame_000001.png"]


def test_max_frames_stops_decoding(tmp_path, monkeypatch):
    write_video(tmp_path / "v.mp4", 60)
    pulled = []
    decoded = video_module._decoded

    def spy(path, report=None):
        for frame in decoded(path, report):
            pulled.append(frame)
            yield frame

    monkeypatch.setattr(video_module, "_decoded", spy)
    run = predict_video(stub(0.5), tmp_path / "v.mp4", tmp_path / "out", stride=3, max_frames=4, batch_size=3,
                        progress=False)
    assert run.frames == 4 and len(pulled) == 10  # frames 0, 3, 6, 9: nothing decoded after the 4th
    pulled.clear()
    assert [i for i, _ in video_module.read_frames(tmp_path / "v.mp4", stride=7)] == list(range(0, 60, 7))
    assert len(pulled) == 60


def test_max_frames_reads_no_more_images_of_a_folder(tmp_path, monkeypatch):
    import cv2

    (tmp_path / "frames").mkdir()
    for i in range(12):
        cv2.imwrite(str(tmp_path / "frames" / f"f{i}.png"), np.full((32, 32, 3), 10 * i, np.uint8))
    read = []
    original = video_module._read_image
    monkeypatch.setattr(video_module, "_read_image", lambda p: read.append(p.name) or original(p))
    run = predict_video(stub(0.5), tmp_path / "frames", tmp_path / "out", stride=2, max_frames=3, progress=False)
    assert run.frames == 3 and read == ["f0.png", "f2.png", "f4.png"]  # natural order, stride, then stop
    assert len(decoded_frames(tmp_path / "out" / "predictions.mp4")) == 3


def test_a_folder_of_frames_of_several_sizes_gives_one_video(tmp_path):
    import cv2

    (tmp_path / "frames").mkdir()
    for i, (w, h) in enumerate([(40, 30), (64, 48), (40, 30)]):
        cv2.imwrite(str(tmp_path / "frames" / f"f{i}.png"), np.full((h, w, 3), 50 * i, np.uint8))
    predict_video(stub(0.5), tmp_path / "frames", tmp_path / "out", progress=False)
    rows = json.loads((tmp_path / "out" / "predictions.json").read_text())["frames"]
    assert rows[1]["x1"] <= 63 and rows[1]["y1"] <= 47 and rows[1]["x1"] > 39  # boxes in each frame's own pixels
    assert [f.shape for f in decoded_frames(tmp_path / "out" / "predictions.mp4")] == [(30 + 18, 40, 3)] * 3


@pytest.mark.parametrize("kwargs, message", [
    ({"stride": 0}, "stride must be an integer >= 1, got 0"),
    ({"max_frames": 0}, "max_frames must be an integer >= 1, got 0"),
    ({"batch_size": -2}, "batch_size must be an integer >= 1, got -2"),
    ({"tau": 1.5}, r"tau must be in \[0, 1\)"),
])  # fmt: skip
def test_bad_options_are_named_before_any_work(tmp_path, kwargs, message):
    write_video(tmp_path / "v.mp4", 2)
    with pytest.raises(ValueError, match=message):
        predict_video(stub(0.5), tmp_path / "v.mp4", tmp_path / "out", progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_cli_refuses_stride_zero_with_an_argument_error(tmp_path, capsys):
    from wsvol.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["predict", "ckpt.pth", "v.mp4", "--out", str(tmp_path), "--stride", "0"])
    assert exit_.value.code == 2 and "--stride: must be >= 1, got 0" in capsys.readouterr().err


# -- end to end: train, predict from the best checkpoint alone --------------------------------------
TINY = """\
default_hooks: {checkpoint: {save_best: corloc, rule: greater}}
train_cfg: {max_epochs: 2, val_interval: 1}
optim_wrapper: {optimizer: {type: SGD, lr: 0.01, momentum: 0.0}}
"""


@pytest.mark.slow
def test_train_stores_the_validation_tau_and_predict_uses_it(tmp_path):
    data = tmp_path / "data"
    generate_synthetic(data, size="tiny", progress=False)
    tiny_config(tmp_path, data, TINY, name="cfg.yaml", validate=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "-m", "wsvol", "train", "cfg.yaml", "--work-dir", "run"], cwd=tmp_path,
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    (best,) = (tmp_path / "run").glob("best_*.pth")
    ckpt = from_safe(torch.load(best, weights_only=True))
    # mmengine's own record of the validation that chose this checkpoint (RuntimeInfoHook)
    assert ckpt["meta"]["wsvol"]["tau"] == pytest.approx(ckpt["message_hub"]["log_scalars"]["val/best_tau"].current())
    assert ckpt["meta"]["wsvol"]["map_normalization"] == "minmax"  # a classifier's CAM, as validated
    # wsvol writes epoch_N.pth after that epoch's validation: each holds the τ of its own weights
    for epoch in (1, 2):
        saved = from_safe(torch.load(tmp_path / "run" / f"epoch_{epoch}.pth", weights_only=True))
        val_tau = saved["message_hub"]["log_scalars"]["val/best_tau"].current()
        assert saved["meta"]["wsvol"]["tau"] == pytest.approx(val_tau)
        assert f"after epoch {epoch}" in saved["meta"]["wsvol"]["tau_from"]
    (tmp_path / "run" / "config.yaml").unlink()  # everything comes from the checkpoint

    write_video(tmp_path / "clip.mp4", 9)
    out = subprocess.run([sys.executable, "-m", "wsvol", "predict", str(best), "clip.mp4", "--out", "pred",
                          "--stride", "2", "--batch-size", "2"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert result["tau"] == ckpt["meta"]["wsvol"]["tau"] and "validation" in result["tau_from"]
    synthetic = yaml.safe_load((data / "folds" / "class_id.yaml").read_text())
    assert result["classes"] == sorted(synthetic, key=synthetic.get)
    assert [r["frame"] for r in result["frames"]] == [0, 2, 4, 6, 8]
    assert len(decoded_frames(tmp_path / "pred" / "predictions.mp4")) == 5


def test_predictions_mp4_gets_the_mode_of_the_tables(tmp_path):
    import stat

    write_video(tmp_path / "v.mp4", 2)
    old = os.umask(0o022)
    try:
        predict_video(stub(0.5), tmp_path / "v.mp4", tmp_path / "out", progress=False)
    finally:
        os.umask(old)
    modes = {name: stat.S_IMODE((tmp_path / "out" / name).stat().st_mode)
             for name in ("predictions.mp4", "predictions.csv")}  # the CSV: written with atomic_write_text
    assert modes["predictions.mp4"] == modes["predictions.csv"], modes


def test_predict_clears_what_a_killed_predict_left_in_its_folder(tmp_path):
    from wsvol.utils.files import temp_path, writer_tag

    write_video(tmp_path / "v.mp4", 2)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = writer_tag().split("-")[0]
    (tmp_path / "out" / "frames").mkdir(parents=True)
    left = [tmp_path / "out" / f".predictions.mp4.{host}-{dead.pid}.0a1b2c3d.tmp",
            tmp_path / "out" / "frames" / f".frame_000007.png.{host}-{dead.pid}.0a1b2c3d.tmp"]
    for path in left:
        path.write_bytes(b"half")
    alive = temp_path(tmp_path / "out" / "mine.csv")  # a live writer's (this process)
    alive.write_bytes(b"being written")
    predict_video(stub(0.5), tmp_path / "v.mp4", tmp_path / "out", progress=False)
    assert not any(path.exists() for path in left) and alive.exists()
    assert {"predictions.mp4", "predictions.csv", "predictions.json"} <= {p.name for p in (tmp_path / "out").iterdir()}


def test_a_failed_predict_leaves_no_output_folder_and_keeps_an_existing_one(tmp_path):
    from wsvol.data.fold_files import DataError

    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "p2", tmp_path / "a" / "b" / "p3"):
        with pytest.raises(DataError, match="folder has no frames"):
            predict_video(stub(0.5), tmp_path / "empty", out, png=True, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    (tmp_path / "bare").mkdir()
    for out in (tmp_path / "mine", tmp_path / "bare"):
        with pytest.raises(DataError, match="folder has no frames"):
            predict_video(stub(0.5), tmp_path / "empty", out, progress=False)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep" and (tmp_path / "bare").is_dir()


def test_outside_a_terminal_the_progress_ends_with_the_frames_read(tmp_path, capsys):
    write_video(tmp_path / "v.mp4", 9)
    predict_video(stub(0.5), tmp_path / "v.mp4", tmp_path / "out", stride=2, video=False, progress=True)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("predict v.mp4")]
    assert lines[0].startswith("predict v.mp4: 0") and lines[-1].startswith("predict v.mp4: 5/5 (100 %)"), lines
