"""`wsvol export`: ONNX and TorchScript files that map frames to class scores and maps as torch
does, carry classes and τ, and refuse what a forward graph cannot hold (gradient CAMs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from tiny_checkpoints import PIPELINE, save_checkpoint, tiny_cfg, write_video  # beside this file

from wsvol.data.video import read_frames
from wsvol.engine.export import TOLERANCE, export_model, read_metadata
from wsvol.engine.predict import load_trained, predict_meta, prepare_frame
from wsvol.models.classifiers import ResNetCAM

TAU = {"tau": 0.3, "epoch": 2, "iter": 8}


def frames_of(video: Path, n: int, skip: int = 0) -> torch.Tensor:
    """``n`` frames of ``video`` after the first ``skip``, through the test pipeline."""
    from wsvol.data.dataset import build_pipeline

    pipeline = build_pipeline(PIPELINE)
    rgbs = [rgb for _, rgb in read_frames(video, max_frames=n + skip)][skip:]
    return torch.stack([prepare_frame(pipeline, rgb, "f")["inputs"] for rgb in rgbs]).float()


def run_exported(path: Path, x: torch.Tensor) -> list[np.ndarray]:
    if path.suffix == ".onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(["scores", "maps"], {"frames": x.numpy()})
    module = torch.jit.load(str(path))
    return [t.numpy() for t in module(x)]


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exported_trcamv_gives_torchs_scores_and_maps(tmp_path, fmt):
    if fmt == "onnx":
        for name in ("onnx", "onnxscript", "onnxruntime"):
            pytest.importorskip(name)
    model = save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), TAU, map_normalization="none"))
    write_video(tmp_path / "v.mp4", 12)
    result = export_model(tmp_path / "best.pth", fmt, check_frames=3, video=tmp_path / "v.mp4")
    assert result.path == tmp_path / ("best.onnx" if fmt == "onnx" else "best.torchscript.pt")
    assert max(result.max_diff.values()) <= TOLERANCE
    # frames the export never saw, in a batch of another size
    x = frames_of(tmp_path / "v.mp4", 5, skip=6)
    scores, maps = run_exported(result.path, x)
    with torch.no_grad():
        ref_scores, ref_maps = model.localize(x)
    assert scores.shape == (5, 3) and maps.shape == (5, 32, 32)
    np.testing.assert_allclose(scores, ref_scores.numpy(), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(maps, ref_maps.numpy(), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(scores.sum(1), 1.0, atol=1e-5)  # probabilities
    meta = read_metadata(result.path)
    assert meta["classes"] == ["ant", "bee", "cat"] and meta["tau"] == 0.3
    assert meta["input"]["shape"] == ["batch", 3, 32, 32] and meta["pipeline"] == PIPELINE
    if fmt == "torchscript":  # a program: never loaded as a checkpoint, and said so
        from wsvol.weights import WeightsError

        with pytest.raises(WeightsError, match=r"best.torchscript.pt: a TorchScript archive .*not a checkpoint"):
            load_trained(result.path)


def test_metadata_is_read_as_data_never_by_running_the_archive(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), TAU, map_normalization="none"))
    result = export_model(tmp_path / "best.pth", "torchscript", check_frames=1)

    def refuse(*args, **kwargs):
        raise AssertionError("torch.jit.load compiles and runs the archive's code")

    monkeypatch.setattr(torch.jit, "load", refuse)
    assert read_metadata(result.path)["classes"] == ["ant", "bee", "cat"]
    (tmp_path / "x.pt").write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="x.pt: not an ONNX file or a TorchScript archive"):
        read_metadata(tmp_path / "x.pt")


def test_a_model_that_fails_the_check_is_not_written(tmp_path):
    save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), TAU, map_normalization="none"))
    with pytest.raises(ValueError, match="does not match torch.*not written"):
        export_model(tmp_path / "best.pth", "torchscript", tmp_path / "m.pt", tolerance=-1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pth"]  # no file, no temporary


def classifier_checkpoint(path: Path, cam: str) -> ResNetCAM:
    torch.manual_seed(0)
    model_cfg = {"type": "resnet50_cam", "backbone": "resnet10t", "num_classes": 3, "cam": {"type": cam}}
    cfg = Config({"model": model_cfg, "test_dataloader": {"dataset": {"pipeline": PIPELINE}}})
    model = ResNetCAM(backbone="resnet10t", num_classes=3, cam={"type": cam}).eval()
    torch.save({"state_dict": model.state_dict(),
                "meta": {"wsvol": predict_meta(cfg, map_normalization="minmax"),
                         "dataset_meta": {"classes": ("a", "b", "c")}}}, path)
    return model


def test_gradient_cams_are_refused_and_cam_exports(tmp_path):
    classifier_checkpoint(tmp_path / "cls.pth", "gradcam")
    with pytest.raises(ValueError, match=r"GradCAM needs a backward pass.*--cam cam"):
        export_model(tmp_path / "cls.pth", "torchscript")
    result = export_model(tmp_path / "cls.pth", "torchscript", cam="cam", check_frames=2)
    x = torch.randn(3, 3, 32, 32)
    trained = load_trained(tmp_path / "cls.pth")
    trained.model.set_cam("cam")
    with torch.no_grad():
        ref = trained.model.localize(x)
    for got, want in zip(run_exported(result.path, x), ref):
        np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=TOLERANCE)
    assert read_metadata(result.path)["cam"] == "CAM" and read_metadata(result.path)["tau"] is None


def test_cam_option_on_a_trcamv_is_an_error(tmp_path):
    save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), TAU, map_normalization="none"))
    with pytest.raises(ValueError, match="--cam cam: TrCAMV .* is not a CAM classifier"):
        export_model(tmp_path / "best.pth", "torchscript", cam="cam")


def test_predict_runs_the_onnx_export_as_it_runs_the_checkpoint(tmp_path):
    """`wsvol predict best.onnx`: onnxruntime, with classes, τ and pipeline from the metadata, gives
    the checkpoint's table (scores within the export's tolerance); a file that is not a wsvol
    export, and a GPU, are refused by name."""
    import json

    import onnx

    from wsvol.cli.main import main
    from wsvol.engine.predict import predict_video

    for name in ("onnxscript", "onnxruntime"):
        pytest.importorskip(name)
    save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), TAU, map_normalization="none"))
    write_video(tmp_path / "v.mp4", 12)
    exported = export_model(tmp_path / "best.pth", "onnx", check_frames=2).path
    predict_video(tmp_path / "best.pth", tmp_path / "v.mp4", tmp_path / "pth", batch_size=5, video=False,
                  progress=False)
    assert main(["predict", str(exported), str(tmp_path / "v.mp4"), "--out", str(tmp_path / "onnx"),
                 "--batch-size", "5", "--no-video"]) == 0
    want, got = (json.loads((tmp_path / d / "predictions.json").read_text()) for d in ("pth", "onnx"))
    assert got["tau"] == want["tau"] == TAU["tau"] and got["classes"] == want["classes"] == ["ant", "bee", "cat"]
    assert got["checkpoint"] == str(exported) and len(got["frames"]) == len(want["frames"]) == 12
    for a, b in zip(want["frames"], got["frames"]):
        assert abs(a.pop("score") - b.pop("score")) <= TOLERANCE + 1e-4  # + the table's rounding to 4 places
        assert a == b  # frame, class and box

    with pytest.raises(ValueError, match="already an export; export the checkpoint"):
        export_model(exported, "onnx")
    with pytest.raises(ValueError, match="--device cuda: an ONNX file runs in onnxruntime on the CPU"):
        load_trained(exported, "cuda")
    bare = onnx.load(str(exported))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(ValueError, match=r"bare.onnx: no wsvol metadata .*not written by wsvol export"):
        load_trained(tmp_path / "bare.onnx")
    meta = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    bare.metadata_props.add(key="wsvol", value=json.dumps({**json.loads(meta["wsvol"]), "tau": 1.5}))
    onnx.save(bare, str(tmp_path / "bad.onnx"))
    with pytest.raises(ValueError, match=r"bad.onnx: metadata 'tau' must be null or a number in \[0, 1\), got 1.5"):
        load_trained(tmp_path / "bad.onnx")
    assert json.loads(meta["wsvol"])["map_normalization"] == "none" == load_trained(exported).map_normalization
    del bare.metadata_props[:]
    bare.metadata_props.add(key="wsvol", value=json.dumps({**json.loads(meta["wsvol"]), "map_normalization": "max"}))
    onnx.save(bare, str(tmp_path / "bad.onnx"))
    with pytest.raises(ValueError, match=r"bad.onnx: metadata 'map_normalization' must be one of minmax, none"):
        load_trained(tmp_path / "bad.onnx")
    (tmp_path / "fake.onnx").write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="fake.onnx: onnxruntime cannot load it"):
        load_trained(tmp_path / "fake.onnx")


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_the_export_gets_the_mode_of_every_other_output(tmp_path, fmt):
    import os
    import stat

    from wsvol.utils.files import atomic_write_text

    if fmt == "onnx":
        for name in ("onnx", "onnxscript", "onnxruntime"):
            pytest.importorskip(name)
    save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), TAU, map_normalization="none"))
    old = os.umask(0o022)
    try:
        result = export_model(tmp_path / "best.pth", fmt, tmp_path / "out" / f"good.{fmt}", check_frames=1)
        atomic_write_text(tmp_path / "out" / "table.csv", "a,b\n")  # how the CSV and JSON outputs are written
    finally:
        os.umask(old)
    mode = stat.S_IMODE(result.path.stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "out" / "table.csv").stat().st_mode), oct(mode)


def test_a_killed_exports_temporary_file_is_cleared_as_a_dead_writers(tmp_path):
    import os
    import subprocess
    import sys

    from wsvol.utils.files import remove_stale_partials

    save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), TAU, map_normalization="none"))
    killed = ("import os, sys\nimport wsvol.engine.export as e\n"
              "e._run_torchscript = lambda *a: os._exit(3)  # dies once the file is written, before the rename\n"
              "e.export_model(sys.argv[1], 'torchscript', sys.argv[2], check_frames=1)\n")
    run = subprocess.run([sys.executable, "-c", killed, str(tmp_path / "best.pth"), str(tmp_path / "x" / "m.pt")],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 3, run.stderr[-2000:]
    (left,) = (tmp_path / "x").iterdir()
    assert left.name.startswith(".m.pt.") and left.stat().st_size > 0
    assert remove_stale_partials(tmp_path) == [left]
    assert list((tmp_path / "x").iterdir()) == []


def test_an_export_clears_what_a_killed_export_left_and_a_failed_one_leaves_no_folder(tmp_path):
    import subprocess
    import sys

    from wsvol.utils.files import temp_path, writer_tag

    save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), TAU, map_normalization="none"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "x").mkdir()
    left = tmp_path / "x" / f".m.pt.{writer_tag().split('-')[0]}-{dead.pid}.0a1b2c3d.tmp"
    left.write_bytes(b"half a model")
    alive = temp_path(tmp_path / "x" / "other.pt")  # this process's: a live writer's
    alive.write_bytes(b"being written")
    export_model(tmp_path / "best.pth", "torchscript", tmp_path / "x" / "m.pt", check_frames=1)
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == sorted([alive.name, "m.pt"])
    with pytest.raises(ValueError, match="does not match torch.*not written"):
        export_model(tmp_path / "best.pth", "torchscript", tmp_path / "new" / "deeper" / "m.pt", tolerance=-1.0)
    assert not (tmp_path / "new").exists()
