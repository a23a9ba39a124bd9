"""Box-aware image transforms: each is a small callable on a ``results`` dict.

Keys: ``img`` (H×W×3 uint8 RGB, float after ``normalize``), ``gt_boxes`` ((N,4) float, inclusive
pixel coordinates of the *current* image), optional ``gt_mask`` (bool, H×W, nearest) and
``pseudo_map`` (float, H×W, bilinear). Geometric transforms apply to all of them; the
original-coordinate copies (``ori_gt_boxes``, ``ori_gt_mask``) are never touched. Randomness comes
only from ``results["rng"]`` (an ``np.random.Generator``).

Reference protocol (wsolevaluation/TCAM): train = ``resize`` (256, 256) → ``random_crop`` 224 →
``random_flip`` → ``normalize``; eval = ``resize`` (224, 224) → ``normalize``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from wsvol.config.types import Side
from wsvol.registry import TRANSFORMS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _hw(size: int | Sequence[int]) -> tuple[int, int]:
    """(h, w) from an int (square) or an (h, w) pair."""
    h, w = (size, size) if isinstance(size, int) else size
    if h <= 0 or w <= 0:
        raise ValueError(f"sizes must be positive, got {size!r}")
    return int(h), int(w)


def _rng(results: dict) -> np.random.Generator:
    rng = results.get("rng")
    if not isinstance(rng, np.random.Generator):
        raise KeyError(
            "random transforms need results['rng'] (an np.random.Generator); the dataset sets it"
        )
    return rng


def resize_results(results: dict, h: int, w: int) -> dict:
    """Resize image, boxes, mask and pseudo map to (h, w)."""
    img = results["img"]
    H, W = img.shape[:2]
    shrink = h * w < H * W  # area averaging when shrinking (like an antialiased resize)
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    results["img"] = cv2.resize(img, (w, h), interpolation=interp)
    if "pseudo_map" in results:
        # always bilinear, as TCAM resizes its maps: the map came to the frame's size by bilinear
        # upsampling, and sampling it bilinearly again stays within 1e-3 of one bilinear resize
        # from the stored size, where area averaging smooths it (10-20× further on average)
        results["pseudo_map"] = cv2.resize(
            results["pseudo_map"].astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR
        )
    if "gt_mask" in results:
        mask = results["gt_mask"].astype(np.uint8)
        results["gt_mask"] = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    if "gt_boxes" in results:
        # Scale pixel edges: an inclusive box [x0, x1] covers the interval [x0, x1 + 1).
        edges = results["gt_boxes"] + np.array([0, 0, 1, 1], np.float32)
        edges *= np.array([w / W, h / H, w / W, h / H], np.float32)
        results["gt_boxes"] = (edges - np.array([0, 0, 1, 1], np.float32)).astype(np.float32)
    results["img_shape"] = (h, w)
    return results


def crop_results(results: dict, top: int, left: int, h: int, w: int) -> dict:
    """Crop every map to rows top..top+h and columns left..left+w; clip boxes, drop those left out."""
    sl = np.s_[top : top + h, left : left + w]
    for key in ("img", "gt_mask", "pseudo_map"):
        if key in results:
            results[key] = np.ascontiguousarray(results[key][sl])
    if "gt_boxes" in results:
        b = results["gt_boxes"] - np.array([left, top, left, top], np.float32)
        keep = (b[:, 2] >= 0) & (b[:, 3] >= 0) & (b[:, 0] <= w - 1) & (b[:, 1] <= h - 1)
        b = b[keep]
        b[:, 0::2] = b[:, 0::2].clip(0, w - 1)
        b[:, 1::2] = b[:, 1::2].clip(0, h - 1)
        results["gt_boxes"] = b.astype(np.float32)
    results["img_shape"] = (h, w)
    return results


@TRANSFORMS.register_module(name="resize")
class Resize:
    """Resize to ``size``: an (h, w) pair, or an int for the shorter side (aspect kept)."""

    def __init__(self, size: Side | Sequence[Side]):
        self.size = size
        _hw(size)

    def __call__(self, results: dict) -> dict:
        H, W = results["img"].shape[:2]
        if isinstance(self.size, int):
            s = self.size / min(H, W)
            h, w = (
                (self.size, max(1, round(W * s))) if H <= W else (max(1, round(H * s)), self.size)
            )
        else:
            h, w = _hw(self.size)
        return resize_results(results, h, w)


class _Crop:
    """A (h, w) window of an image at least that large; subclasses choose where it starts."""

    name = "crop"

    def __init__(self, size: Side | Sequence[Side]):
        self.h, self.w = _hw(size)

    def __call__(self, results: dict) -> dict:
        H, W = results["img"].shape[:2]
        if H < self.h or W < self.w:
            raise ValueError(
                f"{self.name} of {self.h}x{self.w} (h×w) from a smaller {H}x{W} image; resize first"
            )
        top, left = self.origin(H, W, results)
        return crop_results(results, top, left, self.h, self.w)

    def origin(self, H: int, W: int, results: dict) -> tuple[int, int]:
        raise NotImplementedError


@TRANSFORMS.register_module(name="random_crop")
class RandomCrop(_Crop):
    """Crop a random (h, w) window (the image must be at least that large)."""

    name = "random_crop"

    def origin(self, H: int, W: int, results: dict) -> tuple[int, int]:
        rng = _rng(results)
        return int(rng.integers(0, H - self.h + 1)), int(rng.integers(0, W - self.w + 1))


@TRANSFORMS.register_module(name="center_crop")
class CenterCrop(_Crop):
    """Crop the central (h, w) window (torchvision's rounding)."""

    name = "center_crop"

    def origin(self, H: int, W: int, results: dict) -> tuple[int, int]:
        return int(round((H - self.h) / 2)), int(round((W - self.w) / 2))


@TRANSFORMS.register_module(name="random_resized_crop")
class RandomResizedCrop:
    """Crop a random area fraction ``scale`` and aspect ``ratio`` (torchvision's rule), resize to ``size``."""

    def __init__(
        self,
        size: Side | Sequence[Side],
        scale: Sequence[float] = (0.08, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
    ):
        self.h, self.w = _hw(size)
        if not (0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= ratio[1]):
            raise ValueError(f"bad scale {scale!r} or ratio {ratio!r}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def window(self, H: int, W: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(top, left, h, w) of the crop."""
        log_ratio = np.log(self.ratio)
        for _ in range(10):
            area = H * W * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            w, h = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 0 < w <= W and 0 < h <= H:
                return int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1)), h, w
        aspect = W / H  # fallback: the largest central window within the ratio range
        w, h = (
            (W, H)
            if self.ratio[0] <= aspect <= self.ratio[1]
            else (
                (W, round(W / self.ratio[0]))
                if aspect < self.ratio[0]
                else (round(H * self.ratio[1]), H)
            )
        )
        return (H - h) // 2, (W - w) // 2, h, w

    def __call__(self, results: dict) -> dict:
        H, W = results["img"].shape[:2]
        results = crop_results(results, *self.window(H, W, _rng(results)))
        return resize_results(results, self.h, self.w)


@TRANSFORMS.register_module(name="random_flip")
class RandomFlip:
    """Flip horizontally with probability ``prob``."""

    def __init__(self, prob: float = 0.5):
        if not 0 <= prob <= 1:
            raise ValueError(f"prob must be in [0, 1], got {prob}")
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        flip = _rng(results).random() < self.prob
        results["flipped"] = bool(flip) ^ results.get("flipped", False)
        if flip:
            W = results["img"].shape[1]
            for key in ("img", "gt_mask", "pseudo_map"):
                if key in results:
                    results[key] = np.ascontiguousarray(results[key][:, ::-1])
            if "gt_boxes" in results:
                b = results["gt_boxes"].copy()
                b[:, [0, 2]] = W - 1 - results["gt_boxes"][:, [2, 0]]
                results["gt_boxes"] = b
        return results


@TRANSFORMS.register_module(name="normalize")
class Normalize:
    """``(img / 255 - mean) / std`` per channel, as float32; mean/std in [0, 1] units (ImageNet's)."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
        self.mean = np.asarray(mean, np.float32).reshape(1, 1, -1)
        self.std = np.asarray(std, np.float32).reshape(1, 1, -1)
        if self.mean.size != 3 or self.std.size != 3 or (self.std <= 0).any():
            raise ValueError(f"need 3 means and 3 positive stds, got {mean!r}, {std!r}")

    def __call__(self, results: dict) -> dict:
        results["img"] = (results["img"].astype(np.float32) / 255.0 - self.mean) / self.std
        return results


@TRANSFORMS.register_module(name="pack_inputs")
class PackInputs:
    """Turn ``results`` into the contract's ``{"inputs": Tensor[3,H,W], "data_samples": dict}``."""

    META_KEYS = ("frame_id", "video_id", "shot_id", "gt_label", "ori_size")

    def __init__(self, extra_keys: Sequence[str] = ()):
        self.extra_keys = tuple(extra_keys)

    def __call__(self, results: dict) -> dict:
        import torch

        img = results["img"]
        sample = {k: results[k] for k in self.META_KEYS + self.extra_keys if k in results}
        sample["img_shape"] = tuple(img.shape[:2])
        sample["gt_boxes"] = np.asarray(  # float64 as read: evaluation truncates x·224/width
            results.get("ori_gt_boxes", np.zeros((0, 4))), np.float64
        ).reshape(-1, 4)
        if "ori_gt_mask" in results:
            sample["gt_mask"] = results["ori_gt_mask"]
        if "pseudo_map" in results:
            sample["pseudo_map"] = torch.from_numpy(
                np.ascontiguousarray(results["pseudo_map"], np.float32)
            )
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        return {
            "inputs": inputs if inputs.is_floating_point() else inputs.float(),
            "data_samples": sample,
        }
