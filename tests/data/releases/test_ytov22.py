"""``prepare_ytov22`` on a stand-in v2.2 release built in the release's own layout: val = the
first 3 training videos in ranges order, train = the other training videos' shots (TCAM's seeded
order), test = bb_gtTest frames in file order, boxes clamped at 0 and otherwise kept, the frame
tree linked, copied or not placed."""

from __future__ import annotations

import os
import random

import pytest
from release_trees import write_v22_release  # beside this file (pytest puts its folder on sys.path)

from wsvol.data.fold_files import DataError
from wsvol.data.folds import read_split
from wsvol.data.releases import prepare_ytov22

# aeroplane: videos in ranges order 4, 2, 5, 1, 3 (two shots of 3 frames each); 4, 2, 5, 1 have a
# training box, 3 test boxes. Frame numbers run over the class.
AERO = [(4, 1, 3), (4, 4, 6), (2, 7, 9), (2, 10, 12), (5, 13, 15), (5, 16, 18), (1, 19, 21), (1, 22, 24),
        (3, 25, 27), (3, 28, 30)]


def _release(root):
    shots = {"aeroplane": AERO, "horse": [(1, 1, 3), (2, 10, 12), (2, 12, 14)]}  # horse frame 12 in two shots
    gt = {
        "aeroplane": {
            "bb_gtTraining": [(5, [[10, 20, 300, 200]]), (8, [[-3, 5, 639, 400]]), (14, [[1, 1, 640, 480]]),
                              (13, [[2, 2, 40, 40]]), (20, [[5, 6, 7, 8]])],
            "bb_gtTest": [(29, [[1, 2, 30, 40], [50, 60, 70, 80]]), (25, [[3, 3, 9, 9]])],
        },
        "horse": {"bb_gtTraining": [(2, [[1, 1, 5, 5]])], "bb_gtTest": [(12, [[2, 2, 6, 6]])]},
    }
    sizes = {("aeroplane", v): (640, 480) for v in (1, 2, 4, 5)} | {("aeroplane", 3): (1280, 720),
                                                                     ("horse", 1): (320, 240), ("horse", 2): (320, 240)}
    return write_v22_release(root, shots, gt, sizes)


def _lines(path):
    return path.read_text().splitlines()


def test_folds_and_frame_tree(tmp_path):
    release = _release(tmp_path / "YouTube-Objects-v2.2-original")
    out, data = tmp_path / "folds", tmp_path / "YouTube-Objects-v2.2"
    with pytest.warns(UserWarning, match=r"horse: frames \[12\] belong to two shots"):
        counts = prepare_ytov22(release, out, data, progress=False)
    assert counts == {"train": 2, "val": 5, "test": 3}
    a = "aeroplane/video-{:04d}/shot-{:06d}/{:08d}.jpg".format
    assert _lines(out / "val" / "localization.txt") == [  # videos 4, 2, 5 (ranges order), frames ascending
        f"{a(4, 1, 5)},10,20,300,200", f"{a(2, 2, 8)},0,5,639,400", f"{a(5, 4, 13)},2,2,40,40",
        f"{a(5, 4, 14)},1,1,640,480",  # 1-based inclusive: x1 reaches the width, kept as in the release
        "horse/video-0001/shot-000000/00000002.jpg,1,1,5,5"]
    assert _lines(out / "val" / "image_sizes.txt")[0] == f"{a(4, 1, 5)},640,480"
    assert _lines(out / "test" / "localization.txt") == [  # bb_gtTest order, boxes of a frame together
        f"{a(3, 9, 29)},1,2,30,40", f"{a(3, 9, 29)},50,60,70,80", f"{a(3, 8, 25)},3,3,9,9",
        "horse/video-0002/shot-000002/00000012.jpg,2,2,6,6"]  # the later of the two shots
    pre_shuffle = ["aeroplane/video-0001/shot-000006", "aeroplane/video-0001/shot-000007"]
    random.seed(0)  # TCAM: set_seed(0), then 10 000 shuffles of the train entries
    for _ in range(10_000):
        random.shuffle(pre_shuffle)
    assert _lines(out / "train" / "image_ids.txt") == pre_shuffle
    assert _lines(out / "train" / "class_labels.txt") == [f"{s},0" for s in pre_shuffle]
    assert _lines(out / "train" / "image_sizes.txt") == [] and _lines(out / "train" / "localization.txt") == []
    # the horse val video is its first (and only) training video; it goes to val, not train
    assert "horse/video-0001/shot-000000/00000002.jpg" in _lines(out / "val" / "image_ids.txt")
    # every frame of every shot is in the data root, hard-linked to the release's
    src, dst = release / "aeroplane" / "00000029.jpg", data / a(3, 9, 29)
    assert os.stat(src).st_ino == os.stat(dst).st_ino
    assert (data / "horse/video-0002/shot-000001/00000012.jpg").is_file()
    assert (data / "horse/video-0002/shot-000002/00000012.jpg").is_file()
    train = read_split(out, "train", data_root=data)
    assert [f.frame_id for f in train.frames] == [f"{s}/{n:08d}.jpg" for s in pre_shuffle
                                                  for n in range(int(s[-1]) * 3 + 1, int(s[-1]) * 3 + 4)]
    assert read_split(out, "test").frames[0].boxes.tolist() == [[1, 2, 30, 40], [50, 60, 70, 80]]
    # again: frames already in place are kept, folds are not replaced without overwrite
    with pytest.raises(DataError, match="holds folds already"), pytest.warns(UserWarning):
        prepare_ytov22(release, out, data, progress=False)


