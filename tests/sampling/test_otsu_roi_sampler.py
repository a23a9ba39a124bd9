"""OtsuRoiSampler: candidate sets, draw distributions, determinism, ROI options, dilation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from skimage.filters import threshold_otsu

from wsvol.registry import PIXEL_SAMPLERS
from wsvol.sampling import OtsuRoiSampler, PixelSampler, otsu_roi


def _smooth_maps(b: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Blob-like maps in [0, 1] with distinct values (ties would make 'top n%' ambiguous)."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    cy, cx = torch.rand(b, 1, 1, generator=g) * h, torch.rand(b, 1, 1, generator=g) * w
    blob = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * (h / 5) ** 2))
    maps = blob + 0.05 * torch.rand(b, h, w, generator=g, dtype=torch.float64)
    maps = (maps - maps.amin((1, 2), keepdim=True)) / (
        maps.amax((1, 2), keepdim=True) - maps.amin((1, 2), keepdim=True)
    )
    return maps.float()


def _otsu(cam: np.ndarray) -> np.ndarray:
    levels = np.floor(cam.astype(np.float64) * 255).astype(np.uint8)
    return levels > threshold_otsu(levels)


def _expected_sets(
    cam: np.ndarray, fg_percent: float, bg_percent: float
) -> tuple[np.ndarray, np.ndarray]:
    """FG/BG candidate masks computed independently with numpy (distinct values assumed)."""
    roi = _otsu(cam)
    vals = np.sort(cam[roi])[::-1]
    n_fg = max(1, math.floor(roi.sum() * fg_percent / 100))
    fg = roi & (cam >= vals[n_fg - 1])
    n_bg = max(1, math.floor(cam.size * bg_percent / 100))
    bg = cam <= np.sort(cam.ravel())[n_bg - 1]
    return fg, bg


def test_registered_and_is_a_pixel_sampler():
    assert PIXEL_SAMPLERS.module_dict["otsu_roi"] is OtsuRoiSampler
    assert isinstance(OtsuRoiSampler(), PixelSampler)


def test_draws_stay_in_their_candidate_sets():
    maps = _smooth_maps(4, 24, 28, seed=0)
    sampler = OtsuRoiSampler(k=3)
    expected = [_expected_sets(m.numpy(), 60, 10) for m in maps]
    roi, fg_cand, bg_cand = sampler.candidates(maps)
    for i, (fg_exp, bg_exp) in enumerate(expected):
        assert np.array_equal(roi[i].numpy(), _otsu(maps[i].numpy()))
        assert np.array_equal(fg_cand[i].numpy(), fg_exp)
        assert np.array_equal(bg_cand[i].numpy(), bg_exp)
    g = torch.Generator().manual_seed(1)
    for _ in range(30):
        fg, bg = sampler.draw(maps, g)
        for i, (fg_exp, bg_exp) in enumerate(expected):
            assert fg[i].sum() == 3 and bg[i].sum() == 3
            assert not (fg[i].numpy() & ~fg_exp).any(), "FG draw outside the top 60% of the ROI"
            assert not (bg[i].numpy() & ~bg_exp).any(), "BG draw outside the bottom 10%"


def test_fg_frequencies_are_proportional_to_activation():
    # 8x8 map: a 3x3 ROI of distinct activations on a flat low background; fg_percent=100
    cam = torch.full((8, 8), 0.05)
    roi_vals = torch.tensor([0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0])
    cam[2:5, 3:6] = roi_vals.reshape(3, 3)
    sampler = OtsuRoiSampler(fg_percent=100, k=1)
    assert torch.equal(sampler.roi(cam[None])[0], cam > 0.5)
    maps = cam.expand(1000, 8, 8).contiguous()
    g = torch.Generator().manual_seed(123)
    counts = sum(sampler.draw(maps, g)[0].sum(0) for _ in range(5))
    assert counts.sum() == 5000 and counts[cam <= 0.5].sum() == 0
    observed = counts[2:5, 3:6].reshape(-1).double().numpy()
    probs = roi_vals.double().numpy()
    expected = probs / probs.sum() * observed.sum()
    assert chisquare(observed, expected).pvalue > 1e-3
    assert np.max(np.abs(observed - expected) / expected) < 0.2


def test_bg_draws_are_uniform_over_the_bottom_percent():
    maps = _smooth_maps(1, 10, 10, seed=3).expand(1000, 10, 10).contiguous()
    sampler = OtsuRoiSampler(bg_percent=10, k=1)
    _, bg_exp = _expected_sets(maps[0].numpy(), 60, 10)
    g = torch.Generator().manual_seed(7)
    counts = sum(sampler.draw(maps, g)[1].sum(0) for _ in range(5)).numpy()
    assert counts[~bg_exp].sum() == 0
    observed = counts[bg_exp]
    assert len(observed) == 10
    assert chisquare(observed).pvalue > 1e-3


def test_deterministic_under_a_seed():
    maps = _smooth_maps(3, 20, 20, seed=5)
    sampler = OtsuRoiSampler(k=2)
    a = sampler(maps, torch.Generator().manual_seed(42))
    b = sampler(maps, torch.Generator().manual_seed(42))
    c = sampler(maps, torch.Generator().manual_seed(43))
    assert a.dtype == torch.long and a.shape == maps.shape
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def _two_blobs() -> np.ndarray:
    cam = np.full((20, 20), 0.1)
    cam[2:7, 2:7] = 0.9  # 25 px
    cam[14:16, 14:16] = 0.8  # 4 px
    return cam


def test_largest_component_keeps_the_biggest_blob():
    cam = _two_blobs()
    assert otsu_roi(cam).sum() == 29
    big = otsu_roi(cam, largest_component=True)
    assert big.sum() == 25 and big[2:7, 2:7].all()
    roi = OtsuRoiSampler(largest_component=True).roi(torch.from_numpy(cam).float()[None])
    assert np.array_equal(roi[0].numpy(), big)


def test_largest_component_falls_back_to_the_whole_roi_below_5_percent():
    cam = np.full((24, 24), 0.1)
    cam[::2, ::2][:5, :5] = 0.9  # 25 isolated pixels: each component is 4 % of the ROI
    cam[20, 20] = cam[20, 21] = 0.9  # a 2-pixel component: 2/27 = 7.4 %, kept
    assert otsu_roi(cam).sum() == 27
    kept = otsu_roi(cam, largest_component=True)
    assert kept.sum() == 2 and kept[20, 20] and kept[20, 21]
    cam[20, 21] = 0.1  # now the largest component is 1/26 < 5 % → whole ROI
    assert otsu_roi(cam, largest_component=True).sum() == 26
    assert otsu_roi(cam, largest_component=True, min_component_fraction=0.03).sum() == 1


@pytest.mark.parametrize("dilation", [1, 3, 5])
def test_seeds_are_dilated_squares(dilation):
    # left-to-right ramp: BG candidates are the first columns, FG candidates the right part
    cam = torch.linspace(0, 1, 20).expand(20, 20).contiguous()[None]
    sampler = OtsuRoiSampler(k=1, dilation=dilation)
    fg, bg = sampler.draw(cam, torch.Generator().manual_seed(0))
    seeds = sampler(cam, torch.Generator().manual_seed(0))[0].numpy()
    r = dilation // 2
    for mask, value in ((fg[0], 1), (bg[0], 0)):
        ((y, x),) = torch.nonzero(mask).tolist()
        expected = np.zeros((20, 20), dtype=bool)
        expected[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1] = True
        assert np.array_equal(seeds == value, expected)
    assert ((seeds == 1) | (seeds == 0) | (seeds == -255)).all()


def test_overlapping_fg_and_bg_squares_are_ignored():
    cam = torch.full((10, 10), 0.5)
    cam[4, 4], cam[4, 5] = 1.0, 0.0
    sampler = OtsuRoiSampler(fg_percent=1, bg_percent=1, k=1, ignore_index=-100)
    fg, bg = sampler.draw(cam[None])
    assert fg[0, 4, 4] and fg.sum() == 1 and bg[0, 4, 5] and bg.sum() == 1
    seeds = sampler(cam[None])[0]
    assert (seeds[3:6, 3] == 1).all() and (seeds[3:6, 6] == 0).all()
    assert (seeds[3:6, 4:6] == -100).all()
    assert (seeds == 1).sum() == 3 and (seeds == 0).sum() == 3


def test_constant_map_gets_no_seed_and_does_not_crash():
    nearly_flat = torch.full((12, 12), 0.3)
    nearly_flat[5, 5] = 0.3001  # the same 256-level bin: constant once quantized
    maps = torch.stack(
        [
            torch.full((12, 12), 0.3),
            _smooth_maps(1, 12, 12, seed=9)[0],
            torch.zeros(12, 12),
            nearly_flat,
        ]
    )
    seeds = OtsuRoiSampler()(maps, torch.Generator().manual_seed(0))
    assert (seeds[0] == -255).all() and (seeds[2] == -255).all() and (seeds[3] == -255).all()
    assert (seeds[1] == 1).any() and (seeds[1] == 0).any()


def test_fewer_candidates_than_k_gives_them_all():
    cam = torch.full((10, 10), 0.1)
    cam[4, 4:6] = torch.tensor([0.9, 1.0])
    cam[0, :3] = torch.tensor([0.0, 0.01, 0.02])
    sampler = OtsuRoiSampler(fg_percent=100, bg_percent=3, k=5)
    # the flat 0.1 background stays out of the ROI (on the float map skimage's bin-centre
    # threshold, 0.0996 here, would let it in)
    assert sampler.roi(cam[None]).sum() == 2
    fg, bg = sampler.draw(cam[None], torch.Generator().manual_seed(0))
    assert fg.sum() == 2 and fg[0, 4, 4:6].all()
    assert bg.sum() == 3 and bg[0, 0, :3].all()


def test_ties_at_the_cutoff_are_all_candidates():
    # a quantized map: 70 exact zeros, so the bottom 10 % is every zero, not the first 10 pixels
    cam = torch.zeros(10, 10)
    cam[7:, :] = torch.linspace(0.2, 1.0, 30).reshape(3, 10)
    _, _, bg = OtsuRoiSampler(bg_percent=10).candidates(cam[None])
    assert torch.equal(bg[0], cam == 0)


def test_bad_input_is_rejected_with_the_value():
    sampler = OtsuRoiSampler()
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        sampler(torch.rand(2, 1, 8, 8))
    bad = torch.rand(2, 8, 8)
    bad[1, 3, 3] = 2.0
    with pytest.raises(ValueError, match="max 2.0"):
        sampler(bad)
    with pytest.raises(ValueError, match="dilation"):
        OtsuRoiSampler(dilation=2)
    with pytest.raises(ValueError, match="fg_percent"):
        OtsuRoiSampler(fg_percent=0)
