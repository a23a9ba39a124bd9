"""A video's display rotation (a phone's portrait clip is stored sideways): frames are turned as
players show them wherever videos are read, checked against OpenCV's decoder, which applies it."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from wsvol.data.video import import_videos, read_frames

W, H = 64, 32  # stored: landscape


def stored_picture() -> np.ndarray:
    """No symmetry: red top-left, blue bottom-right, a green bar along the top's right half."""
    rgb = np.full((H, W, 3), 40, np.uint8)
    rgb[: H // 2, : W // 4] = (230, 30, 30)
    rgb[H // 2 :, -W // 4 :] = (30, 30, 230)
    rgb[:4, W // 2 :] = (30, 230, 30)
    return rgb


def write_rotated(path: Path, degrees: int, n: int = 3) -> None:
    """An H.264 mp4 of ``n`` stored W×H frames whose display matrix turns them by ``degrees``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "0"}  # H.264 decodes bit-exactly: only the RGB conversions differ
        stream.set_display_rotation(degrees)
        for _ in range(n):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(stored_picture(), format="rgb24")))
        container.mux(stream.encode())


def opencv_frames(path: Path) -> list[np.ndarray]:
    """RGB frames as OpenCV's own FFmpeg build decodes them, display rotation applied (its default)."""
    cap = cv2.VideoCapture(str(path))
    assert cap.get(cv2.CAP_PROP_ORIENTATION_AUTO) == 1
    if cap.get(cv2.CAP_PROP_ORIENTATION_META) == 0:
        pytest.skip("this OpenCV build does not read a video's display rotation")
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return frames
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b).mean()) if a.shape == b.shape else float("inf")


@pytest.mark.parametrize("degrees, shape", [(90, (W, H, 3)), (-90, (W, H, 3)), (180, (H, W, 3))])
def test_frames_are_turned_as_players_show_them(tmp_path, degrees, shape):
    write_rotated(tmp_path / "v.mp4", degrees)
    with av.open(str(tmp_path / "v.mp4")) as container:  # the file holds what a phone writes
        frame = next(container.decode(video=0))
        assert frame.rotation % 360 == degrees % 360 and frame.to_ndarray(format="rgb24").shape == (H, W, 3)
    reference = opencv_frames(tmp_path / "v.mp4")
    ours = [rgb for _, rgb in read_frames(tmp_path / "v.mp4")]
    assert len(ours) == len(reference) == 3
    for mine, theirs in zip(ours, reference):
        assert mine.shape == theirs.shape == shape and mine.flags.c_contiguous
        assert difference(mine, theirs) < 2  # the same picture, up to the YUV → RGB conversions
        # and not any other turn of it (stored, or turned the other way: what a sign error gives)
        others = [np.rot90(stored_picture(), k) for k in range(4)]
        assert min(range(4), key=lambda k: difference(others[k], theirs)) == round(degrees / 90) % 4
        assert sorted(difference(o, mine) for o in others)[1] > 20


def test_import_stores_the_frames_upright(tmp_path):
    write_rotated(tmp_path / "src" / "car" / "portrait.mp4", 90)
    split = import_videos(tmp_path / "src", tmp_path / "out", progress=False)
    assert [f.size for f in split.frames] == [(H, W)] * 3  # width × height as displayed
    reference = opencv_frames(tmp_path / "src" / "car" / "portrait.mp4")
    for frame, theirs in zip(split.frames, reference):
        imported = cv2.cvtColor(cv2.imread(str(tmp_path / "out" / frame.frame_id)), cv2.COLOR_BGR2RGB)
        assert difference(imported, theirs) < 6  # JPEG at quality 95
