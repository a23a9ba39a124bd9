"""Importing videos (PyAV) and frame folders into the fold format."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import yaml

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
from wsvol.data.fold_files import DataError
from wsvol.data.folds import read_split
from wsvol.data.frame_check import check_files
from wsvol.data.video import import_videos, read_frames

N, W, H = 20, 64, 48


def level(i: int) -> int:
    """Grey level of source frame ``i``: far apart, so lossy coding cannot confuse two frames."""
    return 10 + 12 * i


def nearest_frame(img: np.ndarray) -> int:
    """The source frame whose grey level is closest to the image's mean."""
    return int(np.argmin([abs(img.mean() - level(i)) for i in range(N)]))


def write_video(path: Path, n: int = N, codec: str = "mpeg4") -> None:
    """A video whose frame ``i`` is uniformly ``level(i)`` grey."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.bit_rate = 2_000_000
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(
                np.full((H, W, 3), level(i), np.uint8), format="rgb24"
            )
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def test_import_video_with_stride_and_max_frames(tmp_path):
    write_video(tmp_path / "src" / "car" / "drive.mp4")
    out = tmp_path / "out"
    split = import_videos(tmp_path / "src", out, stride=3, max_frames=4, progress=False)
    expected = [f"car/video-0001/shot-000001/frame_{i:06d}.jpg" for i in (0, 3, 6, 9)]
    assert [f.frame_id for f in split.frames] == expected
    assert all(f.label == 3 and f.size == (W, H) for f in split.frames)
    assert (out / "folds" / "train" / "image_ids.txt").read_text().split() == expected
    assert yaml.safe_load((out / "folds" / "class_id.yaml").read_text()) == YOUTUBE_OBJECTS_CLASS_MAP
    assert "car/video-0001," in (out / "folds" / "train" / "video_sources.txt").read_text()
    for fid, i in zip(expected, (0, 3, 6, 9)):  # the right source frames were kept
        img = cv2.imread(str(out / fid))
        assert nearest_frame(img) == i, fid
    assert check_files(read_split(out / "folds", "train"), out, progress=False).ok

    whole = import_videos(tmp_path / "src", tmp_path / "all", progress=False)
    assert len(whole.frames) == N


def test_frame_folders_shots_and_user_classes(tmp_path):
    src = tmp_path / "src"
    frames = src / "kite" / "clip_a"
    frames.mkdir(parents=True)
    for i in range(1, 8):  # natural order: frame_2 before frame_10
        cv2.imwrite(str(frames / f"frame_{i * 4}.png"), np.full((20, 30, 3), level(i), np.uint8))
    write_video(src / "ball" / "b.mp4", n=3, codec="libx264")
    split = import_videos(
        src, tmp_path / "out", shot_length=3, classes=["ball", "kite"], split="mine", progress=False
    )
    shots = split.shots()
    assert [len(v) for v in shots.values()] == [3, 3, 3, 1]  # ball: one shot of 3; kite: 3+3+1
    kite = [f for f in split.frames if f.label == 1]
    assert [f.frame_id.split("/")[2] for f in kite] == ["shot-000001"] * 3 + ["shot-000002"] * 3 + [
        "shot-000003"
    ]
    assert all(f.size == (30, 20) for f in kite)
    means = [cv2.imread(str(tmp_path / "out" / f.frame_id)).mean() for f in kite]
    np.testing.assert_allclose(
        means, [level(i) for i in range(1, 8)], atol=3
    )  # PNG → JPEG of flat grey
    assert split.class_names == ["ball", "kite"]


def test_shot_length_splits_a_video(tmp_path):
    write_video(tmp_path / "src" / "dog" / "x.webm", n=7, codec="libvpx")
    split = import_videos(tmp_path / "src", tmp_path / "out", shot_length=3, progress=False)
    assert [len(v) for v in split.shots().values()] == [3, 3, 1]


def test_clear_errors(tmp_path):
    src = tmp_path / "src"
    write_video(src / "zebra" / "z.mp4", n=2)
    (src / "cat").mkdir()
    (src / "cat" / "notes.txt").write_text("hi")
    with pytest.raises(DataError) as info:
        import_videos(src, tmp_path / "out", progress=False)
    msg = str(info.value)
    assert (
        "unknown class 'zebra'; known classes: aeroplane, bird" in msg
        and "notes.txt: not a video" in msg
    )

    bad = tmp_path / "bad"
    (bad / "cat").mkdir(parents=True)
    (bad / "cat" / "broken.mp4").write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(DataError, match="broken.mp4: cannot decode the video"):
        import_videos(bad, tmp_path / "out2", progress=False)

    good = tmp_path / "good"
    write_video(good / "cat" / "c.mp4", n=2)
    import_videos(good, tmp_path / "out3", progress=False)
    with pytest.raises(DataError, match="exists already"):
        import_videos(good, tmp_path / "out3", progress=False)
    with pytest.raises(DataError, match="another class map"):
        import_videos(good, tmp_path / "out3", split="other", classes=["cat"], progress=False)
    with pytest.raises(ValueError, match="stride"):
        import_videos(good, tmp_path / "out4", stride=0)


def test_second_import_does_not_overwrite_frames(tmp_path):
    write_video(tmp_path / "a" / "cat" / "one.mp4", n=2)
    write_video(tmp_path / "b" / "cat" / "two.mp4", n=3)
    first = import_videos(tmp_path / "a", tmp_path / "out", progress=False)
    second = import_videos(tmp_path / "b", tmp_path / "out", split="more", progress=False)
    assert {f.video_id for f in first.frames} == {"cat/video-0001"}
    assert {f.video_id for f in second.frames} == {"cat/video-0002"}
    assert check_files(first, tmp_path / "out", progress=False).ok


def test_a_failed_import_leaves_no_frames_and_no_split(tmp_path):
    """The third video cannot be decoded: the frames of the two before are removed again (no fold
    file would list them), an earlier import's video is kept, and a new import numbers as before."""
    write_video(tmp_path / "old" / "cat" / "kept.mp4", n=2)
    import_videos(tmp_path / "old", tmp_path / "out", progress=False)
    write_video(tmp_path / "src" / "cat" / "a.mp4", n=2)
    write_video(tmp_path / "src" / "cat" / "b.mp4", n=2)
    (tmp_path / "src" / "cat" / "c.mp4").write_bytes(b"not a video")
    before = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*"))
    with pytest.raises(DataError, match="c.mp4"):
        import_videos(tmp_path / "src", tmp_path / "out", split="more", progress=False)
    assert sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*")) == before
    (tmp_path / "src" / "cat" / "c.mp4").unlink()
    split = import_videos(tmp_path / "src", tmp_path / "out", split="more", progress=False)
    assert {f.video_id for f in split.frames} == {"cat/video-0002", "cat/video-0003"}


