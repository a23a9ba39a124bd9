"""Box-aware transforms: boxes follow the pixels, flips invert, randomness comes from results['rng']."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsvol.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CenterCrop,
    Normalize,
    PackInputs,
    RandomCrop,
    RandomFlip,
    RandomResizedCrop,
    Resize,
)


def scene(h=90, w=120, box=(17, 23, 70, 61), seed=0) -> dict:
    """An image with a filled rectangle (inclusive box) and its mask, pseudo map and box."""
    x0, y0, x1, y1 = box
    img = np.zeros((h, w, 3), np.uint8)
    img[y0 : y1 + 1, x0 : x1 + 1] = 255
    mask = img[..., 0] > 0
    boxes = np.array([box], np.float32)
    return {
        "img": img,
        "gt_mask": mask,
        "ori_gt_mask": mask.copy(),
        "pseudo_map": mask.astype(np.float32),
        "gt_boxes": boxes.copy(),
        "ori_gt_boxes": boxes.copy(),
        "rng": np.random.default_rng(seed),
        "img_shape": (h, w),
    }


def bbox(binary: np.ndarray) -> list[int]:
    """Inclusive bounding box of the True pixels (brute force)."""
    ys, xs = np.nonzero(binary)
    return [xs.min(), ys.min(), xs.max(), ys.max()]


def assert_consistent(r: dict, tol: float = 1.0) -> None:
    """The box, the mask, the pseudo map and the drawn rectangle all agree within ``tol`` px."""
    assert (
        r["img"].shape[:2] == r["gt_mask"].shape == r["pseudo_map"].shape == tuple(r["img_shape"])
    )
    drawn = bbox(r["img"][..., 0] > 127)
    np.testing.assert_allclose(r["gt_boxes"][0], drawn, atol=tol)
    np.testing.assert_allclose(bbox(r["gt_mask"]), drawn, atol=tol)
    np.testing.assert_allclose(bbox(r["pseudo_map"] > 0.5), drawn, atol=tol)


@pytest.mark.parametrize(
    "transform",
    [
        Resize((224, 224)),
        Resize((50, 40)),
        Resize(64),
        Resize(300),
        CenterCrop((80, 100)),
        RandomCrop(64),
    ],
    ids=["up-square", "down-aspect", "short-down", "short-up", "center", "random"],
)
def test_box_follows_rectangle(transform):
    for seed in range(5):
        r = transform(scene(seed=seed))
        assert_consistent(r)


def test_resize_shorter_side_keeps_aspect():
    assert Resize(60)(scene(90, 120))["img"].shape == (60, 80, 3)
    assert Resize(60)(scene(120, 90, box=(5, 5, 20, 20)))["img"].shape == (80, 60, 3)


def test_random_resized_crop_box_and_size():
    t = RandomResizedCrop(64, scale=(0.5, 1.0))
    for seed in range(10):
        r = t(scene(seed=seed))
        assert r["img"].shape == (64, 64, 3)
        if len(r["gt_boxes"]):  # the rectangle may be cropped away entirely
            assert_consistent(r, tol=1.5)
        else:
            assert not (r["img"][..., 0] > 127).any()
    # the fallback (no valid window in 10 tries) is a central crop within the ratio range
    assert RandomResizedCrop(8, ratio=(4, 4)).window(100, 12, np.random.default_rng(0)) == (
        48,
        0,
        3,
        12,
    )


def test_crop_drops_boxes_outside_and_clips_the_rest():
    r = scene(box=(0, 0, 9, 9))
    r["gt_boxes"] = np.array([[0, 0, 9, 9], [50, 40, 110, 80]], np.float32)
    out = CenterCrop((30, 40))(r)  # window rows 30..59, columns 40..79
    np.testing.assert_array_equal(out["gt_boxes"], [[10, 10, 39, 29]])
    np.testing.assert_array_equal(out["ori_gt_boxes"], r["ori_gt_boxes"])


def test_flip_maps_box_and_twice_is_identity():
    r = scene()
    flip = RandomFlip(prob=1.0)
    once = flip({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in r.items()})
    assert_consistent(once, tol=0)
    np.testing.assert_array_equal(once["gt_boxes"], [[120 - 1 - 70, 23, 120 - 1 - 17, 61]])
    twice = flip(once)
    for key in ("img", "gt_mask", "pseudo_map", "gt_boxes"):
        np.testing.assert_array_equal(twice[key], scene()[key])
    assert not twice["flipped"]
    assert not RandomFlip(prob=0.0)(scene())["flipped"]


def test_same_rng_same_result_and_rng_required():
    pipeline = [Resize((64, 64)), RandomResizedCrop(32), RandomFlip()]

    def run(seed):
        r = scene(seed=seed)
        for t in pipeline:
            r = t(r)
        return r

    a, b = run(3), run(3)
    np.testing.assert_array_equal(a["img"], b["img"])
    np.testing.assert_array_equal(a["gt_boxes"], b["gt_boxes"])
    assert any(not np.array_equal(a["img"], run(s)["img"]) for s in range(4, 10))
    r = scene()
    del r["rng"]
    with pytest.raises(KeyError, match="rng"):
        RandomFlip()(r)


def test_normalize_and_pack():
    r = scene()
    r.update(
        frame_id="cat/v/s/f.jpg",
        video_id="cat/v",
        shot_id="cat/v/s",
        gt_label=4,
        ori_size=(120, 90),
    )
    r = Resize((32, 48))(r)
    raw = r["img"].copy()
    r = Normalize()(r)
    expected = (raw[5, 7] / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(r["img"][5, 7], expected, rtol=1e-5)
    out = PackInputs()(r)
    assert out["inputs"].shape == (3, 32, 48) and out["inputs"].dtype == torch.float32
    torch.testing.assert_close(out["inputs"][:, 5, 7], torch.tensor(expected, dtype=torch.float32))
    s = out["data_samples"]
    assert (s["frame_id"], s["gt_label"], s["ori_size"], s["img_shape"]) == (
        "cat/v/s/f.jpg",
        4,
        (120, 90),
        (32, 48),
    )
    np.testing.assert_array_equal(s["gt_boxes"], [[17, 23, 70, 61]])  # original coordinates
    assert s["gt_mask"].shape == (90, 120) and s["pseudo_map"].shape == (32, 48)
    assert isinstance(s["pseudo_map"], torch.Tensor)


def test_bad_arguments():
    with pytest.raises(ValueError, match="smaller"):
        RandomCrop(500)(scene())
    with pytest.raises(ValueError):
        Resize((0, 5))
    with pytest.raises(ValueError):
        Normalize(std=(0, 1, 1))


def test_resize_shrinks_the_pseudo_map_bilinearly_and_the_image_by_area():
    """TCAM resizes its maps bilinearly (torch's, half-pixel centres); the image keeps area
    averaging when it shrinks."""
    import torch.nn.functional as F

    from wsvol.data.transforms import resize_results

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    pseudo = rng.random((120, 160)).astype(np.float32)
    r = resize_results({"img": img.copy(), "pseudo_map": pseudo.copy()}, 48, 64)
    bilinear = F.interpolate(torch.from_numpy(pseudo)[None, None], size=(48, 64), mode="bilinear",
                             align_corners=False, antialias=False)[0, 0].numpy()
    np.testing.assert_allclose(r["pseudo_map"], bilinear, atol=1e-5)
    # the image: each output pixel the mean of its 2×2 source block (area averaging at a ×2 shrink)
    r2 = resize_results({"img": img.copy()}, 60, 80)
    block_mean = img.reshape(60, 2, 80, 2, 3).mean((1, 3))
    assert np.abs(r2["img"].astype(float) - block_mean).max() <= 0.5 + 1e-9
