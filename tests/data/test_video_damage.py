"""Damaged videos are reported, not read silently: frames the decoder marks corrupt, a video that
decodes to fewer frames than it declares, and a decode error that names the last frame decoded."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from wsvol.data.fold_files import DataError
from wsvol.data.video import DecodeReport, import_videos, read_frames

N, W, H = 30, 64, 48


def write_video(path: Path, codec: str = "mpeg4", options: dict | None = None) -> None:
    """``N`` frames at 10 fps: a bright square moving on a dark ground."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(N):
            img = np.full((H, W, 3), 30, np.uint8)
            img[10:30, i : i + 20] = 200
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())


def packets(path: Path) -> list[tuple[int, int]]:
    """(byte offset, size) of each video packet, in file order."""
    with av.open(str(path)) as container:
        return [(p.pos, p.size) for p in container.demux(video=0) if p.size]


def damage(path: Path, packet: int, data: bytes) -> None:
    """Overwrite bytes from the middle of the ``packet``-th packet on with ``data``."""
    pos, size = packets(path)[packet]
    content = bytearray(path.read_bytes())
    start = pos + size // 2
    content[start : start + len(data)] = data
    path.write_bytes(bytes(content))


def corrupt_flags(path: Path) -> list[int]:
    """Indices of the frames PyAV itself marks corrupt, decoding the whole file."""
    with av.open(str(path)) as container:
        return [i for i, frame in enumerate(container.decode(video=0)) if frame.is_corrupt]


@pytest.mark.parametrize("name", ["v.mp4", "v.mkv"])
def test_corrupt_frames_are_reported_by_index(tmp_path, name):
    path = tmp_path / name
    write_video(path)
    damage(path, 12, b"\xff" * 8)
    expected = corrupt_flags(path)
    assert expected  # the damage gave what the test is about
    report = DecodeReport(path)
    kept = [i for i, _ in read_frames(path, stride=2, report=report)]
    assert kept == list(range(0, N, 2))  # every frame is still read: the rows stay as decoded
    assert report.corrupt == expected and report.complete and not report.short
    (warning,) = report.warnings()
    assert str(path) in warning and f"index: {', '.join(map(str, expected))})" in warning


@pytest.mark.parametrize("name, declared_from", [("v.mp4", "frame count"), ("v.mkv", "duration")])
def test_a_video_shorter_than_it_declares_is_reported(tmp_path, name, declared_from):
    path = tmp_path / name
    write_video(path, options={"movflags": "faststart"} if name.endswith("mp4") else None)  # the index first
    report = DecodeReport(path)
    assert len(list(read_frames(path, report=report))) == N
    assert (report.declared, report.declared_from, report.warnings()) == (N, declared_from, [])
    path.write_bytes(path.read_bytes()[: packets(path)[20][0]])  # cut before the 21st frame
    report = DecodeReport(path)
    assert len(list(read_frames(path, report=report))) == 20  # no decode error: the file just ends
    assert report.short and (report.declared, report.decoded) == (N, 20)
    (warning,) = report.warnings()
    assert f"{path}: 20 frames decoded but the video declares {N} (its {declared_from})" in warning
    stopped = DecodeReport(path)  # --max-frames stops decoding: nothing to compare
    assert len(list(read_frames(path, max_frames=5, report=stopped))) == 5
    assert not stopped.complete and stopped.warnings() == []


@pytest.mark.parametrize("codec", ["mpeg4", "libx264", "libvpx"])
def test_intact_videos_give_no_warning_and_frame_times(tmp_path, codec):
    path = tmp_path / ("v.webm" if codec == "libvpx" else "v.mp4")
    write_video(path, codec)
    report = DecodeReport(path)
    assert [i for i, _ in read_frames(path, stride=3, report=report)] == list(range(0, N, 3))
    assert report.warnings() == [] and report.decoded == N and report.declared == N
    assert report.times == pytest.approx({i: i / 10 for i in range(0, N, 3)})  # pts × time base


def test_a_decode_error_names_the_last_frame_decoded(tmp_path):
    """300 random bytes inside the mdat of an H.264 mp4, from the middle of the 9th frame's data
    on: the decoder stops there."""
    path = tmp_path / "v.mp4"
    write_video(path, "libx264")
    content = path.read_bytes()
    mdat = content.index(b"mdat") - 4
    pos, size = packets(path)[8]
    assert pos + size // 2 + 300 <= mdat + int.from_bytes(content[mdat : mdat + 4], "big")  # not the index
    damage(path, 8, np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8).tobytes())
    decoded = 0
    with pytest.raises(av.FFmpegError), av.open(str(path)) as container:
        for _ in container.decode(video=0):
            decoded += 1
    assert decoded > 0
    with pytest.raises(DataError, match=f"v.mp4: cannot decode the video after frame {decoded - 1}, the last "
                                        "one decoded \\(.*Invalid data"):
        list(read_frames(path))
    (tmp_path / "src" / "cat").mkdir(parents=True)
    path.rename(tmp_path / "src" / "cat" / "v.mp4")
    with pytest.raises(DataError, match=f"after frame {decoded - 1}, the last one decoded"):
        import_videos(tmp_path / "src", tmp_path / "out", progress=False)
    with pytest.raises(DataError, match="broken.mp4: cannot decode the video before its first frame"):
        (tmp_path / "broken.mp4").write_bytes(b"\x00\x01garbage" * 100)
        list(read_frames(tmp_path / "broken.mp4"))


def test_import_warns_about_damage_per_video_and_goes_on(tmp_path, capsys):
    """Corrupt frames and a truncated video: one warning each, naming the video and the frames
    (decode order, as the frame_XXXXXX.jpg names); every decoded frame is imported."""
    from wsvol.cli.main import main

    corrupt, short = tmp_path / "src" / "cat" / "a.mp4", tmp_path / "src" / "cat" / "b.mp4"
    write_video(corrupt)
    damage(corrupt, 12, b"\xff" * 8)
    expected = corrupt_flags(corrupt)
    assert expected
    write_video(short, options={"movflags": "faststart"})
    short.write_bytes(short.read_bytes()[: packets(short)[20][0]])
    write_video(tmp_path / "src" / "dog" / "c.mp4")  # intact: no warning
    warnings: list[str] = []
    split = import_videos(tmp_path / "src", tmp_path / "out", classes=["cat", "dog"], progress=False,
                          warn=warnings.append)
    assert len(split.frames) == N + 20 + N
    assert warnings == [
        f"{corrupt}: the decoder marks {len(expected)} frame(s) corrupt (decode order index: "
        f"{', '.join(map(str, expected))}); they were imported as decoded, damage included",
        f"{short}: 20 frames decoded but the video declares {N} (its frame count): it may be truncated or damaged",
    ]
    capsys.readouterr()
    assert main(["data", "import", str(tmp_path / "src"), str(tmp_path / "cli"), "--classes", "cat", "dog"]) == 0
    out = capsys.readouterr()
    assert [line for line in out.err.splitlines() if line.startswith("warning: ")] == [
        f"warning: {line}" for line in warnings]
    assert f"imported {2 * N + 20} frames" in out.out
