"""TrCAM-V's pseudo-pixel sampler: FG seeds from an Otsu region of interest, BG seeds from the
lowest activations, each seed dilated with a square.

Conventions (see ``docs`` / method.md, "Pseudo-pixel sampling"):

* ROI: the map is quantized to 256 levels (``floor(255·map)``, as the reference code does) and
  the ROI is the pixels strictly above ``skimage.filters.threshold_otsu`` of that uint8 map.
  (On the float map skimage's threshold is a bin centre, so pixels in the upper half of the
  threshold's bin would join the ROI: a flat background at 0.1 can land in it.) With
  ``largest_component`` (the paper) only the largest connected component of it is kept
  (``skimage.measure.label``, 8-connectivity by default; ties go to the lowest label, i.e.
  the first in raster order), unless that component is smaller than
  ``min_component_fraction`` (5 %) of the ROI, in which case the whole ROI is kept. The
  default (``False``) is the reference code's: every pixel above the threshold.
* FG candidates: the top ``fg_percent`` % of ROI pixels by activation; BG candidates: the
  bottom ``bg_percent`` % of all pixels. With n = ``max(1, floor(p·count))`` (the reference
  floors, which can leave a tiny ROI without a candidate), a set is every pixel at least as
  extreme as the n-th one: pixels tied with it are all in. The reference breaks such ties by
  raster order (stable sort), which on maps with flat regions (exact zeros, quantized caches)
  would put every BG seed in the top rows of the frame.
* ``k`` FG pixels are drawn without replacement with probability proportional to activation
  (successive ``torch.multinomial`` draws, so exactly proportional for k = 1), ``k`` BG pixels
  uniformly without replacement; a set with fewer than ``k`` candidates gives all of them.
* Each drawn pixel is dilated with a ``dilation``×``dilation`` square (max-pooling). Where a
  dilated FG seed and a dilated BG seed overlap the pixel is left ``ignore_index`` (as in the
  reference code): neither label is trusted there.
* A constant (quantized) map has no Otsu threshold: its ROI is empty and the frame gets no
  seed at all (all ``ignore_index``), as the reference code does; it then contributes nothing
  to the partial cross-entropy. (A non-constant map always has a non-empty ROI.)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from skimage.filters import threshold_otsu
from skimage.measure import label

from wsvol.registry import PIXEL_SAMPLERS
from wsvol.sampling.base import PixelSampler

__all__ = ["OtsuRoiSampler", "otsu_roi"]

_EPS = 1e-8  # keeps zero activations drawable inside the FG candidate set


def otsu_roi(
    cam: np.ndarray,
    largest_component: bool = False,
    min_component_fraction: float = 0.05,
    connectivity: int = 2,
) -> np.ndarray:
    """Boolean ROI of one map (H,W) in [0,1]: above the Otsu threshold of floor(255·map); empty if constant."""
    if cam.ndim != 2:
        raise ValueError(f"otsu_roi expects one (H, W) map, got shape {cam.shape}")
    levels = np.floor(np.asarray(cam, dtype=np.float64) * 255).astype(np.uint8)
    if levels.min() == levels.max():
        return np.zeros(cam.shape, dtype=bool)
    roi = levels > threshold_otsu(levels)
    if largest_component and roi.any():
        labels = label(roi, connectivity=connectivity)
        sizes = np.bincount(labels.ravel())[1:]
        biggest = int(np.argmax(sizes))
        if sizes[biggest] >= min_component_fraction * roi.sum():
            roi = labels == biggest + 1
    return roi


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
        """ROI of each map (B,H,W) bool, on ``maps.device`` (Otsu/labelling run per frame in numpy)."""
        return self._roi(_check_maps(maps))

    def candidates(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ROI, FG candidates, BG candidates), each (B,H,W) bool on ``maps.device``."""
        return self._candidates(_check_maps(maps))

    def draw(
        self, maps: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Drawn FG and BG pixels before dilation: two (B,H,W) bool masks.

        The draws run on the generator's device (``maps.device`` without one), so a CPU
        generator gives the same seeds whatever device the maps live on.
        """
        maps = _check_maps(maps).detach()
        if generator is not None:
            maps = maps.to(generator.device)
        b, h, w = maps.shape
        _, fg_cand, bg_cand = self._candidates(maps)
        fg_weights = fg_cand.reshape(b, -1) * (maps.reshape(b, -1).float() + _EPS)
        fg = _draw(fg_weights, self.k, generator)
        bg = _draw(bg_cand.reshape(b, -1).float(), self.k, generator)
        return fg.reshape(b, h, w), bg.reshape(b, h, w)

    def __call__(
        self, maps: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Seed map (B,H,W) long on ``maps.device``: 1 FG, 0 BG, ``ignore_index`` elsewhere."""
        fg, bg = self.draw(maps, generator)
        fg, bg = self._dilate(fg), self._dilate(bg)
        seeds = torch.full(fg.shape, self.ignore_index, dtype=torch.long, device=fg.device)
        seeds[fg & ~bg] = 1
        seeds[bg & ~fg] = 0
        return seeds.to(maps.device)

    def _roi(self, maps: torch.Tensor) -> torch.Tensor:
        rois = [
            otsu_roi(m, self.largest_component, self.min_component_fraction, self.connectivity)
            for m in maps.detach().cpu().numpy()
        ]
        if not rois:
            return torch.zeros(maps.shape, dtype=torch.bool, device=maps.device)
        return torch.from_numpy(np.stack(rois)).to(maps.device)

    def _candidates(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, h, w = maps.shape
        roi = self._roi(maps).reshape(b, -1)
        flat = maps.detach().reshape(b, -1)
        degenerate = ~roi.any(1)  # constant map: no seed at all

        # FG: ROI pixels at or above the n-th largest ROI activation
        n_fg = _percent_count(roi.sum(1), self.fg_percent)
        ranked = flat.masked_fill(~roi, -torch.inf).sort(dim=1, descending=True).values
        fg_cut = ranked.gather(1, (n_fg - 1).clamp(min=0)[:, None])
        fg = roi & (flat >= fg_cut) & (n_fg > 0)[:, None]

        # BG: pixels at or below the n-th smallest activation (the same n for every frame)
        n_bg = int(_percent_count(torch.tensor([h * w]), self.bg_percent))
        bg_cut = flat.kthvalue(n_bg, dim=1, keepdim=True).values if flat.numel() else flat[:, :1]
        bg = (flat <= bg_cut) & ~degenerate[:, None]
        return roi.reshape(b, h, w), fg.reshape(b, h, w), bg.reshape(b, h, w)

    def _dilate(self, mask: torch.Tensor) -> torch.Tensor:
        if self.dilation == 1:
            return mask
        pooled = F.max_pool2d(
            mask[:, None].float(), self.dilation, stride=1, padding=self.dilation // 2
        )
        return pooled[:, 0] > 0


def _check_maps(maps: torch.Tensor) -> torch.Tensor:
    if not isinstance(maps, torch.Tensor) or maps.ndim != 3 or not maps.is_floating_point():
        desc = (
            f"{tuple(maps.shape)} {maps.dtype}"
            if isinstance(maps, torch.Tensor)
            else type(maps).__name__
        )
        raise ValueError(f"pseudo-label maps must be a float tensor (B, H, W), got {desc}")
    if maps.numel():
        low, high = maps.aminmax()  # NaN propagates into both and fails the test below
        if not (low >= 0 and high <= 1):
            raise ValueError(
                f"pseudo-label maps must hold values in [0, 1], got min {low.item()}, max {high.item()}"
            )
    return maps


def _percent_count(counts: torch.Tensor, percent: float) -> torch.Tensor:
    """max(1, floor(percent % of count)) for a non-empty set, 0 for an empty one."""
    n = torch.floor(counts.double() * percent / 100).long().clamp(min=1)
    return torch.where(counts > 0, n, torch.zeros_like(n))


def _draw(weights: torch.Tensor, k: int, generator: torch.Generator | None) -> torch.Tensor:
    """``k`` draws per row without replacement ∝ ``weights`` (all candidates if fewer)."""
    available = (weights > 0).sum(1)
    out = (weights > 0) & (available <= k)[:, None]
    rows = torch.nonzero(available > k).squeeze(1)
    if rows.numel():
        picked = torch.multinomial(weights[rows], k, replacement=False, generator=generator)
        out[rows[:, None], picked] = True
    return out
