"""crf, method ``dense``: the chunked exact computation against a brute-force double loop and an
explicit dense W; the options and properties of the loss (both methods). The O(N) ``grid``
method against this exact one: ``test_crf_grid.py``."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from wsvol.losses import DenseCRFLoss, dense_crf_energy
from wsvol.registry import LOSSES


def _brute_force(probs: torch.Tensor, image: torch.Tensor, sxy: float, srgb: float) -> float:
    """Σ_r Σ_i Σ_j S_ri W_ij (1 − S_rj) for one image, two plain Python loops over pixels."""
    k, h, w = probs.shape
    pix = [(y, x) for y in range(h) for x in range(w)]
    s = probs.reshape(k, -1).tolist()
    col = image.reshape(3, -1).T.tolist()
    total = 0.0
    for i, (yi, xi) in enumerate(pix):
        for j, (yj, xj) in enumerate(pix):
            d_rgb = sum((a - b) ** 2 for a, b in zip(col[i], col[j]))
            wij = math.exp(
                -((yi - yj) ** 2 + (xi - xj) ** 2) / (2 * sxy**2) - d_rgb / (2 * srgb**2)
            )
            total += wij * sum(s[r][i] * (1 - s[r][j]) for r in range(k))
    return total


def _dense(
    probs: torch.Tensor, images: torch.Tensor, sxy: float, srgb: float, pitch=(1.0, 1.0)
) -> torch.Tensor:
    """The same energy with an explicit (N, N) matrix built from pairwise differences, per image."""
    b, k, h, w = probs.shape
    ys, xs = torch.meshgrid(torch.arange(h) * pitch[0], torch.arange(w) * pitch[1], indexing="ij")
    pos = torch.stack([ys, xs], -1).reshape(-1, 2).double()
    d_pos = ((pos[:, None] - pos[None]) ** 2).sum(-1)
    out = []
    for i in range(b):
        col = images[i].reshape(images.shape[1], -1).T.double()
        kernel = torch.exp(
            -d_pos / (2 * sxy**2) - ((col[:, None] - col[None]) ** 2).sum(-1) / (2 * srgb**2)
        )
        s = probs[i].reshape(k, -1)
        out.append(sum(s[r] @ kernel @ (1 - s[r]) for r in range(k)))
    return torch.stack(out)


def _inputs(b: int, k: int, h: int, w: int, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (2 * torch.randn(b, k, h, w, generator=g)).to(dtype)
    images = torch.randint(0, 256, (b, 3, h, w), generator=g).to(dtype)
    return logits, images


def test_registered():
    assert LOSSES.module_dict["crf"] is DenseCRFLoss


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matches_a_brute_force_double_loop_12x12(dtype):
    logits, images = _inputs(1, 2, 12, 12, seed=0, dtype=dtype)
    # σ_rgb = 40 on random colours so that colour terms matter without vanishing
    probs = torch.softmax(logits, 1)
    ours = dense_crf_energy(probs, images, sigma_xy=5.0, sigma_rgb=40.0)
    ref = _brute_force(probs[0].double(), images[0].double(), 5.0, 40.0)
    assert ours.item() == pytest.approx(ref, rel=1e-3 if dtype == torch.float32 else 1e-10)


@pytest.mark.parametrize("k", [2, 3])
def test_value_and_gradient_match_an_explicit_dense_matrix_20x16(k):
    logits, images = _inputs(3, k, 20, 16, seed=k)
    logits.requires_grad_(True)
    ref_logits = logits.detach().clone().requires_grad_(True)

    ours = dense_crf_energy(
        torch.softmax(logits, 1), images, sigma_xy=6.0, sigma_rgb=30.0, block_elems=3000
    )
    ref = _dense(torch.softmax(ref_logits, 1), images, 6.0, 30.0)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=0)
    (ours * torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)).sum().backward()
    (ref * torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)).sum().backward()
    torch.testing.assert_close(logits.grad, ref_logits.grad, rtol=1e-9, atol=1e-12)


def test_float32_value_and_gradient_within_1_percent():
    logits, images = _inputs(2, 2, 20, 16, seed=5)
    l32 = logits.float().requires_grad_(True)
    l64 = logits.clone().requires_grad_(True)
    loss32 = DenseCRFLoss(scale=1.0, loss_weight=1.0, method="dense")(l32, images.float())
    ref = _dense(torch.softmax(l64, 1), images, 100.0, 15.0).mean()
    ref.backward()
    loss32.backward()
    assert loss32.item() == pytest.approx(ref.item(), rel=1e-2)
    err = (l32.grad.double() - l64.grad).abs().max() / l64.grad.abs().max()
    assert err < 1e-2


def test_gradcheck():
    logits, images = _inputs(2, 2, 3, 4, seed=9)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda z: dense_crf_energy(torch.softmax(z, 1), images, 2.0, 60.0, block_elems=5), (logits,)
    )


def test_blocks_and_batching_do_not_change_the_result():
    logits, images = _inputs(4, 2, 9, 11, seed=2)
    probs = torch.softmax(logits, 1)
    whole = dense_crf_energy(probs, images, 4.0, 20.0, block_elems=10**9)
    tiny = dense_crf_energy(probs, images, 4.0, 20.0, block_elems=1)
    one_by_one = torch.cat(
        [dense_crf_energy(probs[i : i + 1], images[i : i + 1], 4.0, 20.0) for i in range(4)]
    )
    torch.testing.assert_close(whole, tiny, rtol=1e-12, atol=0)
    torch.testing.assert_close(whole, one_by_one, rtol=1e-12, atol=0)


def test_reduced_scale_is_the_exact_energy_of_the_downsampled_inputs_rescaled():
    logits, images = _inputs(2, 2, 24, 20, seed=3)
    h, w = 12, 10
    probs = F.interpolate(torch.softmax(logits, 1), size=(h, w), mode="area")
    small = F.interpolate(images, size=(h, w), mode="nearest-exact")
    # positions in input pixels (pitch 2) is σ_xy / 2 in low-res pixels; pairs weigh (2·2)² each
    expected = _dense(probs, small, 7.0, 25.0, pitch=(2.0, 2.0)).mean() * 16
    assert torch.allclose(
        _dense(probs, small, 3.5, 25.0), _dense(probs, small, 7.0, 25.0, pitch=(2.0, 2.0))
    )
    loss = DenseCRFLoss(sigma_xy=7.0, sigma_rgb=25.0, scale=0.5, loss_weight=3.0, method="dense")(
        logits, images
    )
    assert loss.item() == pytest.approx(3.0 * expected.item(), rel=1e-10)


def test_reduced_scale_estimates_the_full_resolution_value_on_smooth_inputs():
    # smooth probabilities and a two-colour image whose edge falls on the 4×4 block grid
    h = w = 32
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    logits = torch.stack([torch.zeros(h, w), (xs - 14) / 4 + (ys - 16) / 8])[None]
    images = torch.where(xs < 16, 60.0, 200.0).expand(1, 3, h, w).contiguous()
    full = DenseCRFLoss(sigma_xy=10.0, scale=1.0, loss_weight=1.0, method="dense")(logits, images)
    for scale in (0.5, 0.25):
        approx = DenseCRFLoss(sigma_xy=10.0, scale=scale, loss_weight=1.0, method="dense")(
            logits, images
        )
        assert approx.item() == pytest.approx(full.item(), rel=0.03), scale


def test_defaults_are_the_grid_at_full_resolution():
    loss = DenseCRFLoss()
    assert (loss.method, loss.scale, loss.sigma_xy, loss.sigma_rgb) == ("grid", 1.0, 100.0, 15.0)
    assert loss.loss_weight == 1.2e-9 and loss.cells_per_sigma == 1.5  # the papers' 2e-9 × the lattice's 0.6
    assert "method=grid" in repr(loss) and "cells_per_sigma=1.5" in repr(loss)
    assert "block_elems" in repr(DenseCRFLoss(method="dense"))


@pytest.mark.parametrize("method", ["grid", "dense"])
def test_properties_and_errors(method):
    logits, images = _inputs(2, 2, 8, 8, seed=4)
    hard = torch.zeros(2, 2, 8, 8, dtype=torch.float64)
    hard[:, 1] = 60.0  # one region everywhere: no cut, no energy
    loss = DenseCRFLoss(scale=1.0, loss_weight=1.0, method=method)
    assert loss(hard, images).item() == pytest.approx(0.0, abs=1e-12)
    assert loss(logits, images).item() > 0
    assert DenseCRFLoss(scale=1.0, method=method)(logits, images).item() == pytest.approx(
        1.2e-9 * loss(logits, images).item()
    )
    # the order of the regions does not matter
    assert loss(logits.flip(1), images).item() == pytest.approx(loss(logits, images).item())
    with pytest.raises(ValueError, match="same B, H, W"):
        loss(logits, images[:, :, :4])
    with pytest.raises(ValueError, match="scale"):
        DenseCRFLoss(scale=0.0)
    with pytest.raises(ValueError, match="method"):
        DenseCRFLoss(method="lattice")
    with pytest.raises(ValueError, match="cells_per_sigma"):
        DenseCRFLoss(cells_per_sigma=0.5)


@pytest.mark.cuda
@pytest.mark.parametrize("method", ["grid", "dense"])
def test_cuda_float32_matches_the_cpu_float64_value_and_gradient(method):
    logits, images = _inputs(2, 2, 24, 20, seed=9)
    loss = DenseCRFLoss(sigma_xy=10.0, sigma_rgb=15.0, scale=1.0, loss_weight=1.0, method=method)
    ref_logits = logits.clone().requires_grad_()
    ref = loss(ref_logits, images)
    ref.backward()
    gpu_logits = logits.float().cuda().requires_grad_()
    got = loss(gpu_logits, images.float().cuda())
    got.backward()
    assert got.device.type == "cuda"
    torch.testing.assert_close(got.double().cpu(), ref.detach(), rtol=1e-3, atol=0)
    torch.testing.assert_close(
        gpu_logits.grad.double().cpu(), ref_logits.grad, rtol=1e-3, atol=1e-6
    )
