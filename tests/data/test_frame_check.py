"""Checking a split's frames on disk: missing, corrupt and resized frames, shot folders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_folds import (  # beside this file (pytest puts its folder on sys.path)
    A,
    B,
    C,
    good_files,
    write_split,
)

from wsvol.data.fold_files import DataError
from wsvol.data.folds import read_split
from wsvol.data.frame_check import check_files


def test_check_files_finds_missing_corrupt_and_resized(tmp_path):
    write_split(tmp_path / "folds", "test", good_files())
    split = read_split(tmp_path / "folds", "test")
    root = tmp_path / "data"
    for f in split.frames:
        (root / f.frame_id).parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / A)
    report = check_files(split, root, progress=False)
    assert report.missing == [B, C] and not report.unreadable
    assert report.problems(root) == [f"2 of 3 frames missing under {root} (first: {root / B})"]
    good = (root / A).read_bytes()
    (root / B).write_bytes(good[: len(good) // 2])  # truncated JPEG: header fine, data cut
    Image.new("RGB", (33, 40)).save(root / C)
    report = check_files(split, root, progress=False)
    assert report.missing == [] and [f for f, _ in report.unreadable] == [B]
    assert report.wrong_size == [(C, (32, 40), (33, 40))]
    assert [f for f, _ in check_files(split, root, decode=False, progress=False).unreadable] == []
    with pytest.raises(DataError, match="is 33x40 but image_sizes.txt says 32x40"):
        report.raise_if_problems(root)
    Image.new("RGB", (64, 48)).save(root / B)
    Image.new("RGB", (32, 40)).save(root / C)
    assert check_files(split, root, progress=False).ok


def test_missing_frames_and_shot_folders_are_one_line_each(tmp_path):
    shots = [f"cat/data/{v:04d}/shots/{s:03d}" for v in (1, 2) for s in (1, 2, 3)]
    write_split(tmp_path / "folds", "train", {
        "image_ids.txt": "".join(f"{s}\n" for s in shots),
        "class_labels.txt": "".join(f"{s},4\n" for s in shots),
    })
    split = read_split(tmp_path / "folds", "train")
    root = tmp_path / "nowhere"
    report = check_files(split, root, progress=False)
    ids = tmp_path / "folds" / "train" / "image_ids.txt"
    assert report.problems(root) == [
        f"6 of 6 shot folders missing under {root} (first: {root / shots[0]}, listed at {ids}:1; "
        f"{root} itself does not exist)"]
    (root / shots[0]).mkdir(parents=True)  # empty
    for s in shots[1:]:
        (root / s).mkdir(parents=True)
        Image.new("RGB", (8, 6)).save(root / s / "frame0001.jpg")
    Image.new("RGB", (8, 6)).save(root / shots[1] / "frame0002.jpg")
    (root / shots[2] / "frame0003.jpg").write_bytes(b"not a jpeg")
    report = check_files(split, root, progress=False)
    assert report.checked == 7 and [f for f, _ in report.unreadable] == [f"{shots[2]}/frame0003.jpg"]
    assert report.problems(root)[0] == f"{ids}:1: shot folder {root / shots[0]} holds no frames " \
        "(no jpg/jpeg/png/bmp/tif/tiff/webp file)"
    with pytest.raises(DataError, match="7 frames checked .* 1 unreadable, 0 of the wrong size, 1 shot folders"):
        report.raise_if_problems(root)
