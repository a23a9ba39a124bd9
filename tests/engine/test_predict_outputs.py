"""What `wsvol predict` writes for awkward sources and folders: a rotated video in displayed
coordinates, damaged videos reported, a failed run that leaves none of its PNGs, a second run that
clears the first one's outputs, and frame rates an mp4 can hold."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from tiny_checkpoints import (  # beside this file
    CLASSES,
    decoded_frames,
    save_checkpoint,
    tiny_cfg,
    write_video,
)

from wsvol.data.fold_files import DataError
from wsvol.engine.predict import Trained, predict_meta, predict_video


class Core(torch.nn.Module):
    """A stub localizer: 1.0 on [10, 20]² of a 32² map, 0 elsewhere; class 'bee'."""

    num_classes = 3

    def localize(self, x):
        cam = torch.zeros((len(x), 32, 32))
        cam[:, 10:21, 10:21] = 1.0
        return torch.tensor([0.1, 0.7, 0.2]).repeat(len(x), 1), cam


def stub() -> Trained:
    return Trained(Core(), tiny_cfg(), list(CLASSES), 0.5, "validation", Path("stub.pth"))


def rows(out: Path) -> list[dict]:
    return json.loads((out / "predictions.json").read_text())["frames"]


def boxes(out: Path) -> list[list[int]]:
    return [[r[k] for k in ("x0", "y0", "x1", "y1")] for r in rows(out)]


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def square_video(path: Path, n: int = 30, codec: str = "mpeg4", rotation: int = 0, size=(64, 48),
                 options: dict | None = None) -> None:
    """``n`` frames at 10 fps of a square moving on a dark ground."""
    w, h = size
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(n):
            img = np.full((h, w, 3), 30, np.uint8)
            img[10:30, i : i + 20] = 200
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())


def damage(path: Path, packet: int, data: bytes) -> None:
    """Overwrite bytes from the middle of the ``packet``-th video packet on with ``data``."""
    with av.open(str(path)) as container:
        pos, size = [(p.pos, p.size) for p in container.demux(video=0) if p.size][packet]
    content = bytearray(path.read_bytes())
    content[pos + size // 2 : pos + size // 2 + len(data)] = data
    path.write_bytes(bytes(content))


# -- display rotation ------------------------------------------------------------------------------
def test_a_rotated_video_is_predicted_and_drawn_as_displayed(tmp_path):
    square_video(tmp_path / "v.mp4", n=3, rotation=90, size=(64, 32))  # stored 64×32, shown 32×64
    predict_video(stub(), tmp_path / "v.mp4", tmp_path / "out", progress=False)
    # the map's core [10, 21) of 32, resized to the displayed 32 wide × 64 high
    assert boxes(tmp_path / "out") == [[10, 20, 21, 42]] * 3
    (first, *_) = decoded_frames(tmp_path / "out" / "predictions.mp4")
    assert first.shape[1] == 32 and first.shape[0] > 64  # upright, the caption band below
    with av.open(str(tmp_path / "out" / "predictions.mp4")) as container:
        assert next(container.decode(video=0)).rotation == 0  # shown as stored: upright


# -- damaged videos --------------------------------------------------------------------------------
def test_corrupt_frames_are_warned_about_and_recorded(tmp_path, capsys):
    from wsvol.cli.main import main

    square_video(tmp_path / "v.mp4")
    damage(tmp_path / "v.mp4", 12, b"\xff" * 8)
    with av.open(str(tmp_path / "v.mp4")) as container:
        expected = [i for i, f in enumerate(container.decode(video=0)) if f.is_corrupt]
    assert expected
    run = predict_video(stub(), tmp_path / "v.mp4", tmp_path / "out", video=False, progress=False)
    result = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert result["corrupt_frames"] == expected and (result["declared_frames"], result["decoded_frames"]) == (30, 30)
    assert len(result["frames"]) == 30  # the rows are kept: `frame` is the index in decode order
    (warning,) = run.warnings
    assert warning == result["warnings"][0] and str(tmp_path / "v.mp4") in warning
    assert f"index: {', '.join(map(str, expected))})" in warning

    save_checkpoint(tmp_path / "best.pth", predict_meta(tiny_cfg(), map_normalization="none"))
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "best.pth"), str(tmp_path / "v.mp4"), "--out", str(tmp_path / "cli"),
                 "--no-video", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert f"warning: {tmp_path / 'v.mp4'}: the decoder marks {len(expected)} frame(s) corrupt" in err


def test_a_truncated_video_is_warned_about(tmp_path):
    square_video(tmp_path / "v.mp4", options={"movflags": "faststart"})  # the index before the frames
    with av.open(str(tmp_path / "v.mp4")) as container:
        cut = [p.pos for p in container.demux(video=0) if p.size][20]
    (tmp_path / "v.mp4").write_bytes((tmp_path / "v.mp4").read_bytes()[:cut])
    run = predict_video(stub(), tmp_path / "v.mp4", tmp_path / "out", video=False, progress=False)
    result = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert run.frames == 20 and (result["declared_frames"], result["decoded_frames"]) == (30, 20)
    assert run.warnings == [f"{tmp_path / 'v.mp4'}: 20 frames decoded but the video declares 30 (its frame "
                            "count): it may be truncated or damaged"]
    assert result["corrupt_frames"] == [] and result["warnings"] == run.warnings


def test_each_row_has_the_frames_time(tmp_path):
    square_video(tmp_path / "v.mp4", n=9)
    predict_video(stub(), tmp_path / "v.mp4", tmp_path / "out", stride=4, video=False, progress=False)
    table = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    assert [(r["frame"], r["time"]) for r in table] == [("0", "0.0"), ("4", "0.4"), ("8", "0.8")]
    assert [r["time"] for r in rows(tmp_path / "out")] == [0.0, 0.4, 0.8]
    import cv2

    (tmp_path / "frames").mkdir()
    cv2.imwrite(str(tmp_path / "frames" / "f.png"), np.zeros((8, 8, 3), np.uint8))
    predict_video(stub(), tmp_path / "frames", tmp_path / "folder", video=False, progress=False)
    assert [r["time"] for r in rows(tmp_path / "folder")] == [None]  # a folder of frames has no times
    assert [r["file"] for r in table] == [""] * 3 and [r["file"] for r in rows(tmp_path / "out")] == [None] * 3


def test_each_row_of_a_folder_names_its_file(tmp_path):
    """`file` says which file a row is; the PNGs follow `frame`, the index in natural order."""
    import cv2

    names = ["frame_000001.jpg", "frame_000002.png", "frame_000010.jpg", "frame_000011.jpg"]
    (tmp_path / "frames").mkdir()
    for name in reversed(names):
        cv2.imwrite(str(tmp_path / "frames" / name), np.zeros((8, 8, 3), np.uint8))
    predict_video(stub(), tmp_path / "frames", tmp_path / "out", stride=2, video=False, png=True, progress=False)
    table = list(csv.DictReader(open(tmp_path / "out" / "predictions.csv")))
    assert [(r["frame"], r["file"]) for r in table] == [("0", "frame_000001.jpg"), ("2", "frame_000010.jpg")]
    assert [(r["frame"], r["file"]) for r in rows(tmp_path / "out")] == [(0, "frame_000001.jpg"),
                                                                         (2, "frame_000010.jpg")]
    assert sorted(files(tmp_path / "out" / "frames")) == ["frame_000000.png", "frame_000002.png"]


# -- a failed predict, a second predict --------------------------------------------------------------
def test_a_decode_error_names_the_frame_and_leaves_no_png_of_its_own(tmp_path):
    square_video(tmp_path / "bad.mp4", codec="libx264")
    damage(tmp_path / "bad.mp4", 8, np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8).tobytes())
    decoded = 0
    with pytest.raises(av.FFmpegError), av.open(str(tmp_path / "bad.mp4")) as container:
        for _ in container.decode(video=0):
            decoded += 1
    assert decoded > 2  # PNGs of the first frames were written before the error
    message = f"bad.mp4: cannot decode the video after frame {decoded - 1}, the last one decoded"
    with pytest.raises(DataError, match=message):
        predict_video(stub(), tmp_path / "bad.mp4", tmp_path / "new" / "out", png=True, batch_size=1, progress=False)
    assert not (tmp_path / "new").exists()

    write_video(tmp_path / "good.mp4", 4)  # an earlier run's outputs: kept as they were
    predict_video(stub(), tmp_path / "good.mp4", tmp_path / "out", png=True, progress=False)
    (tmp_path / "out" / "notes.txt").write_text("mine")
    before = files(tmp_path / "out")
    assert sum(name.startswith("frames/frame_") for name in before) == 4
    with pytest.raises(DataError, match=message):
        predict_video(stub(), tmp_path / "bad.mp4", tmp_path / "out", png=True, batch_size=1, progress=False)
    assert files(tmp_path / "out") == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["frames", "notes.txt", "predictions.csv", "predictions.json", "predictions.mp4"])  # no temporary folder


def test_a_second_predict_removes_the_outputs_it_does_not_write_again(tmp_path, capsys):
    write_video(tmp_path / "v.mp4", 6)
    out = tmp_path / "out"
    first = predict_video(stub(), tmp_path / "v.mp4", out, png=True, progress=False)
    assert first.removed == [] and len(list((out / "frames").iterdir())) == 6
    (out / "notes.txt").write_text("mine")
    (out / "predictions.txt").write_text("mine too")  # not a name predict writes

    second = predict_video(stub(), tmp_path / "v.mp4", out, max_frames=3, png=True, progress=False)
    assert sorted(p.name for p in (out / "frames").iterdir()) == [f"frame_{i:06d}.png" for i in range(3)]
    assert sorted(p.name for p in second.removed) == [f"frame_{i:06d}.png" for i in range(3, 6)]
    (out / "frames" / "keep.txt").write_text("mine")

    third = predict_video(stub(), tmp_path / "v.mp4", out, max_frames=2, video=False, progress=False)
    assert sorted(p.name for p in third.removed) == [f"frame_{i:06d}.png" for i in range(3)] + ["predictions.mp4"]
    assert sorted(p.name for p in out.iterdir()) == ["frames", "notes.txt", "predictions.csv", "predictions.json",
                                                     "predictions.txt"]
    assert [p.name for p in (out / "frames").iterdir()] == ["keep.txt"]
    (out / "frames" / "keep.txt").unlink()

    predict_video(stub(), tmp_path / "v.mp4", out, png=True, video=False, progress=False)
    fourth = predict_video(stub(), tmp_path / "v.mp4", out, video=False, progress=False)
    assert len(fourth.removed) == 6 and not (out / "frames").exists()  # emptied by predict: removed too


def test_frames_of_something_else_stay_and_the_source_is_never_an_output(tmp_path):
    """Without an earlier predict's predictions.json, frame_NNNNNN.png files in --out/frames are
    not predict's to remove; a source folder that is --out/frames is refused before any work."""
    import cv2

    out = tmp_path / "run"
    (out / "frames").mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(out / "frames" / f"frame_{i:06d}.png"), np.full((8, 8, 3), 40 * i, np.uint8))
    write_video(tmp_path / "v.mp4", 2)
    done = predict_video(stub(), tmp_path / "v.mp4", out, video=False, progress=False)
    assert done.removed == [] and len(list((out / "frames").iterdir())) == 3
    (out / "predictions.json").unlink()
    before = {p.name: p.read_bytes() for p in (out / "frames").iterdir()}
    with pytest.raises(ValueError, match=r"its frames/ folder is the source"):
        predict_video(stub(), out / "frames", out, png=True, progress=False)
    assert {p.name: p.read_bytes() for p in (out / "frames").iterdir()} == before
    assert sorted(p.name for p in out.iterdir()) == ["frames", "predictions.csv"]


