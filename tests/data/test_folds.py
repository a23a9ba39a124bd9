"""Reading and validating fold splits (frames and shot folders); the split summary."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from rich.console import Console

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
from wsvol.data.fold_files import DataError, read_class_map
from wsvol.data.folds import read_split
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
    bad = "aeroplane/../frame.jpg"  # leaves its folder
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
        f"{d / 'image_ids.txt'}:4: frame id {bad!r} is not a relative path under the data root",
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


# -- splits that list shot folders (TCAM's training splits) -------------------------------------
SHOTS = ["cat/data/0002/shots/010", "cat/data/0002/shots/002", "dog/data/0001/shots/001"]


def shot_files(shots=SHOTS, labels=(4, 4, 6)) -> dict[str, str]:
    return {  # no image_sizes.txt / localization.txt: colo-cam's v2.2 train folders ship none
        "image_ids.txt": "".join(f"{s}\n" for s in shots),
        "class_labels.txt": "".join(f"{s},{lb}\n" for s, lb in zip(shots, labels)),
    }


def make_shots(root, frames: dict[str, list[str]]):
    for shot, names in frames.items():
        (root / shot).mkdir(parents=True, exist_ok=True)
        for n in names:
            (root / shot / n).write_bytes(b"")  # never opened while reading the split


def test_shot_entries_expand_to_the_frames_on_disk(tmp_path):
    folds, data = tmp_path / "folds", tmp_path / "data"
    write_split(folds, "train", shot_files())
    split = read_split(folds, "train")
    assert split.lists_shots and [(e.entry_id, e.line, e.label) for e in split.entries] == [
        (SHOTS[0], 1, 4), (SHOTS[1], 2, 4), (SHOTS[2], 3, 6)]
    with pytest.raises(DataError, match=r"lists shot folders \(.*image_ids.txt:1 .*read it with its data_root"):
        _ = split.frames
    assert split_counts(split)["cat"] == {"frames": None, "videos": 1, "shots": 2, "boxes": 0, "boxed frames": 0}
    make_shots(data, {SHOTS[0]: ["frame0003.jpg", "frame0001.jpg", "frame0001.jpg_sticks.mat"],
                      SHOTS[1]: ["frame0002.jpg"], SHOTS[2]: ["frame0010.jpg", "frame0009.jpg"]})
    full = read_split(folds, "train", data_root=data)
    assert [f.frame_id for f in full.frames] == [
        f"{SHOTS[0]}/frame0001.jpg", f"{SHOTS[0]}/frame0003.jpg", f"{SHOTS[1]}/frame0002.jpg",
        f"{SHOTS[2]}/frame0009.jpg", f"{SHOTS[2]}/frame0010.jpg"]
    assert [f.label for f in full.frames] == [4, 4, 4, 6, 6]
    assert all(f.size is None and f.boxes.shape == (0, 4) for f in full.frames)
    assert full.shots() == {SHOTS[0]: [0, 1], SHOTS[1]: [2], SHOTS[2]: [3, 4]}
    assert full.videos() == {"cat/data/0002": SHOTS[:2], "dog/data/0001": SHOTS[2:]}
    assert [f.frame_id for f in split.expand(data).frames] == [f.frame_id for f in full.frames]
    assert split_counts(full)["dog"] == {"frames": 2, "videos": 1, "shots": 1, "boxes": 0, "boxed frames": 0}


def test_missing_or_empty_shot_folders_name_the_shot_and_the_line(tmp_path):
    folds, data = tmp_path / "folds", tmp_path / "data"
    write_split(folds, "train", shot_files())
    make_shots(data, {SHOTS[0]: ["f1.jpg"], SHOTS[1]: ["notes.txt"]})
    with pytest.raises(DataError) as info:
        read_split(folds, "train", data_root=data)
    ids = folds / "train" / "image_ids.txt"
    assert info.value.problems == [
        f"{ids}:2: shot folder {data / SHOTS[1]} holds no frames (no jpg/jpeg/png/bmp/tif/tiff/webp file)",
        f"{ids}:3: shot folder {data / SHOTS[2]} does not exist"]


def test_shot_folders_have_no_sizes_boxes_or_place_in_evaluation(tmp_path):
    files = shot_files()
    files["image_ids.txt"] += f"{A}\n"
    files["class_labels.txt"] += f"{A},0\n"
    files["image_sizes.txt"] = f"{A},64,48\n{SHOTS[0]},64,48\n"
    files["localization.txt"] = f"{A},1,2,30,40\n{SHOTS[1]},1,2,3,4\n"
    write_split(tmp_path, "val", files)
    with pytest.raises(DataError) as info:
        read_split(tmp_path, "val")
    d = tmp_path / "val"
    assert info.value.problems == [
        f"{d / 'image_sizes.txt'}:2: {SHOTS[0]!r} is a shot folder (image_ids.txt:1): the sizes of its "
        "frames are read from the images",
        f"{d / 'localization.txt'}:2: {SHOTS[1]!r} is a shot folder (image_ids.txt:2): boxes belong to frames",
    ] + [f"{d / 'image_ids.txt'}:{n}: evaluation split lists shot folder {s!r}: evaluation needs frames with boxes"
         for n, s in enumerate(SHOTS, 1)]


def test_a_frame_listed_and_found_in_a_listed_shot(tmp_path):
    folds, data = tmp_path / "folds", tmp_path / "data"
    frame = f"{SHOTS[2]}/frame0001.jpg"
    files = shot_files()
    files["image_ids.txt"] += f"{frame}\n"
    files["class_labels.txt"] += f"{frame},6\n"
    files["image_sizes.txt"] = f"{frame},8,6\n"
    write_split(folds, "train", files)
    make_shots(data, {SHOTS[0]: ["a.jpg"], SHOTS[1]: ["a.jpg"], SHOTS[2]: ["frame0001.jpg"]})
    with pytest.raises(DataError, match=f"image_ids.txt:3: frame {frame!r} of this shot folder is also listed on line 4"):
        read_split(folds, "train", data_root=data)


def test_frames_of_any_depth_and_null_boxes(tmp_path):
    deep = "x/y/z/w/clip/shots/7/frame0001.jpg"
    write_split(tmp_path, "test-video-demo", {
        "image_ids.txt": f"{deep}\n{A}\n",
        "class_labels.txt": f"{deep},1\n{A},0\n",
        "image_sizes.txt": f"{deep},10,10\n{A},64,48\n",
        "localization.txt": f"{deep},0.0,0.0,0.0,0.0\n{A},1,2,3,4\n",  # TCAM's null box: no annotation
    })
    split = read_split(tmp_path, "test-video-demo")
    assert split.frames[0].video_id == "x/y/z/w/clip" and split.frames[0].boxes.shape == (0, 4)
    assert split.frames[1].boxes.tolist() == [[1, 2, 3, 4]] and split.frames[1].boxes.dtype == np.float64
    with pytest.raises(DataError, match="has no box"):
        read_split(tmp_path, "test-video-demo", require_boxes=True)
