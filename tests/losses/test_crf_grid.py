"""crf, method ``grid`` (O(N) bilateral grid): against the exact dense energy at full resolution.

The goal (docs/method.md, CRF section): value within 2 % and gradient cosine ≥ 0.99 to the exact
energy on natural photos (scikit-image's) and textured synthetic frames, at 64-128 px where the
exact N² computation is cheap, both with σ_xy = 100 (the config's) and with σ_xy scaled to the
frame as on the paper's 224² input (100 · side / 224). The grid runs in float32 (as in
training), the oracle in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F

from wsvol.data.synthetic import render_video
from wsvol.losses import DenseCRFLoss, dense_crf_energy, grid_crf_energy
from wsvol.losses.bilateral_grid import bilateral_grid_products, spatial_modes

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def _photo(name: str, side: int) -> torch.Tensor:
    """(1,3,side,side) 0–255 centre crop of a scikit-image photo, area-downsampled."""
    image = torch.from_numpy(getattr(skimage.data, name)()[..., :3].copy()).permute(2, 0, 1)
    image = image[None].double()
    h, w = image.shape[2:]
    size = (max(side, round(h * side / min(h, w))), max(side, round(w * side / min(h, w))))
    image = F.interpolate(image, size=size, mode="area")
    y0, x0 = (size[0] - side) // 2, (size[1] - side) // 2
    return image[:, :, y0 : y0 + side, x0 : x0 + side].round()


def _synthetic(side: int, name: str, seed: int) -> torch.Tensor:
    """(1,3,side,side) one frame of the synthetic data (textured background, clutter, object)."""
    frame = render_video(name, np.random.default_rng(seed), side, side, 1, 1)[0][0][0]
    return torch.from_numpy(frame).permute(2, 0, 1)[None].double()


def _logits(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Two 2-region maps per image: a smooth random field, and one that follows the image
    (luminance against its median, soft): (2B, 2, H, W), images repeated to match."""
    b, _, h, w = images.shape
    g = torch.Generator().manual_seed(seed)
    field = torch.randn(b, 1, 5, 5, generator=g, dtype=torch.float64)
    smooth = 3 * F.interpolate(field, size=(h, w), mode="bicubic", align_corners=False)
    lum = images.mean(1, keepdim=True)
    aligned = (lum - lum.flatten(1).median(1).values[:, None, None, None]) / 8
    fg = torch.cat([smooth, aligned])
    return torch.cat([torch.zeros_like(fg), fg], 1)


def _value_and_grad(energy, logits: torch.Tensor, images: torch.Tensor, **kw):
    z = logits.detach().clone().requires_grad_(True)
    value = energy(torch.softmax(z, 1), images, **kw)
    value.sum().backward()
    return value.detach().double(), z.grad.double()


def _compare(images: torch.Tensor, sigma_xy: float, seed: int = 0):
    """Per map: (value error in %, gradient cosine) of the float32 grid vs the float64 exact."""
    logits = _logits(images, seed)
    images = images.repeat(2, 1, 1, 1)
    exact, exact_grad = _value_and_grad(
        dense_crf_energy, logits, images, sigma_xy=sigma_xy, sigma_rgb=15.0, block_elems=2**22
    )
    grid, grid_grad = _value_and_grad(
        grid_crf_energy, logits.float(), images.float(), sigma_xy=sigma_xy, sigma_rgb=15.0
    )
    err = 100 * (grid / exact - 1)
    cos = F.cosine_similarity(grid_grad.flatten(1), exact_grad.flatten(1), dim=1)
    return err, cos


@pytest.mark.parametrize(("side", "sigma_xy"), [(64, 100.0), (64, 28.6), (96, 42.9)])
def test_photos_within_2_percent_and_cosine_above_099(side, sigma_xy):
    err, cos = _compare(torch.cat([_photo(name, side) for name in PHOTOS]), sigma_xy)
    assert err.abs().max() < 2.0, err
    assert cos.min() > 0.99, cos
    # measured margins (docs/method.md): ≤ 1.2 % and ≥ 0.999 on these
    assert err.abs().max() < 1.5 and cos.min() > 0.998, (err, cos)


def test_photo_128px_within_2_percent_and_cosine_above_099():
    err, cos = _compare(_photo("astronaut", 128), 57.1)
    assert err.abs().max() < 2.0 and cos.min() > 0.99, (err, cos)


@pytest.mark.parametrize("side", [64, 96])
def test_textured_synthetic_frames_within_2_percent_and_cosine_above_099(side):
    frames = torch.cat([_synthetic(side, name, seed) for seed, name in enumerate(("cat", "car"))])
    err, cos = _compare(frames, 100.0 * side / 224, seed=1)
    assert err.abs().max() < 2.0, err
    assert cos.min() > 0.99, cos