@pytest.mark.parametrize("mode", ["copy", "symlink", "none"])
def test_frame_modes(tmp_path, mode):
    release = _release(tmp_path / "release")
    data = tmp_path / "data"
    with pytest.warns(UserWarning):
        prepare_ytov22(release, tmp_path / "folds", None if mode == "none" else data, frames=mode, demo=True,
                       progress=False)
    dst = data / "aeroplane/video-0003/shot-000009/00000029.jpg"
    if mode == "none":
        assert not data.exists()
    else:
        assert dst.read_bytes() == (release / "aeroplane" / "00000029.jpg").read_bytes()
        assert dst.is_symlink() == (mode == "symlink")
    demo = read_split(tmp_path / "folds", "test-video-demo")
    # every frame of the test videos (horse frame 12 in both of its shots, boxed in the later one)
    assert len(demo.frames) == 6 + 6 and sum(len(f.boxes) for f in demo.frames) == 4
    assert [len(f.boxes) for f in demo.frames if f.frame_id.endswith("00000012.jpg")] == [0, 1]


def test_release_errors(tmp_path):
    with pytest.raises(DataError, match="is not the YouTube-Objects v2.2 release folder"):
        prepare_ytov22(tmp_path, tmp_path / "folds", frames="none", progress=False)
    release = write_v22_release(tmp_path / "r1", {"cat": [(1, 1, 2)]},
                                {"cat": {"bb_gtTraining": [(7, [[1, 1, 5, 5]])]}}, {("cat", 1): (32, 24)})
    with pytest.raises(DataError, match=r"bb_gtTraining_cat.mat \(bb_gtTraining record 1, frame cat00000007\): "
                                        "the frame is in no shot of ranges_cat.mat"):
        prepare_ytov22(release, tmp_path / "folds", frames="none", progress=False)
    release = write_v22_release(tmp_path / "r2", {"cat": [(1, 1, 2)]},
                                {"cat": {"bb_gtTraining": [(1, [[1, 1, 5, 5]])], "bb_gtTest": [(2, [[1, 1, 5, 5]])]}},
                                {("cat", 1): (32, 24)})
    with pytest.raises(DataError, match="shot 0 holds frames of both bb_gtTraining and bb_gtTest"):
        prepare_ytov22(release, tmp_path / "folds", frames="none", progress=False)
    release = write_v22_release(tmp_path / "r3", {"cat": [(1, 1, 2)]},
                                {"cat": {"bb_gtTraining": [(1, [[1, 1, 40, 5]])]}}, {("cat", 1): (32, 24)})
    with pytest.raises(DataError, match=r"\(box 1\): box \[1, 1, 40, 5\] is empty, reversed or wider than the 32x24"):
        prepare_ytov22(release, tmp_path / "folds", frames="none", progress=False)
    release = write_v22_release(tmp_path / "r4", {"cat": [(1, 1, 3)]},
                                {"cat": {"bb_gtTraining": [(1, [[1, 1, 5, 5]])]}}, {("cat", 1): (32, 24)})
    (release / "cat" / "00000003.jpg").unlink()
    with pytest.raises(DataError, match=f"1 frames that the ranges name are missing from the release "
                                        f"\\(first: {release / 'cat' / '00000003.jpg'}\\)"):
        prepare_ytov22(release, tmp_path / "folds", frames="none", progress=False)


def test_every_class_is_needed(tmp_path):
    release = write_v22_release(tmp_path / "r", {}, {}, {})
    (release / "Ranges" / "ranges_train.mat").unlink()
    with pytest.raises(DataError, match="ranges_train.mat"):
        prepare_ytov22(release, tmp_path / "folds", frames="none", progress=False)
