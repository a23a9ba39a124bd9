"""Listing shot folders: sorted frame files only, listed once per process, listed again when
the folder changes; why a folder gives no frames."""

from __future__ import annotations

import os

from wsvol.data.shots import list_shots, shot_frame_names


def test_sorted_image_files_only_and_cached(tmp_path):
    shot = tmp_path / "cat" / "data" / "0001" / "shots" / "001"
    shot.mkdir(parents=True)
    for name in ["frame0010.jpg", "frame0002.jpg", "frame0001.jpg_sticks.mat", "frame0003.PNG", "notes.txt"]:
        (shot / name).write_bytes(b"")
    (shot / "sub.jpg").mkdir()  # a folder, not a frame
    first = shot_frame_names(shot)
    assert first == ("frame0002.jpg", "frame0003.PNG", "frame0010.jpg")
    assert shot_frame_names(shot) is first  # cached: the same listing object
    (shot / "frame0004.jpg").write_bytes(b"")
    os.utime(shot, ns=(0, os.stat(shot).st_mtime_ns + 1_000_000))  # a new mtime even on coarse clocks
    assert shot_frame_names(shot) == ("frame0002.jpg", "frame0003.PNG", "frame0004.jpg", "frame0010.jpg")


def test_missing_empty_and_not_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "f.jpg").write_bytes(b"")
    frames, failures = list_shots(tmp_path, ["ok", "empty", "file", "gone"])
    assert frames == {"ok": ("f.jpg",)}
    assert failures["gone"] == "does not exist" and failures["file"] == "is not a folder"
    assert failures["empty"].startswith("holds no frames")