def test_finer_cells_are_more_accurate():
    images = torch.cat([_photo(name, 64) for name in PHOTOS]).float()
    logits = _logits(images, 3).float()
    probs, images = torch.softmax(logits, 1), images.repeat(2, 1, 1, 1)
    exact = dense_crf_energy(probs.double(), images.double(), 28.6, 15.0).float()
    errors = [
        (grid_crf_energy(probs, images, 28.6, 15.0, cells_per_sigma=c) / exact - 1).abs().max()
        for c in (1.0, 2.0)
    ]
    assert errors[1] < errors[0]


def test_a_batch_is_the_stack_of_its_images():
    images = torch.cat([_photo("coffee", 40), _synthetic(40, "dog", 3)])
    images = torch.cat([images, 255 - images])  # different colour boxes in one batch
    logits = _logits(images, 5)
    images = images.repeat(2, 1, 1, 1)
    probs = torch.softmax(logits, 1)
    whole = grid_crf_energy(probs, images, 18.0, 15.0)
    alone = torch.cat([grid_crf_energy(probs[i : i + 1], images[i : i + 1], 18.0, 15.0) for i in range(len(images))])  # fmt: skip
    torch.testing.assert_close(whole, alone, rtol=1e-10, atol=0)


def test_the_filter_is_symmetric_positive_semidefinite_and_gradcheck_passes():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1, 3, 6, 7), generator=g).double()
    n = 6 * 7
    basis = torch.eye(n, dtype=torch.float64).reshape(n, 1, 6, 7)
    w = torch.cat([bilateral_grid_products(e[None], images, 5.0, 60.0) for e in basis])
    w = w.reshape(n, n)
    torch.testing.assert_close(w, w.T, rtol=0, atol=1e-12)
    assert torch.linalg.eigvalsh(w).min() > -1e-10
    logits = torch.randn(2, 3, 6, 7, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda z: grid_crf_energy(torch.softmax(z, 1), images.expand(2, -1, -1, -1), 5.0, 60.0),
        (logits,),
    )


def test_properties():
    images = _photo("chelsea", 48).repeat(2, 1, 1, 1)
    logits = _logits(images[:1], 2)
    loss = DenseCRFLoss(sigma_xy=21.0, loss_weight=1.0)
    value = loss(logits, images)
    assert value > 0
    # a uniform colour offset, the order of the regions, a 3rd empty region: the same energy
    torch.testing.assert_close(loss(logits, images + 37.0), value, rtol=1e-6, atol=0)
    torch.testing.assert_close(loss(logits.flip(1), images), value, rtol=1e-10, atol=0)
    third = torch.cat([logits, torch.full_like(logits[:, :1], -80.0)], 1)
    torch.testing.assert_close(loss(third, images), value, rtol=1e-10, atol=0)
    # a hard map with one region everywhere: no cut, no energy
    hard = torch.zeros_like(logits)
    hard[:, 1] = 50.0
    assert loss(hard, images).item() == pytest.approx(0.0, abs=1e-12)
    # three regions and grey images agree with the exact energy as well
    probs = torch.softmax(torch.randn(2, 3, 48, 48, dtype=torch.float64), 1)
    for imgs in (images, images.mean(1, keepdim=True)):
        exact = dense_crf_energy(probs, imgs, 21.0, 15.0)
        torch.testing.assert_close(
            grid_crf_energy(probs, imgs, 21.0, 15.0), exact, rtol=0.02, atol=0
        )


def test_reduced_scale_matches_the_exact_method_at_that_scale():
    images = torch.cat([_photo("rocket", 64), _synthetic(64, "boat", 4)])
    logits = _logits(images, 6)
    images = images.repeat(2, 1, 1, 1)
    for scale in (0.5, 0.75):
        grid, dense = (
            DenseCRFLoss(sigma_xy=28.6, scale=scale, loss_weight=1.0, method=m)(logits, images)
            for m in ("grid", "dense")
        )
        assert grid.item() == pytest.approx(dense.item(), rel=0.02), scale


def test_spatial_modes_are_few_and_accurate_at_the_paper_geometry():
    blocks, modes = spatial_modes(224, 224, 100.0, dtype=torch.float64)
    assert modes.shape == (28 * 28, 8) and blocks.shape == (224 * 224,)  # 8-pixel blocks
    assert blocks.view(224, 224)[9, 17] == 1 * 28 + 2
    ys = torch.arange(28, dtype=torch.float64) * 8 + 3.5
    pos = torch.stack(torch.meshgrid(ys, ys, indexing="ij"), -1).reshape(-1, 2)
    exact = torch.exp(-(torch.cdist(pos, pos) ** 2) / (2 * 100.0**2))
    error = modes @ modes.T - exact
    assert error.norm() / exact.norm() < 0.01  # 0.8 %; 5 % at most, at the corners
    assert error.abs().max() < 0.06


def test_errors():
    probs = torch.full((1, 2, 4, 4), 0.5)
    with pytest.raises(ValueError, match="up to 3 colour channels"):
        grid_crf_energy(probs, torch.zeros(1, 4, 4, 4), 10.0, 15.0)
    with pytest.raises(ValueError, match="same B, H, W"):
        grid_crf_energy(probs, torch.zeros(1, 3, 4, 5), 10.0, 15.0)
