"""Reading, validating and checking fold splits; the split summary."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from PIL import Image
from rich.console import Console

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
from wsvol.data.folds import (
    DataError,
    check_files,
    read_class_map,
    read_split,
)
from wsvol.data.summary import split_counts, split_table

A = "aeroplane/video-0001/shot-000001/frame_000001.jpg"
B = "aeroplane/video-0001/shot-000002/frame_000007.jpg"
C = "cat/video-0003/shot-000001/frame_000004.jpg"


def write_split(root, split, files: dict[str, str], class_map=YOUTUBE_OBJECTS_CLASS_MAP):
    """Write fold files verbatim (name → text) and the class map."""
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / "class_id.yaml").write_text(yaml.safe_dump(class_map))
    for name, text in files.items():
        (root / split / name).write_text(text)


def good_files() -> dict[str, str]:
    return {
        "image_ids.txt": f"{A}\n{B}\n{C}\n",
        "class_labels.txt": f"{A},0\n{B},0\n{C},4\n",
        "image_sizes.txt": f"{A},64,48\n{B},64,48\n{C},32,40\n",
        "localization.txt": f"{A},1,2,30,40\n{A},10,10,63,47\n{B},0,0,5,5\n{C},3,4,20,30\n",
    }


def test_reads_frames_sizes_and_boxes(tmp_path):
    write_split(tmp_path, "test", good_files())
    split = read_split(tmp_path, "test")
    assert [f.frame_id for f in split.frames] == [A, B, C]
    a, b, c = split.frames
    assert (a.label, a.size, c.label, c.size) == (0, (64, 48), 4, (32, 40))
    np.testing.assert_array_equal(a.boxes, [[1, 2, 30, 40], [10, 10, 63, 47]])
    assert a.video_id == "aeroplane/video-0001" and a.shot_id == "aeroplane/video-0001/shot-000001"
    assert split.shots() == {a.shot_id: [0], b.shot_id: [1], c.shot_id: [2]}
    assert split.videos() == {
        "aeroplane/video-0001": [a.shot_id, b.shot_id],
        "cat/video-0003": [c.shot_id],
    }
    assert split.class_names[:3] == ["aeroplane", "bird", "boat"]


def test_train_split_needs_no_boxes(tmp_path):
    files = good_files()
    del files["localization.txt"]
    write_split(tmp_path, "train", files)
    assert all(len(f.boxes) == 0 for f in read_split(tmp_path, "train").frames)
    write_split(tmp_path, "val", files)
    with pytest.raises(DataError, match="localization.txt: missing file"):
        read_split(tmp_path, "val")


def test_all_problems_reported_with_file_and_line(tmp_path):
    bad = "aeroplane/video-0001/frame.jpg"  # three parts
    files = {
        "image_ids.txt": f"{A}\n{B}\n{A}\n{bad}\n{C}\n",
        "class_labels.txt": f"{A},0\n{B},12\n{C},3\nzzz/v/s/f.jpg,1\n",
        "image_sizes.txt": f"{A},64,48\n{B},64\n{C},32,40\n",
        "localization.txt": f"{A},1,2,70,40\n{B},9,0,5,5\n{A},1,2,30,40\n{B},0,0,5,5\n",
    }
    write_split(tmp_path, "val", files)
    with pytest.raises(DataError) as info:
        read_split(tmp_path, "val")
    msg, d = str(info.value), tmp_path / "val"
    expected = [
        f"{d / 'image_ids.txt'}:3: duplicated frame id",
        f"{d / 'image_ids.txt'}:4: frame id {bad!r} is not of the form",
        f"{d / 'class_labels.txt'}:2: unknown class id '12'",
        f"{d / 'class_labels.txt'}:3: frame {C!r} is in folder 'cat' but labelled 3 (car)",
        f"{d / 'class_labels.txt'}:4: frame 'zzz/v/s/f.jpg' is not listed in image_ids.txt",
        f"{d / 'image_sizes.txt'}:2: expected 3 comma-separated fields",
        f"{d / 'image_ids.txt'}:2: frame {B!r} has no line in image_sizes.txt",
        f"{d / 'localization.txt'}:1: box [1.0, 2.0, 70.0, 40.0] is outside the 64x48 frame",
        f"{d / 'localization.txt'}:2: box [9.0, 0.0, 5.0, 5.0] has x1 < x0",
        f"{d / 'image_ids.txt'}:5: evaluation frame {C!r} has no box",
    ]
    for line in expected:
        assert line in msg, line
    assert len(info.value.problems) == len(expected)


def test_many_problems_are_truncated(tmp_path):
    ids = [f"cat/video-0001/shot-000001/frame_{i:06d}.jpg" for i in range(30)]
    write_split(
        tmp_path,
        "train",
        {
            "image_ids.txt": "".join(f"{i}\n" for i in ids),
            "class_labels.txt": "".join(f"{i},99\n" for i in ids),
            "image_sizes.txt": "".join(f"{i},5,5\n" for i in ids),
        },
    )
    with pytest.raises(DataError) as info:
        read_split(tmp_path, "train")
    assert len(info.value.problems) == 30 and "... and 10 more" in str(info.value)
    assert str(info.value).count("unknown class id") == 20


def test_video_with_two_classes_and_empty_split(tmp_path):
    other = "aeroplane/video-0001/shot-000003/frame_000001.jpg"
    write_split(
        tmp_path,
        "train",
        {
            "image_ids.txt": f"{A}\n{other}\n",
            "class_labels.txt": f"{A},0\n{other},1\n",
            "image_sizes.txt": f"{A},8,8\n{other},8,8\n",
        },
    )
    with pytest.raises(DataError, match="has frames of two classes"):
        read_split(tmp_path, "train")
    write_split(
        tmp_path,
        "test",
        {
            n: ""
            for n in ["image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt"]
        },
    )
    with pytest.raises(DataError, match="the split is empty"):
        read_split(tmp_path, "test")
    with pytest.raises(DataError, match="splits there: \\['test', 'train'\\]"):
        read_split(tmp_path, "val")


def test_class_map_validation(tmp_path):
    (tmp_path / "c.yaml").write_text("cat: 0\ndog: 2\n")
    with pytest.raises(DataError, match="indices must be 0..1"):
        read_class_map(tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text("cat: 0\ndog: [1\n")
    with pytest.raises(DataError, match="c.yaml:3"):
        read_class_map(tmp_path / "c.yaml")
    assert read_class_map(_yaml(tmp_path, YOUTUBE_OBJECTS_CLASS_MAP)) == YOUTUBE_OBJECTS_CLASS_MAP


def _yaml(tmp_path, data):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


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


def test_summary_counts(tmp_path):
    write_split(tmp_path, "test", good_files())
    split = read_split(tmp_path, "test")
    counts = split_counts(split)
    assert counts["aeroplane"] == {
        "frames": 2,
        "videos": 1,
        "shots": 2,
        "boxes": 3,
        "boxed frames": 2,
    }
    assert counts["cat"] == {"frames": 1, "videos": 1, "shots": 1, "boxes": 1, "boxed frames": 1}
    assert counts["dog"]["frames"] == 0
    console = Console(record=True, width=120)
    console.print(split_table(split))
    total = next(line for line in console.export_text().splitlines() if "total" in line)
    assert [t for t in total.split() if t.isdigit()] == ["3", "2", "3", "4", "3"]
