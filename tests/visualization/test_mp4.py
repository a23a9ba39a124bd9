"""Mp4Writer: every frame in the video, in order; odd sizes padded; nothing left after a failure."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import av
import numpy as np
import pytest

from wsvol.utils.files import atomic_write_text, remove_stale_partials
from wsvol.visualization.mp4 import Mp4Writer


def grey(i: int, w: int = 33, h: int = 21) -> np.ndarray:
    return np.full((h, w, 3), 20 + 40 * i, np.uint8)


def test_frames_come_back_in_order_and_odd_sides_are_padded(tmp_path):
    with Mp4Writer(tmp_path / "v.mp4", fps=12.5) as writer:
        for i in range(5):
            writer.write(grey(i))
    with av.open(str(tmp_path / "v.mp4")) as container:
        stream = container.streams.video[0]
        assert float(stream.average_rate) == 12.5
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 5 and frames[0].shape == (22, 34, 3)
    levels = [int(np.median(f[:21, :33])) for f in frames]
    assert all(abs(level - (20 + 40 * i)) <= 3 for i, level in enumerate(levels))  # lossy, but in order
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


def test_a_frame_of_another_size_is_refused_and_nothing_is_left(tmp_path):
    with pytest.raises(ValueError, match="frame 1 is 20x20, the video is 33x21"):
        with Mp4Writer(tmp_path / "v.mp4", fps=5) as writer:
            writer.write(grey(0))
            writer.write(np.zeros((20, 20, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_the_video_gets_the_mode_of_every_other_output(tmp_path):
    old = os.umask(0o022)
    try:
        with Mp4Writer(tmp_path / "v.mp4", fps=5) as writer:
            writer.write(grey(0))
        atomic_write_text(tmp_path / "table.csv", "a,b\n")  # how the CSV and JSON outputs are written
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "v.mp4").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "table.csv").stat().st_mode), oct(mode)


KILLED = """
import os, sys
import numpy as np
from wsvol.visualization.mp4 import Mp4Writer
writer = Mp4Writer(sys.argv[1], fps=5)
writer.write(np.zeros((8, 8, 3), np.uint8))
os._exit(3)  # killed mid-video
"""


def test_a_killed_writers_temporary_video_is_cleared_as_a_dead_writers(tmp_path):
    run = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path / "v.mp4")], capture_output=True, text=True)
    assert run.returncode == 3, run.stderr[-2000:]
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(".v.mp4.")
    assert remove_stale_partials(tmp_path) == [left]
    assert list(tmp_path.iterdir()) == []
