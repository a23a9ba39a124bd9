"""TrCAM-V's pseudo-pixel sampler: FG seeds from an Otsu region of interest, BG seeds from the
lowest activations, each seed dilated with a square.

Conventions (see ``docs`` / method.md, "Pseudo-pixel sampling"):

* ROI: the map is quantized to 256 levels (``floor(255·map)``, computed in float64, as the
  reference code does) and the ROI is the pixels strictly above
  ``skimage.filters.threshold_otsu`` of that uint8 map, computed here from each frame's 256-bin
  histogram with skimage's arithmetic (float32 counts, float64 means; identical thresholds).
  (On the float map skimage's threshold is a bin centre, so pixels in the upper half of the
  threshold's bin would join the ROI: a flat background at 0.1 can land in it.) With
  ``largest_component`` (the paper) only the largest connected component of it is kept
  (8-connectivity by default; ties go to the component whose first pixel comes first in raster
  order, as with ``skimage.measure.label``'s lowest label), unless that component is smaller
  than ``min_component_fraction`` (5 %) of the ROI, in which case the whole ROI is kept. The
  default (``False``) is the reference code's: every pixel above the threshold.
* FG candidates: the top ``fg_percent`` % of ROI pixels by activation; BG candidates: the
  bottom ``bg_percent`` % of all pixels. With n = ``max(1, floor(p·count))`` (the reference
  floors, which can leave a tiny ROI without a candidate), a set is every pixel at least as
  extreme as the n-th one: pixels tied with it are all in. The reference breaks such ties by
  raster order (stable sort), which on maps with flat regions (exact zeros, quantized caches)
  would put every BG seed in the top rows of the frame. The n-th values come from
  ``kthvalue`` (a selection, not a sort); see ``_fg_cut`` for the one k that serves every frame.
* ``k`` FG pixels are drawn without replacement with probability proportional to activation
  (+1e-8), ``k`` BG pixels uniformly without replacement; a set with fewer than ``k``
  candidates gives all of them. Both are exponential races, the algorithm of
  ``torch.multinomial`` without replacement: one Exp(1) variate E = −log U per pixel, U from
  ``torch.rand`` with the generator (a (B, H·W) draw for FG, then one for BG), and the ``k``
  candidates with the largest w / E win (w = activation + 1e-8 for FG, 1 for BG). For k = 1 a
  pixel wins with probability exactly w / Σw.
* Each drawn pixel is dilated with a ``dilation``×``dilation`` square (max-pooling). Where a
  dilated FG seed and a dilated BG seed overlap the pixel is left ``ignore_index`` (as in the
  reference code): neither label is trusted there.
* A constant (quantized) map has no Otsu threshold: its ROI is empty and the frame gets no
  seed at all (all ``ignore_index``), as the reference code does; it then contributes nothing
  to the partial cross-entropy. (A non-constant map always has a non-empty ROI.)

Everything runs batched on the maps' device (the generator's, when it lives elsewhere) and the
default path never waits on the device: no ``.item()``, no data-dependent shapes. Values are
checked to lie in [0, 1] only for CPU maps (reading a device tensor's range would sync; TrCAM-V
checks its maps on the host before they go to the device). The one exception is
``largest_component`` on maps of more than 1024 pixels: the component labelling
(:func:`wsvol.utils.components.label_components`) checks on the host, once per propagation
round, whether it has converged.
"""

from __future__ import annotations

import numpy as np
import torch

from wsvol.registry import PIXEL_SAMPLERS
from wsvol.sampling.base import PixelSampler
from wsvol.utils.components import label_components

__all__ = ["OtsuRoiSampler", "check_map_range", "otsu_levels", "otsu_roi", "otsu_threshold"]

_EPS = 1e-8  # keeps zero activations drawable inside the FG candidate set
_LEVELS = 256


def otsu_levels(maps: torch.Tensor) -> torch.Tensor:
    """``floor(255·map)`` of maps in [0, 1], computed in float64: (B, H, W) long in 0..255."""
    return torch.floor(maps.detach().double() * 255).long()