# -- frame folders: what is listed, in which order ------------------------------------------------
def test_dot_files_in_a_frame_folder_are_skipped(tmp_path):
    """macOS leaves ``._<name>`` AppleDouble files (metadata, not images) beside copied frames."""
    frames = tmp_path / "src" / "cat" / "clip"
    frames.mkdir(parents=True)
    for i in range(1, 3):
        cv2.imwrite(str(frames / f"f{i}.jpg"), np.full((20, 30, 3), level(i), np.uint8))
        (frames / f"._f{i}.jpg").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 78)  # AppleDouble magic
    assert [i for i, _ in read_frames(frames)] == [0, 1]
    split = import_videos(tmp_path / "src", tmp_path / "out", progress=False)
    assert len(split.frames) == 2


def test_natural_order_takes_any_decimal_digits_and_no_other_digit_like_characters(tmp_path):
    """"²" is a digit to str.isdigit but not a decimal digit (int() refuses it); "٣" (Arabic-Indic 3) is."""
    names = ["frame10.png", "frame²1.png", "frame2.png", "frame٣.png"]
    for i, name in enumerate(names):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), 20 * (i + 1), np.uint8))
    order = [int(rgb[0, 0, 0]) // 20 - 1 for _, rgb in read_frames(tmp_path)]
    assert [names[i] for i in order] == ["frame2.png", "frame٣.png", "frame10.png", "frame²1.png"]
    (tmp_path / "src" / "cat").mkdir(parents=True)  # a class folder's videos are sorted the same way
    write_video(tmp_path / "src" / "cat" / "²1.mp4", n=1)
    write_video(tmp_path / "src" / "cat" / "a2.mp4", n=1)
    assert len(import_videos(tmp_path / "src", tmp_path / "out", progress=False).frames) == 2
