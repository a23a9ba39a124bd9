"""Stand-in frames for fold files: every listed frame at its listed size with its class's object
inside each true box, a few frames in every listed shot folder, a marker; fast on the real folds."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import yaml

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
from wsvol.data.dataset import FoldDataset
from wsvol.data.fold_files import DataError
from wsvol.data.folds import read_split
from wsvol.data.frame_check import check_files
from wsvol.data.standin import MARKER, _background, _rng, render_standin, subset_folds

V = "cow/data/0003/shots/007/frame0021.jpg"
W = "cow/data/0003/shots/009/frame0001.jpg"
SHOT = "dog/data/0011/shots/002"


def _folds(root):
    (root / "val").mkdir(parents=True)
    (root / "train").mkdir()
    (root / "class_id.yaml").write_text(yaml.safe_dump(YOUTUBE_OBJECTS_CLASS_MAP))
    (root / "val" / "image_ids.txt").write_text(f"{V}\n{W}\n")
    (root / "val" / "class_labels.txt").write_text(f"{V},5\n{W},5\n")
    (root / "val" / "image_sizes.txt").write_text(f"{V},320,180\n{W},160,120\n")
    (root / "val" / "localization.txt").write_text(f"{V},100.5,40.25,219.75,150.0\n{W},10,10,60,50\n{W},90,60,150,110\n")
    (root / "train" / "image_ids.txt").write_text(f"{SHOT}\n")
    (root / "train" / "class_labels.txt").write_text(f"{SHOT},6\n")
    return root


def test_frames_at_their_sizes_with_objects_in_the_boxes(tmp_path):
    folds, data = _folds(tmp_path / "folds"), tmp_path / "data"
    written = render_standin(folds, data, splits=["train", "val"], frames_per_shot=2, progress=False)
    assert written == {"train": 2, "val": 2}
    val = read_split(folds, "val")
    assert check_files(val, data, progress=False).ok  # present, decodable, of the listed sizes
    assert sorted(p.name for p in (data / SHOT).iterdir()) == ["frame0001.jpg", "frame0002.jpg"]  # named like v1.0
    train = read_split(folds, "train", data_root=data)
    assert len(train.frames) == 2 and train.frames[0].size is None
    # the object covers the true box and nothing far outside it
    frame = val.frames[0]
    img = cv2.imread(str(data / V)).astype(np.int16)  # channels as rendered
    background = _background(frame.size, _rng(0, "background", frame.video_id)).astype(np.int16)
    changed = np.abs(img - background).max(2) > 48
    ys, xs = np.nonzero(changed)
    x0, y0, x1, y1 = frame.boxes[0]
    assert xs.min() >= x0 - 8 and xs.max() <= x1 + 8 and ys.min() >= y0 - 8 and ys.max() <= y1 + 8  # JPEG blocks
    assert changed[int(y0):int(y1) + 1, int(x0):int(x1) + 1].mean() > 0.3
    marker = yaml.safe_load((data / MARKER).read_text())
    assert marker["splits"] == {"train": 2, "val": 2} and "not the real dataset" in marker["what"]
    render_standin(folds, data, splits=["val"], progress=False)  # again: its own folder, replaced


def test_never_writes_over_a_folder_of_real_frames(tmp_path):
    folds, data = _folds(tmp_path / "folds"), tmp_path / "real"
    (data / "cow").mkdir(parents=True)
    with pytest.raises(DataError, match="holds files and no wsvol-standin.json"):
        render_standin(folds, data, splits=["val"], progress=False)
    assert not (data / V).exists()


def test_the_real_v1_folds_in_seconds(tmp_path, real_v1_folds):
    data = tmp_path / "frames"
    start = time.perf_counter()
    written = render_standin(real_v1_folds, data, frames_per_shot=1, progress=False)
    seconds = time.perf_counter() - start
    assert written == {"train": 2768, "val": 325, "test": 346}
    print(f"stand-in frames of the real v1.0 folds: {sum(written.values())} files in {seconds:.1f} s")
    for name in ("val", "test"):
        assert check_files(read_split(real_v1_folds, name), data, decode=False, progress=False).ok
    train = FoldDataset(data, real_v1_folds, "train")
    assert len(train) == 2768 and len(train.shots) == 2768
    item = train[0]
    val_sizes = {f.size for f in read_split(real_v1_folds, "val").frames if f.label == item["gt_label"]}
    assert item["ori_size"] in val_sizes  # train frames take a size of their class's listed frames


def test_subset_keeps_the_chosen_entries_lines_verbatim(tmp_path):
    folds = _folds(tmp_path / "folds")
    (folds / "val" / "localization.txt").write_text(f"{V},100.50,40.25,219.75,150.0\n{W},10,10,60,50\n{W},90,60,150,110\n")
    assert subset_folds(folds, tmp_path / "one", per_class=1, splits=["val", "train"]) == {"val": 1, "train": 1}
    assert (tmp_path / "one" / "val" / "image_ids.txt").read_text() == f"{V}\n"  # the first of its class
    assert (tmp_path / "one" / "val" / "localization.txt").read_text() == f"{V},100.50,40.25,219.75,150.0\n"
    assert (tmp_path / "one" / "train" / "image_ids.txt").read_text() == f"{SHOT}\n"
    assert (tmp_path / "one" / "class_id.yaml").read_bytes() == (folds / "class_id.yaml").read_bytes()
    subset_folds(folds, tmp_path / "two", per_class=2, splits=["val"])
    for name in ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"):  # all of it
        assert (tmp_path / "two" / "val" / name).read_text() == (folds / "val" / name).read_text()
    with pytest.raises(DataError, match="would replace the fold files"):
        subset_folds(folds, folds, per_class=1, splits=["val"])


def test_subset_of_the_real_v1_folds(tmp_path, real_v1_folds):
    out = tmp_path / "subset"
    kept = subset_folds(real_v1_folds, out, per_class=3, at_most={"val": 4})
    assert kept == {"train": 30, "val": 4, "test": 30}
    for name in ("train", "val", "test"):
        full, part = read_split(real_v1_folds, name), read_split(out, name)
        labels = [e.label for e in part.entries]
        counts = {c: labels.count(c) for c in set(labels)}
        if name == "val":  # the classes in turn: 4 entries of 4 classes
            assert sorted(counts) == [0, 1, 2, 3] and set(counts.values()) == {1}
        else:
            assert counts == {c: 3 for c in range(10)}
        for file in ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"):
            whole = (full.directory / file).read_text().splitlines()
            lines = (part.directory / file).read_text().splitlines()
            ids = {e.entry_id for e in part.entries}
            assert lines == [line for line in whole if line.split(",")[0] in ids]  # verbatim, in order
        for e in part.entries:
            if not e.is_shot:
                assert np.array_equal(part.listed[e.entry_id].boxes, full.listed[e.entry_id].boxes)
    first = [e.entry_id for e in read_split(out, "test").entries if e.label == 0]
    every = [e.entry_id for e in read_split(real_v1_folds, "test").entries if e.label == 0]
    assert first == [every[0], every[round((len(every) - 1) / 2)], every[-1]]  # spread over the class's entries