def otsu_threshold(levels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per frame, skimage's ``threshold_otsu`` of a uint8 map and whether the map is constant.

    ``levels``: (B, H, W) integers in 0..255. Returns (B,) long thresholds (a level: the ROI is
    ``levels > threshold``) and (B,) bool ``constant`` (skimage returns the value itself there).
    skimage bins an integer image from its minimum to its maximum, counts in float32 and
    computes the class means in float64; so does this, from one 256-bin histogram per frame
    shifted to start at the frame's minimum, so the thresholds are identical.
    """
    b = levels.shape[0]
    flat = levels.reshape(b, -1)
    low, high = flat.amin(1), flat.amax(1)
    shifted = flat - low[:, None]
    counts = torch.zeros(b, _LEVELS, dtype=torch.float32, device=flat.device)
    counts.scatter_add_(1, shifted, torch.ones_like(shifted, dtype=torch.float32))
    centers = low[:, None].double() + torch.arange(_LEVELS, device=flat.device, dtype=torch.float64)
    weight1 = counts.cumsum(1)  # integers below 2**24: exact in float32, as skimage's
    weight2 = counts.flip(1).cumsum(1).flip(1)
    moments = counts.double() * centers
    mean1 = moments.cumsum(1) / weight1
    mean2 = moments.flip(1).cumsum(1).flip(1) / weight2
    diff = mean1[:, :-1] - mean2[:, 1:]
    variance = (weight1[:, :-1] * weight2[:, 1:]).double() * (diff * diff)
    # skimage's bins stop at the frame's maximum: thresholds past it do not exist
    valid = torch.arange(_LEVELS - 1, device=flat.device) < (high - low)[:, None]
    variance = torch.where(valid, variance, -torch.inf)
    return low + variance.argmax(1), low == high


def otsu_roi(
    cam: np.ndarray,
    largest_component: bool = False,
    min_component_fraction: float = 0.05,
    connectivity: int = 2,
) -> np.ndarray:
    """Boolean ROI of one map (H,W) in [0,1]: above the Otsu threshold of floor(255·map); empty if constant."""
    if np.ndim(cam) != 2:
        raise ValueError(f"otsu_roi expects one (H, W) map, got shape {np.shape(cam)}")
    sampler = OtsuRoiSampler(
        largest_component=largest_component,
        min_component_fraction=min_component_fraction,
        connectivity=connectivity,
    )
    maps = torch.as_tensor(np.asarray(cam, dtype=np.float64))[None]
    return sampler.roi(maps)[0].numpy()


@PIXEL_SAMPLERS.register_module(name="otsu_roi")
class OtsuRoiSampler(PixelSampler):
    """FG seeds drawn ∝ activation in the top of the Otsu ROI, BG seeds uniformly in the bottom."""

    def __init__(
        self,
        fg_percent: float = 60.0,
        bg_percent: float = 10.0,
        k: int = 1,
        dilation: int = 3,
        ignore_index: int = -255,
        largest_component: bool = False,
        min_component_fraction: float = 0.05,
        connectivity: int = 2,
    ) -> None:
        for name, value in (("fg_percent", fg_percent), ("bg_percent", bg_percent)):
            if not 0 < value <= 100:
                raise ValueError(f"{name} must be in (0, 100], got {value}")
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an int >= 1, got {k!r}")
        if not isinstance(dilation, int) or dilation < 1 or dilation % 2 == 0:
            raise ValueError(f"dilation must be an odd int >= 1 (kernel size), got {dilation!r}")
        if ignore_index in (0, 1):
            raise ValueError(
                f"ignore_index must differ from the labels 0 and 1, got {ignore_index}"
            )
        if not 0 <= min_component_fraction <= 1:
            raise ValueError(
                f"min_component_fraction must be in [0, 1], got {min_component_fraction}"
            )
        if connectivity not in (1, 2):
            raise ValueError(
                f"connectivity must be 1 (4-neighbours) or 2 (8-neighbours), got {connectivity}"
            )
        self.fg_percent = float(fg_percent)
        self.bg_percent = float(bg_percent)
        self.k = k
        self.dilation = dilation
        self.ignore_index = ignore_index
        self.largest_component = largest_component
        self.min_component_fraction = min_component_fraction
        self.connectivity = connectivity

    def __repr__(self) -> str:
        keys = ("fg_percent", "bg_percent", "k", "dilation", "ignore_index", "largest_component")
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in keys)})"

    # -- the three steps ------------------------------------------------------------------
    def roi(self, maps: torch.Tensor) -> torch.Tensor:
        """ROI of each map (B,H,W) bool, on ``maps.device``."""
        return self._roi(_check_maps(maps))

    def candidates(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ROI, FG candidates, BG candidates), each (B,H,W) bool on ``maps.device``."""
        return self._candidates(_check_maps(maps))

    def draw(
        self, maps: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Drawn FG and BG pixels before dilation: two (B,H,W) bool masks.

        The draws run on the generator's device (``maps.device`` without one).
        """
        maps = _check_maps(maps)
        b, h, w = maps.shape
        masks = []
        for picked, won in self._draw(maps, generator):
            mask = torch.zeros(b, h * w, dtype=torch.bool, device=picked.device)
            masks.append(mask.scatter_(1, picked, won).reshape(b, h, w))
        return masks[0], masks[1]

    def __call__(
        self, maps: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Seed map (B,H,W) long on ``maps.device``: 1 FG, 0 BG, ``ignore_index`` elsewhere."""
        maps = _check_maps(maps)
        fg, bg = (self._squares(picked, won, maps.shape) for picked, won in self._draw(maps, generator))
        label = torch.where(fg, 1, 0)
        seeds = torch.where(fg ^ bg, label, self.ignore_index)
        return seeds.to(maps.device)

    def _draw(
        self, maps: torch.Tensor, generator: torch.Generator | None
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(picked flat indices (B, k), drawn? (B, k)) for FG, then for BG."""
        maps = maps.detach()
        if generator is not None and maps.device != generator.device:
            maps = maps.to(generator.device)
        b = maps.shape[0]
        _, fg_cand, bg_cand = self._candidates(maps)
        flat = maps.reshape(b, -1).float()
        return [
            _race(torch.where(fg_cand.reshape(b, -1), flat + _EPS, 0.0), self.k, generator),
            _race(bg_cand.reshape(b, -1).float(), self.k, generator),
        ]

    def _squares(self, picked: torch.Tensor, won: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """(B, H, W) bool: a ``dilation``-wide square around every drawn pixel, cut at the border."""
        b, h, w = shape
        r = self.dilation // 2
        offsets = torch.arange(-r, r + 1, device=picked.device)
        ys = (picked // w)[..., None, None] + offsets[:, None]  # (B, k, D, 1)
        xs = (picked % w)[..., None, None] + offsets[None, :]  # (B, k, 1, D)
        inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w) & won[..., None, None]
        index = torch.where(inside, ys * w + xs, h * w).reshape(b, -1)  # h·w: a spare slot
        squares = torch.zeros(b, h * w + 1, dtype=torch.bool, device=picked.device)
        return squares.scatter_(1, index, True)[:, : h * w].reshape(b, h, w)

    def _roi(self, maps: torch.Tensor) -> torch.Tensor:
        if maps[0].numel() == 0 if len(maps) else True:
            return torch.zeros(maps.shape, dtype=torch.bool, device=maps.device)
        levels = otsu_levels(maps)
        threshold, constant = otsu_threshold(levels)
        roi = (levels > threshold[:, None, None]) & ~constant[:, None, None]
        if self.largest_component and roi.numel():
            roi = self._largest(roi)
        return roi

    def _largest(self, roi: torch.Tensor) -> torch.Tensor:
        """The largest component of each ROI, unless it is under ``min_component_fraction`` of it."""
        b = roi.shape[0]
        n = roi[0].numel()
        labels = label_components(roi, self.connectivity).reshape(b, n)
        slot = torch.where(labels >= 0, labels, n)
        sizes = torch.zeros(b, n + 1, device=roi.device, dtype=torch.long)
        sizes = sizes.scatter_add_(1, slot, torch.ones_like(slot))[:, :n]
        biggest = sizes.argmax(1)  # the first maximum: the component whose first pixel comes first
        big_enough = sizes.amax(1) >= self.min_component_fraction * roi.reshape(b, n).sum(1)
        keep = (labels == biggest[:, None]) | ~big_enough[:, None]
        return roi & keep.reshape(roi.shape)

    def _candidates(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, h, w = maps.shape
        roi = self._roi(maps).reshape(b, -1)
        flat = maps.detach().reshape(b, -1)
        degenerate = ~roi.any(1)  # constant map: no seed at all
        if flat.shape[1] == 0:
            empty = torch.zeros_like(roi)
            return roi.reshape(b, h, w), empty.reshape(b, h, w), empty.reshape(b, h, w)

        # FG: ROI pixels at or above the n-th largest ROI activation
        n_fg = _percent_count(roi.sum(1), self.fg_percent)
        fg = roi & (flat >= _fg_cut(flat, roi, n_fg, self.fg_percent)) & (n_fg > 0)[:, None]

        # BG: pixels at or below the n-th smallest activation (the same n for every frame)
        n_bg = max(1, int(np.floor(flat.shape[1] * self.bg_percent / 100)))
        bg_cut = flat.kthvalue(n_bg, dim=1, keepdim=True).values
        bg = (flat <= bg_cut) & ~degenerate[:, None]
        return roi.reshape(b, h, w), fg.reshape(b, h, w), bg.reshape(b, h, w)


def _check_maps(maps: torch.Tensor) -> torch.Tensor:
    if not isinstance(maps, torch.Tensor) or maps.ndim != 3 or not maps.is_floating_point():
        desc = (
            f"{tuple(maps.shape)} {maps.dtype}"
            if isinstance(maps, torch.Tensor)
            else type(maps).__name__
        )
        raise ValueError(f"pseudo-label maps must be a float tensor (B, H, W), got {desc}")
    if maps.numel() and maps.device.type == "cpu":
        check_map_range(maps)
    return maps


def check_map_range(maps: torch.Tensor, where: str = "pseudo-label maps") -> None:
    """Raise unless every value lies in [0, 1] (NaN fails). Reads the values: a sync on a device."""
    low, high = maps.aminmax()  # NaN propagates into both and fails the test below
    if not (low >= 0 and high <= 1):
        raise ValueError(f"{where} must hold values in [0, 1], got min {low.item()}, max {high.item()}")


def _percent_count(counts: torch.Tensor, percent: float) -> torch.Tensor:
    """max(1, floor(percent % of count)) for a non-empty set, 0 for an empty one."""
    n = torch.floor(counts.double() * percent / 100).long().clamp(min=1)
    return torch.where(counts > 0, n, torch.zeros_like(n))


def _fg_cut(flat: torch.Tensor, roi: torch.Tensor, n: torch.Tensor, percent: float) -> torch.Tensor:
    """(B, 1) n-th largest ROI value of each row, by one ``kthvalue`` with the same k for all rows.

    With K = max(1, floor(p·N)) for N pixels a row, row b gets K − n_b of its non-ROI pixels
    set to +inf and the others to −inf; its K-th largest value is then its n_b-th largest ROI
    value. That needs n_b ≤ K ≤ N − R_b + n_b for a ROI of R_b pixels, n_b = max(1, floor(p·R_b)):
    floor(p·N) ≤ floor(p·R_b) + ceil(p·(N − R_b)) ≤ n_b + N − R_b. An empty ROI (n_b = 0) gets
    K infinities and the cut +inf, so no candidate.
    """
    b, size = flat.shape
    big_k = max(1, int(np.floor(size * percent / 100)))
    outside = ~roi
    rank = outside.long().cumsum(1) - 1  # rank of each non-ROI pixel among its row's
    raised = outside & (rank < (big_k - n)[:, None])
    filled = torch.where(roi, flat, torch.where(raised, torch.inf, -torch.inf))
    return filled.kthvalue(size - big_k + 1, dim=1, keepdim=True).values


def _race(
    weights: torch.Tensor, k: int, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``k`` draws per row without replacement ∝ ``weights`` (all candidates if fewer): the
    ``k`` largest ``weights / E`` among candidates (weights > 0), E = −log U per pixel with
    U ~ U[0, 1) from ``torch.rand`` (an Exp(1) variate; U = 0 gives E = inf, the key 0).
    Returns the (B, k) picked indices and whether each is a candidate."""
    race = -torch.rand(weights.shape, generator=generator, device=weights.device).log()
    keys = torch.where(weights > 0, weights / race, -torch.inf)
    picked = keys.topk(min(k, keys.shape[1]), dim=1).indices
    return picked, (weights > 0).gather(1, picked)
