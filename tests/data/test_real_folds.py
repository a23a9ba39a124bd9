"""The published YouTube-Objects v1.0 fold files (TCAM's, ../shared/data) pass the reader as they
are; what it reads is checked against the files parsed independently (csv) and against the counts
the papers publish."""

from __future__ import annotations

import csv
from collections import defaultdict

import numpy as np
import pytest

from wsvol.data.folds import read_split
from wsvol.data.summary import split_counts
from wsvol.evaluation.maps import rescale_boxes


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _totals(split):
    counts = split_counts(split)
    return {k: sum(c[k] for c in counts.values()) if all(c[k] is not None for c in counts.values()) else None
            for k in next(iter(counts.values()))}


def test_train_lists_78_videos_of_2768_shots(real_v1_folds):
    split = read_split(real_v1_folds, "train")
    assert split.lists_shots and len(split.entries) == 2768  # the papers' count
    assert _totals(split) == {"frames": None, "videos": 78, "shots": 2768, "boxes": 0, "boxed frames": 0}
    assert split.entries[0].entry_id == "aeroplane/data/0013/shots/330"
    assert split.entries[0].video_id == "aeroplane/data/0013"
    per_class = {name: c["shots"] for name, c in split_counts(split).items()}
    assert per_class == {"aeroplane": 545, "bird": 91, "boat": 301, "car": 41, "cat": 109, "cow": 85,
                         "dog": 621, "horse": 179, "motorbike": 265, "train": 531}


@pytest.mark.parametrize("name, frames, videos, boxes", [("val", 325, 50, 347), ("test", 346, 27, 396)])
def test_eval_splits_read_as_written(real_v1_folds, name, frames, videos, boxes):
    split = read_split(real_v1_folds, name)
    assert _totals(split) == {"frames": frames, "videos": videos, "shots": frames, "boxes": boxes,
                              "boxed frames": frames}
    d = real_v1_folds / name
    expected = defaultdict(list)
    for row in _rows(d / "localization.txt"):
        expected[row[0]].append([float(v) for v in row[1:]])
    sizes = {r[0]: (int(r[1]), int(r[2])) for r in _rows(d / "image_sizes.txt")}
    labels = {r[0]: int(r[1]) for r in _rows(d / "class_labels.txt")}
    assert [f.frame_id for f in split.frames] == [r[0] for r in _rows(d / "image_ids.txt")]
    for f in split.frames:
        assert f.boxes.dtype == np.float64 and f.boxes.tolist() == expected[f.frame_id]  # exact, as written
        assert f.size == sizes[f.frame_id] and f.label == labels[f.frame_id]
        # wsolevaluation's rescale to 224: int(x * 224 / width), in Python floats
        w, h = f.size
        brute = [[int(x0 * 224 / w), int(y0 * 224 / h), int(x1 * 224 / w), int(y1 * 224 / h)]
                 for x0, y0, x1, y1 in expected[f.frame_id]]
        assert rescale_boxes(f.boxes, f.size, 224).tolist() == brute
    multi = [f for f in split.frames if len(f.boxes) > 1]
    assert len(multi) == {"val": 18, "test": 38}[name] and max(len(f.boxes) for f in multi) == 4


def test_demo_split_holds_every_test_frame(real_v1_folds):
    demo = read_split(real_v1_folds, "test-video-demo")
    test = read_split(real_v1_folds, "test")
    assert len(demo.frames) == 134119 and len(demo.shots()) == 1284
    boxed = {f.frame_id: f.boxes.tolist() for f in demo.frames if len(f.boxes)}
    assert boxed == {f.frame_id: f.boxes.tolist() for f in test.frames}  # 0,0,0,0 lines: no box
