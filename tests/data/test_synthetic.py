"""The synthetic video dataset: determinism, fold files, boxes vs masks, splits, object sizes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from wsvol.data import synthetic
from wsvol.data.sprites import object_sprite
from wsvol.data.synthetic import BOX_AREA_RANGE, SIZES, generate_synthetic

YTO_IDS = {
    "aeroplane": 0,
    "bird": 1,
    "boat": 2,
    "car": 3,
    "cat": 4,
    "cow": 5,
    "dog": 6,
    "horse": 7,
    "motorbike": 8,
    "train": 9,
}
ID_RE = re.compile(r"^([a-z]+)/video-\d{4}/shot-\d{6}/frame_(\d{6})\.jpg$")
SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("syn") / "tiny"
    return root, generate_synthetic(root, seed=0, size="tiny", progress=False)


def _lines(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()]


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _video(fid: str) -> str:
    return "/".join(fid.split("/")[:2])


def test_same_seed_same_bytes_other_seed_differs(tiny, tmp_path, capsys):
    root, _ = tiny
    again = tmp_path / "again"
    generate_synthetic(again, seed=0, size="tiny", progress=True)
    assert "test" in capsys.readouterr().out  # the rich summary table was printed
    assert _hashes(again) == _hashes(root)
    other = tmp_path / "other"
    generate_synthetic(other, seed=1, size="tiny", progress=False)
    h0, h1 = _hashes(root), _hashes(other)
    frames0 = {v for k, v in h0.items() if k.endswith(".jpg")}
    frames1 = {v for k, v in h1.items() if k.endswith(".jpg")}
    assert not frames0 & frames1  # no frame of seed 1 equals one of seed 0


def test_fold_files_consistent_with_frames(tiny):
    root, summary = tiny
    folds = root / "folds"
    assert yaml.safe_load((folds / "class_id.yaml").read_text()) == YTO_IDS
    preset = SIZES["tiny"]
    W, H = preset.frame_size
    per_video = {
        "train": preset.train_shots * preset.train_frames,
        "val": preset.eval_shots * preset.eval_frames,
    }
    per_video["test"] = per_video["val"]
    n_videos = {"train": preset.train_videos, "val": preset.val_videos, "test": preset.test_videos}
    listed = set()
    for split in SPLITS:
        ids = (folds / split / "image_ids.txt").read_text().splitlines()
        assert len(ids) == len(set(ids)) == len(YTO_IDS) * n_videos[split] * per_video[split]
        assert [r[0] for r in _lines(folds / split / "class_labels.txt")] == ids
        assert [r[0] for r in _lines(folds / split / "image_sizes.txt")] == ids
        for fid, label in _lines(folds / split / "class_labels.txt"):
            m = ID_RE.match(fid)
            assert m, fid
            assert int(label) == YTO_IDS[m.group(1)]
        for fid, w, h in _lines(folds / split / "image_sizes.txt"):
            img = cv2.imread(str(root / fid))
            assert img is not None, fid
            assert (int(w), int(h)) == (img.shape[1], img.shape[0]) == (W, H)
        listed |= set(ids)
        s = summary["splits"][split]
        assert s["frames"] == len(ids)
        assert s["videos"] == len({_video(i) for i in ids})
        assert all(c["videos"] == n_videos[split] for c in s["per_class"].values())
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*.jpg")}
    assert on_disk == listed  # every frame is listed and every listed frame exists
    assert not (folds / "train" / "localization.txt").exists()


def test_boxes_are_mask_bounding_boxes(tiny):
    root, _ = tiny
    masks = set()
    for split in ("val", "test"):
        ids = (root / "folds" / split / "image_ids.txt").read_text().splitlines()
        boxes = _lines(root / "folds" / split / "localization.txt")
        assert [b[0] for b in boxes] == ids  # exactly one box per frame
        sizes = {
            r[0]: (int(r[1]), int(r[2])) for r in _lines(root / "folds" / split / "image_sizes.txt")
        }
        for fid, *coords in boxes:
            x0, y0, x1, y1 = map(int, coords)
            mask = cv2.imread(
                str(root / "masks" / fid.replace(".jpg", ".png")), cv2.IMREAD_UNCHANGED
            )
            assert mask.ndim == 2 and set(np.unique(mask)) <= {0, 255}
            ys, xs = np.nonzero(mask)
            assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max(), ys.max())
            W, H = sizes[fid]
            assert 0 <= x0 <= x1 < W and 0 <= y0 <= y1 < H
            masks.add(fid)
    assert masks == {
        str(p.relative_to(root / "masks")).replace(".png", ".jpg")
        for p in (root / "masks").rglob("*.png")
    }


def test_split_by_video_every_class_everywhere(tiny):
    root, _ = tiny
    videos = {}
    for split in SPLITS:
        ids = (root / "folds" / split / "image_ids.txt").read_text().splitlines()
        videos[split] = {_video(i) for i in ids}
        assert {v.split("/")[0] for v in videos[split]} == set(YTO_IDS)
    assert not videos["train"] & videos["val"]
    assert not videos["train"] & videos["test"]
    assert not videos["val"] & videos["test"]


def test_object_box_area_in_range_and_objects_move(tiny):
    root, _ = tiny
    for split in ("val", "test"):
        sizes = {
            r[0]: int(r[1]) * int(r[2]) for r in _lines(root / "folds" / split / "image_sizes.txt")
        }
        by_video: dict[str, list] = {}
        for fid, *coords in _lines(root / "folds" / split / "localization.txt"):
            x0, y0, x1, y1 = map(int, coords)
            frac = (x1 - x0 + 1) * (y1 - y0 + 1) / sizes[fid]
            assert BOX_AREA_RANGE[0] <= frac <= BOX_AREA_RANGE[1], (fid, frac)
            by_video.setdefault(_video(fid), []).append((x0, y0, x1, y1))
        moving = sum(len(set(b)) > 1 for b in by_video.values())
        assert moving >= 0.8 * len(by_video)


def _iou(a, b) -> float:
    """IoU of two (x0, y0, x1, y1) boxes with inclusive pixel coordinates."""
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(iw, 0) * max(ih, 0)
    area_a = (a[2] - a[0] + 1) * (a[3] - a[1] + 1)
    area_b = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inter / (area_a + area_b - inter)


def test_objects_spread_over_the_frame_and_sizes(tiny):
    """No fixed centred box localizes many objects: they go anywhere and come in all sizes."""
    root, _ = tiny
    W, H = SIZES["tiny"].frame_size
    boxes = np.array(
        [
            list(map(int, r[1:]))
            for split in ("val", "test")
            for r in _lines(root / "folds" / split / "localization.txt")
        ]
    )
    dx = (boxes[:, 0] + boxes[:, 2] + 1) / 2 / W - 0.5  # box centre relative to the frame's
    dy = (boxes[:, 1] + boxes[:, 3] + 1) / 2 / H - 0.5
    for left in (True, False):
        for top in (True, False):
            assert np.mean(((dx < 0) == left) & ((dy < 0) == top)) >= 0.1, (left, top)
    # a tenth of the centres lie outside the frame's central half (|offset| > a quarter side)
    assert np.mean((abs(dx) > 0.25) | (abs(dy) > 0.25)) >= 0.1
    best = 0.0
    for side in np.arange(0.05, 1.0001, 0.05):
        w, h = max(1, round(W * side)), max(1, round(H * side))
        x0, y0 = (W - w) // 2, (H - h) // 2
        hits = [_iou((x0, y0, x0 + w - 1, y0 + h - 1), b) >= 0.5 for b in boxes]
        best = max(best, float(np.mean(hits)))
    assert best <= 0.35, best
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1) / (W * H)
    assert np.mean(area < 0.35) > 0.5  # more small and medium objects than large ones
    assert area.min() < 0.15 and area.max() > 0.4


def test_patch_is_a_part_of_the_object():
    for name in YTO_IDS:
        for s in range(3):
            sp = object_sprite(name, np.random.default_rng(s))
            body = sp.alpha > 0.5
            assert not (sp.patch & ~body).any()
            assert 0.08 <= sp.patch.sum() / body.sum() <= 0.35, name
    with pytest.raises(ValueError, match="giraffe"):
        object_sprite("giraffe", np.random.default_rng(0))


def test_existing_output_and_interruption(tiny, tmp_path, monkeypatch):
    root, summary = tiny
    before = _hashes(root)
    assert generate_synthetic(root, seed=0, size="tiny", progress=False) == summary
    assert _hashes(root) == before
    with pytest.raises(FileExistsError, match="seed=0"):
        generate_synthetic(root, seed=3, size="tiny", progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.txt").write_text("x")
    with pytest.raises(FileExistsError, match="busy"):
        generate_synthetic(tmp_path / "busy", size="tiny", progress=False)

    calls = []

    def crash(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = synthetic.render_video
    monkeypatch.setattr(synthetic, "render_video", crash)
    target = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        generate_synthetic(target, size="tiny", progress=False)
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]  # no temporary folder left


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="huge"):
        generate_synthetic(tmp_path / "a", size="huge")
    with pytest.raises(ValueError, match="-1"):
        generate_synthetic(tmp_path / "a", seed=-1, size="tiny")
    assert not (tmp_path / "a").exists()


def test_a_rerun_removes_what_a_killed_generator_left(tmp_path):
    """``data synth`` killed mid-way leaves its temporary folder; the next generation removes it
    (its writer is dead), and leaves a live generator's alone."""
    import subprocess
    import sys

    from wsvol.utils.files import writer_tag

    host = writer_tag().split("-")[0]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / f".s.{host}-{dead.pid}.0a1b2c3d.tmp"
    (left / "aeroplane").mkdir(parents=True)
    mine = tmp_path / f".t.{writer_tag()}.0a1b2c3d.tmp"  # a live writer (this process)
    mine.mkdir()
    generate_synthetic(tmp_path / "s", size="tiny", progress=False)
    assert not left.exists() and mine.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s", mine.name])
