"""CAM-TMP (`temporal_max`) against a brute force on hand-built shots, and in the fold dataset."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import yaml

from wsvol.config import ConfigError, check_config
from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
from wsvol.data.dataset import FoldDataset
from wsvol.data.pseudo_label_transforms import TemporalMax
from wsvol.data.transforms import PackInputs

# shot → its frame ids, deliberately not in sorted order (the windows follow the sorted order)
SHOTS = {
    "cat/data/0001/shots/001": ["frame0003.jpg", "frame0001.jpg", "frame0010.jpg", "frame0002.jpg", "frame0007.jpg"],
    "cat/data/0001/shots/002": ["frame0001.jpg", "frame0002.jpg"],
    "dog/data/0007/shots/003": ["frame0005.jpg"],
}


def stored_maps(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"{s}/{f}": rng.random((3, 4)).astype(np.float32) for s, frames in SHOTS.items() for f in frames}


def brute_force(frame_id: str, maps: dict[str, np.ndarray], n: int, mode: str) -> np.ndarray:
    """Max over every frame of the same shot whose rank (in sorted frame-name order) is within the window."""
    shot = frame_id.rsplit("/", 1)[0]
    ranks = {f: sorted(g for g in maps if g.rsplit("/", 1)[0] == shot).index(f) for f in maps
             if f.rsplit("/", 1)[0] == shot}
    t = ranks[frame_id]
    inside = {"before": lambda r: t - n <= r <= t, "after": lambda r: t <= r <= t + n,
              "both": lambda r: abs(r - t) <= n}[mode]
    out = np.full_like(maps[frame_id], -np.inf)
    for g, r in ranks.items():
        if inside(r):
            out = np.maximum(out, maps[g])
    return out


@pytest.mark.parametrize(("n", "mode"), list(itertools.product([0, 1, 2, 7], ["before", "after", "both"])))
def test_window_max_equals_the_brute_force(n, mode):
    maps = stored_maps()
    tmp = TemporalMax(n=n, mode=mode)
    for shot, frames in SHOTS.items():
        ordered = sorted(f"{shot}/{f}" for f in frames)
        for i, fid in enumerate(ordered):
            got = tmp(ordered, i, maps.__getitem__)
            np.testing.assert_array_equal(got, brute_force(fid, maps, n, mode))


def test_hand_computed_shot_start_and_end():
    maps = {k: np.array(v, np.float32) for k, v in {"s/a": [[0.1, 0.9]], "s/b": [[0.5, 0.2]], "s/c": [[0.3, 0.4]]}.items()}
    shot = ["s/a", "s/b", "s/c"]
    before, after = TemporalMax(1, "before"), TemporalMax(1, "after")
    np.testing.assert_array_equal(before(shot, 0, maps.__getitem__), np.float32([[0.1, 0.9]]))  # truncated: the shot starts
    np.testing.assert_array_equal(before(shot, 2, maps.__getitem__), np.float32([[0.5, 0.4]]))
    np.testing.assert_array_equal(after(shot, 2, maps.__getitem__), np.float32([[0.3, 0.4]]))  # truncated: the shot ends
    np.testing.assert_array_equal(TemporalMax(5, "both")(shot, 1, maps.__getitem__), np.float32([[0.5, 0.9]]))
    assert before.window(0, 3) == range(0, 1) and TemporalMax(0).window(1, 3) == range(1, 2)


def test_maps_are_not_renormalized_and_reads_stay_in_the_shot():
    read = []
    maps = {"s/a": np.full((2, 2), 0.2, np.float32), "s/b": np.full((2, 2), 0.3, np.float32)}
    out = TemporalMax(3, "both")(["s/a", "s/b"], 1, lambda f: read.append(f) or maps[f])
    np.testing.assert_array_equal(out, np.full((2, 2), 0.3, np.float32))  # the max stays 0.3: no min-max afterwards
    assert read == ["s/a", "s/b"]


def test_bad_arguments_and_mixed_sizes_are_refused():
    with pytest.raises(ValueError, match="n must be >= 0"):
        TemporalMax(n=-1)
    with pytest.raises(ValueError, match="mode must be 'before', 'after' or 'both'"):
        TemporalMax(mode="around")
    maps = {"s/a": np.zeros((2, 2)), "s/b": np.zeros((3, 3))}
    with pytest.raises(Exception, match=r"differ in size \(s/a: \(2, 2\), s/b: \(3, 3\)\)"):
        TemporalMax(1)(["s/a", "s/b"], 1, maps.__getitem__)


def make_shots(root):
    data, folds = root / "data", root / "folds"
    (folds / "train").mkdir(parents=True)
    (folds / "class_id.yaml").write_text(yaml.safe_dump(YOUTUBE_OBJECTS_CLASS_MAP))
    (folds / "train" / "image_ids.txt").write_text("".join(f"{s}\n" for s in SHOTS))
    (folds / "train" / "class_labels.txt").write_text("".join(f"{s},{4 if s[0] == 'c' else 6}\n" for s in SHOTS))
    for s, frames in SHOTS.items():
        (data / s).mkdir(parents=True)
        for f in frames:
            cv2.imwrite(str(data / s / f), np.full((12, 16, 3), 60, np.uint8))
    return data, folds


@pytest.mark.parametrize(("n", "mode"), [(0, "before"), (1, "before"), (2, "both")])
def test_the_dataset_applies_it_per_shot_before_resizing(tmp_path, n, mode):
    data, folds = make_shots(tmp_path)
    maps = stored_maps(1)
    ds = FoldDataset(data, folds, "train", pipeline=[PackInputs()], pseudo_label_reader=maps.__getitem__,
                     pseudo_label_transform={"type": "temporal_max", "n": n, "mode": mode})
    for i, frame in enumerate(ds.frames):
        want = cv2.resize(brute_force(frame.frame_id, maps, n, mode), (16, 12), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(ds[i]["data_samples"]["pseudo_map"], want, rtol=0, atol=1e-6)


def test_config_check_knows_the_transform():
    cfg = {"model": {"type": "resnet50_cam"},
           "train_dataloader": {"batch_size": 2, "dataset": {
               "type": "youtube_objects", "data_root": "d", "folds_root": "f", "split": "train",
               "pseudo_label_transform": {"type": "temporal_max", "n": -1, "mode": "befor"}}}}
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert "train_dataloader.dataset.pseudo_label_transform.n" in str(err.value)
    assert "train_dataloader.dataset.pseudo_label_transform.mode" in str(err.value)
    cfg["train_dataloader"]["dataset"]["pseudo_label_transform"] = {"type": "temporal_maxx"}
    with pytest.raises(ConfigError, match="did you mean 'temporal_max'"):
        check_config(cfg)
