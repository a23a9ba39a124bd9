"""``prepare_ytov1`` on stand-in v1.0 releases: the published folds reproduced from a release
tree built from their own ids and boxes, TCAM's box fixes, the demo split, clear errors."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from release_trees import (  # beside this file (pytest puts its folder on sys.path)
    write_v1_release,
    write_v1_release_from_folds,
)

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.data.fold_files import DataError
from wsvol.data.folds import read_split
from wsvol.data.releases import prepare_ytov1
from wsvol.data.releases.ytov1 import read_boxes


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _video(entry: str) -> str:
    return "/".join(entry.split("/")[:3])


def test_reproduces_the_published_folds(tmp_path, real_v1_folds):
    release = write_v1_release_from_folds(real_v1_folds, tmp_path / "YouTube-Objects-v1.0")
    out = tmp_path / "folds"
    counts = prepare_ytov1(release, out, progress=False)
    assert counts == {"train": 2768, "val": 325, "test": 346}
    for split in ("train", "val", "test"):
        for name in ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"):
            ours, theirs = _lines(out / split / name), _lines(real_v1_folds / split / name)
            assert sorted(ours) == sorted(theirs), (split, name)  # same lines, values written alike
    for split in ("val", "test"):  # the boxes of a frame stay in the release's order
        per_frame = [defaultdict(list), defaultdict(list)]
        for table, folds in zip(per_frame, (out, real_v1_folds)):
            for line in _lines(folds / split / "localization.txt"):
                table[line.split(",")[0]].append(line)
        assert per_frame[0] == per_frame[1]
    # val videos in the order TCAM's seeded shuffles chose them (the published order)
    assert list(dict.fromkeys(map(_video, _lines(out / "val" / "image_ids.txt")))) == \
        list(dict.fromkeys(map(_video, _lines(real_v1_folds / "val" / "image_ids.txt"))))
    assert (out / "class_id.yaml").read_text().splitlines()[:2] == ["aeroplane: 0", "bird: 1"]
    assert len(read_split(out, "train").entries) == 2768 and len(read_split(out, "val").frames) == 325


def _small_release(root: Path) -> Path:
    """Two cat videos for training (one without boxes), one for testing."""
    frames = {
        "cat/data/0001/shots/001/frame0001.jpg": ((64, 48), [[1.5, -2.0, 30.25, 40.0]]),
        "cat/data/0001/shots/001/frame0002.jpg": ((64, 48), None),
        "cat/data/0002/shots/001/frame0001.jpg": ((64, 48), None),
        "cat/data/0002/shots/002/frame0001.jpg": ((64, 48), None),
        "cat/data/0003/shots/004/frame0002.jpg": ((80, 60), [[2.0, 3.0, 40.5, 50.0], [10.0, 10.0, 20.0, 20.0]]),
        "cat/data/0003/shots/004/frame0001.jpg": ((80, 60), None),
    }
    sets = {c: {"train.txt": [], "test.txt": []} for c in YOUTUBE_OBJECTS_CLASSES}
    sets["cat"] = {"train.txt": ["0001", "0002"], "test.txt": ["0003"]}
    return write_v1_release(root, sets, frames)


def test_small_release_with_demo(tmp_path):
    release = _small_release(tmp_path / "release")
    counts = prepare_ytov1(release, tmp_path / "folds", demo=True, progress=False)
    assert counts == {"train": 2, "val": 1, "test": 1, "test-video-demo": 2}
    d = tmp_path / "folds"
    assert _lines(d / "val" / "localization.txt") == ["cat/data/0001/shots/001/frame0001.jpg,1.5,0.0,30.25,40.0"]
    assert _lines(d / "val" / "image_sizes.txt") == ["cat/data/0001/shots/001/frame0001.jpg,64,48"]
    assert sorted(_lines(d / "train" / "image_ids.txt")) == ["cat/data/0002/shots/001", "cat/data/0002/shots/002"]
    assert _lines(d / "train" / "class_labels.txt")[0].endswith(",4")
    assert _lines(d / "test-video-demo" / "localization.txt") == [
        "cat/data/0003/shots/004/frame0001.jpg,0.0,0.0,0.0,0.0",
        "cat/data/0003/shots/004/frame0002.jpg,2.0,3.0,40.5,50.0",
        "cat/data/0003/shots/004/frame0002.jpg,10.0,10.0,20.0,20.0"]
    demo = read_split(d, "test-video-demo")
    assert [len(f.boxes) for f in demo.frames] == [0, 2]
    with pytest.raises(DataError, match="holds folds already"):
        prepare_ytov1(release, d, progress=False)
    prepare_ytov1(release, d, overwrite=True, progress=False)


def test_release_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="is not the YouTube-Objects v1.0 release folder: no aeroplane/sets/"):
        prepare_ytov1(tmp_path, tmp_path / "folds", progress=False)
    release = _small_release(tmp_path / "release")
    with pytest.raises(DataError, match="is inside the release folder"):  # its class 'train' would get folds
        prepare_ytov1(release, release, progress=False)
    listing = release / "cat" / "sets" / "train.txt"
    listing.write_text("0001\n0002\n0009\n")
    with pytest.raises(DataError, match=f"{listing}:3: video folder .*cat/data/0009 does not exist"):
        prepare_ytov1(release, tmp_path / "folds", progress=False)
    listing.write_text("0001\n0002\n")
    mat = release / "cat/data/0001/shots/001/frame0001.jpg_sticks.mat"
    mat.write_bytes(b"MATLAB 5.0 MAT-file, damaged" + b"\0" * 10)
    with pytest.raises(DataError, match=f"{mat}: not a readable .mat file"):
        prepare_ytov1(release, tmp_path / "folds", progress=False)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(116) + b"\0" * 8 + b"\x00\x02IM"
    mat.write_bytes(header + b"\0" * 512)
    with pytest.raises(DataError, match=r"MATLAB v7.3 \(HDF5\) file"):
        prepare_ytov1(release, tmp_path / "folds", progress=False)
    write_v1_release(release, {}, {"cat/data/0001/shots/001/frame0001.jpg": ((64, 48), [[30.0, 1.0, 20.0, 9.0]])})
    with pytest.raises(DataError, match=r"frame0001.jpg_sticks.mat \(box 1\): box \[30.0, 1.0, 20.0, 9.0\] is empty, reversed"):
        prepare_ytov1(release, tmp_path / "folds", progress=False)


# -- damaged files are reported naming them --------------------------------------------------
FRAME = "cat/data/0001/shots/001/frame0001.jpg"


def _release(root: Path) -> Path:
    """One training video with an annotated frame, one test video."""
    frames = {
        FRAME: ((64, 48), [[1.0, 2.0, 30.0, 40.0]]),
        "cat/data/0002/shots/001/frame0001.jpg": ((64, 48), [[2.0, 3.0, 40.0, 30.0]]),
    }
    sets = {c: {"train.txt": [], "test.txt": []} for c in YOUTUBE_OBJECTS_CLASSES}
    sets["cat"] = {"train.txt": ["0001"], "test.txt": ["0002"]}
    return write_v1_release(root, sets, frames)


def _text_cell() -> np.ndarray:
    cell = np.empty((1, 1), object)
    cell[0, 0] = "1 2 30 40"
    return cell


@pytest.mark.parametrize(
    ("coor", "says"),
    [
        ([[1.0, 2.0, 3.0]], r": 'coor' holds float64 of shape \(1, 3\), expected a cell array of 1x4 boxes"),
        ([[1.0, 2.0, 30.0, 40.0, 5.0]], r": 'coor' holds float64 of shape \(1, 5\)"),
        ("1 2 30 40", r": 'coor' holds <U9 of shape \(1,\)"),
        (_text_cell(), r" \(box 1\): holds <U9 of shape \(1,\), expected 4 numbers"),
    ],
    ids=["3 numbers", "5 numbers", "text", "text in a cell"],
)
def test_coor_that_is_not_boxes_is_refused_naming_the_file(tmp_path, coor, says):
    release = _release(tmp_path / "release")
    mat = release / (FRAME + "_sticks.mat")
    scipy.io.savemat(str(mat), {"coor": coor})
    with pytest.raises(DataError, match=re.escape(str(mat)) + says):
        prepare_ytov1(release, tmp_path / "folds", progress=False)


def test_a_matrix_of_boxes_is_read(tmp_path):
    mat = tmp_path / "frame0001.jpg_sticks.mat"
    scipy.io.savemat(str(mat), {"coor": np.array([[1.0, 2.0, 30.0, 40.0], [-3.0, 4.0, 20.0, 20.0]])})
    assert read_boxes(mat, "cat/data/0001/shots/001/frame0001.jpg", (64, 48)) == [
        [1.0, 2.0, 30.0, 40.0], [0.0, 4.0, 20.0, 20.0]]