# -- frame rates ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fps", [float("inf"), float("nan"), 1e-5, 0.0, 1e9])
def test_frame_rates_an_mp4_cannot_hold_are_refused_before_any_work(tmp_path, fps):
    write_video(tmp_path / "v.mp4", 2)
    with pytest.raises(ValueError, match=r"fps must be a number of frames per second in \[0.001, 1000\]"):
        predict_video(stub(), tmp_path / "v.mp4", tmp_path / "out", fps=fps, progress=False)
    assert not (tmp_path / "out").exists()


def test_a_stride_that_leaves_too_low_a_rate_asks_for_fps(tmp_path):
    import cv2

    (tmp_path / "frames").mkdir()
    cv2.imwrite(str(tmp_path / "frames" / "f.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"--stride 30000; set --fps\) must be a number"):
        predict_video(stub(), tmp_path / "frames", tmp_path / "out", stride=30000, progress=False)
    assert not (tmp_path / "out").exists()
    run = predict_video(stub(), tmp_path / "frames", tmp_path / "out", stride=30000, fps=0.001, progress=False)
    with av.open(str(run.video)) as container:
        assert float(container.streams.video[0].average_rate) == pytest.approx(0.001)


# -- non-square pixels -----------------------------------------------------------------------------
@pytest.mark.parametrize(("rotation", "seen"), [(0, "8/9"), (90, "9/8")])
def test_non_square_pixels_are_recorded_and_carried_into_the_mp4(tmp_path, rotation, seen):
    """An anamorphic video (SAR 8:9): the boxes stay in decoded pixels, predictions.json names the
    ratio of the frames as displayed (a quarter turn swaps a pixel's sides), and predictions.mp4
    declares it, so players show it as the source."""
    from fractions import Fraction

    from wsvol.engine.predict import predict_video

    source = tmp_path / "dv.mp4"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.sample_aspect_ratio = Fraction(8, 9)
        if rotation:
            stream.set_display_rotation(rotation)
        for _ in range(3):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")))
        container.mux(stream.encode())
    predict_video(stub(), source, tmp_path / "out", progress=False)
    meta = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert meta["pixel_aspect"] == seen
    with av.open(str(tmp_path / "out" / "predictions.mp4")) as written:
        assert written.streams.video[0].sample_aspect_ratio == Fraction(seen)

    square_video(tmp_path / "square.mp4", n=3)
    predict_video(stub(), tmp_path / "square.mp4", tmp_path / "sq", progress=False)
    assert json.loads((tmp_path / "sq" / "predictions.json").read_text())["pixel_aspect"] is None
    with av.open(str(tmp_path / "sq" / "predictions.mp4")) as written:
        assert written.streams.video[0].sample_aspect_ratio in (None, 0, 1)
