"""The fold dataset: item contract, determinism, masks, pseudo-labels and clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
from wsvol.data.dataset import FoldDataset, collate_frames
from wsvol.data.folds import DataError
from wsvol.data.frame_samplers import EpochIndex
from wsvol.data.transforms import Normalize, PackInputs, RandomCrop, RandomFlip, Resize

# (frame id, label, width, height, box)
FRAMES = [
    ("cat/video-0001/shot-000001/frame_000000.jpg", 4, 40, 30, (5, 6, 20, 25)),
    ("cat/video-0001/shot-000001/frame_000003.jpg", 4, 40, 30, (10, 2, 30, 20)),
    ("cat/video-0001/shot-000002/frame_000009.jpg", 4, 40, 30, (0, 0, 39, 29)),
    ("dog/video-0002/shot-000001/frame_000001.jpg", 6, 36, 48, (3, 4, 12, 40)),
]


def make_data(root: Path, split: str = "test", masks: bool = True) -> tuple[Path, Path]:
    """Frames with a white box drawn in, their fold files and (optionally) masks."""
    data, folds = root / "data", root / "folds"
    (folds / split).mkdir(parents=True)
    (folds / "class_id.yaml").write_text(yaml.safe_dump(YOUTUBE_OBJECTS_CLASS_MAP))
    rng = np.random.default_rng(0)
    for fid, _, w, h, (x0, y0, x1, y1) in FRAMES:
        img = rng.integers(0, 100, (h, w, 3), dtype=np.uint8)
        img[y0 : y1 + 1, x0 : x1 + 1] = 255
        (data / fid).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(data / fid), img, [cv2.IMWRITE_JPEG_QUALITY, 100])
        if masks:
            mask_path = (data / "masks" / fid).with_suffix(".png")
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(mask_path), (img[..., 0] == 255).astype(np.uint8) * 255)
    files = {
        "image_ids.txt": [f[0] for f in FRAMES],
        "class_labels.txt": [f"{f[0]},{f[1]}" for f in FRAMES],
        "image_sizes.txt": [f"{f[0]},{f[2]},{f[3]}" for f in FRAMES],
        "localization.txt": [f"{f[0]},{','.join(map(str, f[4]))}" for f in FRAMES],
    }
    for name, lines in files.items():
        (folds / split / name).write_text("\n".join(lines) + "\n")
    return data, folds


def test_item_follows_the_contract(tmp_path):
    data, folds = make_data(tmp_path)
    ds = FoldDataset(data, folds, "test", pipeline=[Resize((32, 32)), Normalize(), PackInputs()])
    assert len(ds) == 4 and ds.metainfo["classes"] == tuple(YOUTUBE_OBJECTS_CLASS_MAP)
    assert ds.shots == {
        "cat/video-0001/shot-000001": [0, 1],
        "cat/video-0001/shot-000002": [2],
        "dog/video-0002/shot-000001": [3],
    }
    assert ds.videos["cat/video-0001"] == [
        "cat/video-0001/shot-000001",
        "cat/video-0001/shot-000002",
    ]
    item = ds[3]
    assert set(item) == {"inputs", "data_samples"}
    assert item["inputs"].shape == (3, 32, 32) and item["inputs"].dtype == torch.float32
    s = item["data_samples"]
    assert s["frame_id"] == FRAMES[3][0] and s["video_id"] == "dog/video-0002"
    assert s["shot_id"] == "dog/video-0002/shot-000001" and s["gt_label"] == 6
    assert s["ori_size"] == (36, 48) and s["img_shape"] == (32, 32)
    np.testing.assert_array_equal(s["gt_boxes"], [FRAMES[3][4]])
    assert s["gt_mask"].dtype == bool and s["gt_mask"].shape == (48, 36)
    x0, y0, x1, y1 = FRAMES[3][4]
    assert (
        s["gt_mask"].sum() == (x1 - x0 + 1) * (y1 - y0 + 1)
        and s["gt_mask"][y0, x0]
        and not s["gt_mask"][0, 0]
    )
    assert ds.get_cat_ids(0) == [4]


def test_raw_item_is_the_rgb_frame(tmp_path):
    data, folds = make_data(tmp_path, masks=False)
    r = FoldDataset(data, folds, "test")[0]
    assert r["img"].shape == (30, 40, 3) and "gt_mask" not in r
    rgb = np.asarray(
        Image.open(data / FRAMES[0][0]).convert("RGB"), dtype=np.int16
    )  # an independent decoder
    assert np.abs(r["img"].astype(np.int16) - rgb).max() <= 2
    assert r["gt_label"] == 4 and r["ori_size"] == (40, 30) and r["img_shape"] == (30, 40)


def test_augmentation_is_deterministic_per_seed_epoch_index(tmp_path):
    data, folds = make_data(tmp_path)
    pipe = [Resize((24, 24)), RandomCrop(16), RandomFlip()]
    ds = FoldDataset(data, folds, "test", pipeline=pipe, seed=5)
    other = FoldDataset(data, folds, "test", pipeline=pipe, seed=5)

    def crops(d, epoch):
        return [d[EpochIndex(i, epoch)]["img"] for i in range(len(d))]

    for a, b in zip(crops(ds, 0), crops(other, 0)):
        np.testing.assert_array_equal(a, b)
    epochs = [np.stack(crops(ds, e)) for e in range(4)]
    assert any(not np.array_equal(epochs[0], e) for e in epochs[1:])
    ds.set_epoch(2)  # a plain int index uses the dataset's epoch
    np.testing.assert_array_equal(np.stack([ds[i]["img"] for i in range(len(ds))]), epochs[2])
    reseeded = FoldDataset(data, folds, "test", pipeline=pipe, seed=6)
    assert any(not np.array_equal(np.stack(crops(reseeded, e)), epochs[e]) for e in range(4))


def test_pseudo_map_follows_the_geometry(tmp_path):
    data, folds = make_data(tmp_path, masks=False)
    calls = []

    def reader(frame_id: str) -> np.ndarray:  # left quarter of the frame is foreground, at 8x8
        calls.append(frame_id)
        m = np.zeros((8, 8), np.float32)
        m[:, :2] = 1.0
        return m

    ds = FoldDataset(
        data,
        folds,
        "test",
        pseudo_label_reader=reader,
        pipeline=[Resize((20, 20)), RandomFlip(prob=1.0), PackInputs()],
    )
    s = ds[0]["data_samples"]
    assert calls == [FRAMES[0][0]]
    pm = s["pseudo_map"]
    assert isinstance(pm, torch.Tensor) and pm.shape == (20, 20)
    assert pm[:, -3:].min() > 0.99 and pm[:, :13].max() < 0.01  # flipped: foreground on the right

    ds = FoldDataset(data, folds, "test", pseudo_label_reader=lambda fid: np.full((4, 4), 2.0))
    with pytest.raises(DataError, match="pseudo-label of 'cat/video-0001"):
        ds[0]


def test_unreadable_and_resized_frames_raise_naming_the_file(tmp_path):
    data, folds = make_data(tmp_path)
    (data / FRAMES[1][0]).write_bytes(b"not a jpeg")
    cv2.imwrite(str(data / FRAMES[2][0]), np.zeros((10, 10, 3), np.uint8))
    ds = FoldDataset(data, folds, "test")
    with pytest.raises(DataError, match=f"{data / FRAMES[1][0]}: cannot read the image"):
        ds[1]
    with pytest.raises(DataError, match="is 10x10 but image_sizes.txt says 40x30"):
        ds[2]
    with pytest.raises(DataError, match="1 unreadable, 1 of the wrong size"):
        FoldDataset(data, folds, "test", check_files=True)
    (data / FRAMES[3][0]).unlink()
    with pytest.raises(DataError, match="1 missing"):
        FoldDataset(data, folds, "test", check_files=True)


def test_invalid_folds_fail_at_build(tmp_path):
    data, folds = make_data(tmp_path)
    with pytest.raises(DataError, match="split 'val' not found"):
        FoldDataset(data, folds, "val")
    with pytest.raises(DataError, match="unknown class id '4'"):
        FoldDataset(data, folds, "test", class_map={"a": 0, "b": 1})
    with pytest.raises(TypeError, match="pipeline entries"):
        FoldDataset(data, folds, "test", pipeline=[3])


def test_collate_keeps_one_dict_per_frame(tmp_path):
    data, folds = make_data(tmp_path)
    ds = FoldDataset(data, folds, "test", pipeline=[Resize((16, 16)), Normalize(), PackInputs()])
    batch = collate_frames([ds[i] for i in range(3)])
    assert [x.shape for x in batch["inputs"]] == [(3, 16, 16)] * 3
    assert [s["frame_id"] for s in batch["data_samples"]] == [f[0] for f in FRAMES[:3]]
    assert batch["data_samples"][0]["ori_size"] == (40, 30)


def test_a_split_of_shot_folders_reads_each_frames_own_size(tmp_path):
    from wsvol.data.frame_samplers import ShotSampler

    data, folds = tmp_path / "data", tmp_path / "folds"
    shots = {"cat/data/0001/shots/001": (40, 30), "cat/data/0001/shots/002": (40, 30), "dog/data/0007/shots/003": (26, 18)}
    (folds / "train").mkdir(parents=True)
    (folds / "class_id.yaml").write_text(yaml.safe_dump(YOUTUBE_OBJECTS_CLASS_MAP))
    (folds / "train" / "image_ids.txt").write_text("".join(f"{s}\n" for s in shots))
    (folds / "train" / "class_labels.txt").write_text("".join(f"{s},{4 if s[0] == 'c' else 6}\n" for s in shots))
    for s, (w, h) in shots.items():
        (data / s).mkdir(parents=True)
        for k in (2, 1, 3):
            cv2.imwrite(str(data / s / f"frame{k:04d}.jpg"), np.full((h, w, 3), 40 * k, np.uint8))
    ds = FoldDataset(data, folds, "train", pipeline=[Resize((16, 16)), PackInputs()])
    assert len(ds) == 9 and list(ds.shots) == list(shots)
    assert ds.videos == {"cat/data/0001": list(shots)[:2], "dog/data/0007": list(shots)[2:]}
    s = ds[8]["data_samples"]
    assert s["frame_id"] == "dog/data/0007/shots/003/frame0003.jpg" and s["ori_size"] == (26, 18)
    assert s["shot_id"] == "dog/data/0007/shots/003" and s["video_id"] == "dog/data/0007" and s["gt_label"] == 6
    picks = list(ShotSampler(ds, seed=0))
    assert sorted(ds.frames[i].shot_id for i in picks) == sorted(shots)  # one frame of every shot


@pytest.mark.parametrize("damage", ["corrupt", "wrong size"])
def test_a_bad_mask_is_named(tmp_path, damage):
    data, folds = make_data(tmp_path)
    mask = (data / "masks" / FRAMES[0][0]).with_suffix(".png")
    if damage == "corrupt":
        mask.write_bytes(mask.read_bytes()[:20])
        expected = f"{mask}: cannot read the image"
    else:
        cv2.imwrite(str(mask), np.zeros((7, 9), np.uint8))
        expected = f"{mask}: mask is 9x7, expected 40x30"
    ds = FoldDataset(data, folds, "test")
    with pytest.raises(DataError, match=expected):
        ds[0]
    assert "gt_mask" in ds[1]  # the other frames still read
