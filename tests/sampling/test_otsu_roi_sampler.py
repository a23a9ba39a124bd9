"""OtsuRoiSampler: candidate sets, draw distributions, determinism, ROI options, dilation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from skimage.filters import threshold_otsu
from skimage.measure import label

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


# -- the batched device path against a plain, frame-by-frame reference -------------------------
def _mixed_maps(b: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Smooth maps, quantized maps (ties, exact zeros), a constant and a two-level map."""
    g = torch.Generator().manual_seed(seed)
    maps = _smooth_maps(b, h, w, seed)
    maps[1] = torch.floor(maps[1] * 12) / 12  # a quantized cache: many ties
    maps[2] = 0.4  # constant: no seed
    maps[3] = (torch.rand(h, w, generator=g) > 0.7).float() * 0.8  # two levels
    return maps


def races(generator: torch.Generator, b: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The sampler's random numbers: E = −log U per pixel, U from torch.rand, a (B, H·W) draw
    for FG, then one for BG."""
    return tuple(
        (-torch.rand(b, n, generator=generator, device=generator.device).log()).cpu().numpy()
        for _ in range(2)
    )


def reference_seeds(sampler: OtsuRoiSampler, maps: torch.Tensor, race: tuple[np.ndarray, np.ndarray]):
    """The documented draws, one frame at a time: skimage's Otsu on floor(255·map), skimage's
    labels for the largest component, sorted values for the n-th cuts, then an exponential race
    (the k candidates with the largest w / E win), and square dilation by loops."""
    b, h, w = maps.shape
    e_fg, e_bg = race
    r = sampler.dilation // 2
    out = np.full((b, h, w), sampler.ignore_index, dtype=np.int64)
    for i in range(b):
        cam = maps[i].numpy()
        levels = np.floor(cam.astype(np.float64) * 255).astype(np.uint8)
        if levels.min() == levels.max():
            continue
        roi = levels > threshold_otsu(levels)
        if sampler.largest_component:
            labels = label(roi, connectivity=sampler.connectivity)
            sizes = np.bincount(labels.ravel())[1:]
            if sizes.max() >= sampler.min_component_fraction * roi.sum():
                roi = labels == int(np.argmax(sizes)) + 1
        flat, roi = cam.ravel(), roi.ravel()
        n_fg = max(1, math.floor(roi.sum() * sampler.fg_percent / 100))
        fg_cand = roi & (flat >= sorted(flat[roi], reverse=True)[n_fg - 1])
        n_bg = max(1, math.floor(flat.size * sampler.bg_percent / 100))
        bg_cand = flat <= sorted(flat)[n_bg - 1]
        drawn = []
        for cand, weight, race in ((fg_cand, flat + np.float32(1e-8), e_fg[i]), (bg_cand, np.ones_like(flat), e_bg[i])):
            keys = {j: weight[j] / race[j] for j in np.flatnonzero(cand)}
            drawn.append(sorted(keys, key=keys.get, reverse=True)[: sampler.k])
        masks = []
        for picks in drawn:
            m = np.zeros((h, w), dtype=bool)
            for j in picks:
                y, x = divmod(int(j), w)
                m[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1] = True
            masks.append(m)
        fg, bg = masks
        out[i][fg & ~bg] = 1
        out[i][bg & ~fg] = 0
    return torch.from_numpy(out)


@pytest.mark.parametrize(
    "options",
    [{}, {"k": 4}, {"k": 3, "dilation": 5, "fg_percent": 30, "bg_percent": 5},
     {"largest_component": True}, {"largest_component": True, "connectivity": 1, "k": 2}],
)
def test_draws_are_exactly_the_reference_loops(options):
    sampler = OtsuRoiSampler(**options)
    for size, seed in (((20, 24), 0), ((40, 40), 1)):  # 480 px: closure labelling; 1600: propagation
        maps = _mixed_maps(6, *size, seed)
        for step in range(3):
            got = sampler(maps, torch.Generator().manual_seed(100 + step))
            race = races(torch.Generator().manual_seed(100 + step), *maps.flatten(1).shape)
            expected = reference_seeds(sampler, maps, race)
            assert torch.equal(got, expected), (options, size, step)


def test_roi_is_skimage_otsu_of_the_quantized_map_at_full_size():
    maps = _mixed_maps(8, 224, 224, seed=4)
    maps[5] = torch.rand(224, 224, generator=torch.Generator().manual_seed(5))  # noise
    for largest in (False, True):
        rois = OtsuRoiSampler(largest_component=largest).roi(maps)
        for cam, roi in zip(maps.numpy(), rois.numpy()):
            np.testing.assert_array_equal(roi, otsu_roi_reference(cam, largest))


def otsu_roi_reference(cam: np.ndarray, largest: bool) -> np.ndarray:
    levels = np.floor(cam.astype(np.float64) * 255).astype(np.uint8)
    if levels.min() == levels.max():
        return np.zeros(cam.shape, dtype=bool)
    roi = levels > threshold_otsu(levels)
    if largest:
        labels = label(roi, connectivity=2)
        sizes = np.bincount(labels.ravel())[1:]
        if sizes.max() >= 0.05 * roi.sum():
            roi = labels == int(np.argmax(sizes)) + 1
    return roi


def test_draws_on_a_stand_in_gpu_never_wait_for_it(stand_in_cuda):
    """The CUDA test below on every machine: seeds from maps on the device, nothing read back;
    the largest component too while the labelling is a closure (up to 1024 pixels); beyond, its
    propagation reads once a round whether it has converged, the one documented host step."""
    g = stand_in_cuda.generator()
    small, large = (stand_in_cuda.tensor(_mixed_maps(6, n, n, seed=6)) for n in (32, 64))
    with stand_in_cuda.no_sync():
        for sampler in (OtsuRoiSampler(k=3), OtsuRoiSampler(k=3, largest_component=True)):
            seeds = sampler(small, g)
            assert seeds.shape == small.shape and seeds.device.type == "cuda"
        assert OtsuRoiSampler(k=3)(large, g).shape == large.shape
    with stand_in_cuda.no_sync(), pytest.raises(stand_in_cuda.HostSync, match="reads values"):
        OtsuRoiSampler(k=3, largest_component=True)(large, g)


@pytest.mark.cuda
def test_cuda_draws_are_the_reference_loops_without_a_host_sync():
    sampler = OtsuRoiSampler(k=3)
    maps = _mixed_maps(6, 64, 64, seed=6)
    device_maps = maps.cuda()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        got = sampler(device_maps, torch.Generator(device="cuda").manual_seed(9))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    # the same exponential variates, drawn on the device, then the loops on the host
    race = races(torch.Generator(device="cuda").manual_seed(9), 6, 64 * 64)
    assert torch.equal(got.cpu(), reference_seeds(sampler, maps, race))

