"""Dense CRF loss of Tang et al. 2018 at full resolution: exact (dense) or in O(N) (bilateral grid).

    L = Σ_r S_rᵀ W (1 − S_r),   W_ij = exp(−‖p_i − p_j‖² / 2σ_xy² − ‖I_i − I_j‖² / 2σ_rgb²)

with S_r the softmax map of region r, p the pixel position (input pixels) and I the 0–255
colour. Two ways to get W·S, one energy on top (``_CrfEnergy``: value and gradient from W·S):

* ``method: grid`` (default): W̃·S with W̃ ≈ W symmetric positive semi-definite, in O(N)
  (``wsvol.losses.bilateral_grid``: spatial eigen-modes × a trilinear colour grid). At the
  paper's geometry its energy is within about 1 % of the exact one and the gradient's cosine
  to the exact gradient above 0.999 (measured in ``docs/method.md``, tested in
  ``tests/losses/test_crf_grid.py``). W̃ is symmetric, so the gradient returned is the exact
  gradient of the approximate energy.
* ``method: dense``: exact, with the dense kernel, N² per image (the test oracle; 52 s for a
  batch of 8 frames at 224² on one CPU thread). W is never stored: it is built in cache-sized
  square tiles of at most ``block_elems`` entries (over the whole batch), only on and above the
  diagonal (W is symmetric), multiplied with S and dropped. Only kernel values below
  e⁻⁸⁰ ≈ 2e-35 are raised to it (see ``_MIN_EXPONENT``).

Notes on how it relates to the reference (TCAM/TrCAM's ``DenseCRFLoss``, a permutohedral
lattice in C++ at full resolution):

* The diagonal is included (W_ii = 1). The reference's lattice also returns each pixel's own
  contribution (approximately: the lattice is not exact either).
* The reference returns −Σ_r S_rᵀ W S_r, which differs from L by Σ_r S_rᵀ W 1 = 1ᵀ W 1 (the
  S_r sum to one): a constant of the image. Values differ by that constant; gradients with
  respect to the logits are identical (the extra term's gradient W1 is the same for every
  region and cancels through the softmax). We return L, which is 0 for a hard, one-region
  segmentation and ≥ 0 (with the grid's W̃ only up to its tiny negative entries between far
  pixels, from the truncated spatial modes).
* Both average over the images of the batch; ``loss_weight`` multiplies. The papers' 2e-9
  multiplies the reference's lattice product W̃·S, which comes out about 0.6 of the exact W·S on
  natural frames at the papers' σ (0.55–0.61, measured in ``docs/method.md``, "The lattice's
  gain"); W here is exact (the grid is within 1 % of it), so the default, 1.2e-9 = 0.6 × 2e-9,
  gives the reference's strength.
* Resolution: ``scale`` 1 (default) is the reference's. With ``scale`` < 1 the probabilities
  are area-downsampled (block means) and the image is downsampled with ``nearest-exact`` (true
  colours, as the reference's nearest), to h×w. Positions stay in input pixels (each low-res
  pixel sits at index × H/h), which is the reference's σ_xy × scale. Each low-res pixel stands
  for (H·W)/(h·w) input pixels and L is a sum over pairs, so the low-res sum is multiplied by
  ((H·W)/(h·w))² to estimate the full-resolution value (the reference does not rescale). That
  estimate is poor on textured frames (measured: up to +96 % at scale 0.5 on synthetic frames).
* Both methods compute W·S once in the forward pass (no autograd graph through it) and the
  backward pass returns ∂L/∂S_r = W1 − 2 W S_r, saved by the forward (W1 = Σ_r W S_r).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from wsvol.losses.bilateral_grid import bilateral_grid_products
from wsvol.registry import LOSSES

__all__ = [
    "DenseCRFLoss",
    "crf_features",
    "dense_crf_energy",
    "gaussian_kernel_products",
    "grid_crf_energy",
]


#: exp(−80) ≈ 2e-35 is still a normal float32; below about −87 the exp gives subnormal numbers,
#: which x86 CPUs compute 10-30x slower. Distant pairs (most of them) get 2e-35 instead of less.
_MIN_EXPONENT = -80.0


def crf_features(
    images: torch.Tensor, sigma_xy: float, sigma_rgb: float, pitch: tuple[float, float] = (1.0, 1.0)
) -> torch.Tensor:
    """Per-pixel features (B, H·W, 2+C): (y·pitch_y, x·pitch_x)/σ_xy and colour/σ_rgb, centred."""
    b, c, h, w = images.shape
    ys = torch.arange(h, dtype=images.dtype, device=images.device) * (pitch[0] / sigma_xy)
    xs = torch.arange(w, dtype=images.dtype, device=images.device) * (pitch[1] / sigma_xy)
    pos = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1).reshape(1, h * w, 2)
    colours = images.reshape(b, c, h * w).transpose(1, 2) / sigma_rgb
    feats = torch.cat([pos.expand(b, -1, -1), colours], dim=-1)
    # the kernel only sees differences; centring keeps |f|² small for the expanded distance
    return feats - feats.mean(dim=1, keepdim=True)


def gaussian_kernel_products(
    features: torch.Tensor, values: torch.Tensor, block_elems: int = 2**20
) -> torch.Tensor:
    """W @ values for W_ij = exp(−‖f_i − f_j‖²/2): features (B,N,F), values (B,N,M) → (B,N,M).

    W is built in square tiles of ≤ ``block_elems`` entries (over the batch), small enough to
    stay in cache between the matmul that makes a tile, its exp and the matmuls that use it.
    W is symmetric, so only tiles on or above the diagonal are built: tile (I, J) adds
    W_IJ·v_J to rows I and W_IJᵀ·v_I to rows J. −‖f_i − f_j‖²/2 = [f_i, −|f_i|²/2, 1]·[f_j, 1,
    −|f_j|²/2]; rounding can make it a hair above 0 (features are centred), harmless in the exp.
    Exponents below ``_MIN_EXPONENT`` are raised to it (see there).
    """
    b, n, _ = features.shape
    half_sq = -0.5 * features.pow(2).sum(-1, keepdim=True)
    ones = torch.ones_like(half_sq)
    left = torch.cat([features, half_sq, ones], dim=-1)
    right = torch.cat([features, ones, half_sq], dim=-1).transpose(1, 2)
    side = max(1, min(n, math.isqrt(max(1, block_elems // b))))
    out = torch.zeros(b, n, values.shape[-1], dtype=values.dtype, device=values.device)
    for i in range(0, n, side):
        rows = slice(i, i + side)
        for j in range(i, n, side):
            cols = slice(j, j + side)
            tile = torch.bmm(left[:, rows], right[:, :, cols]).clamp_(min=_MIN_EXPONENT).exp_()
            out[:, rows] += torch.bmm(tile, values[:, cols])
            if j != i:
                out[:, cols] += torch.bmm(tile.transpose(1, 2), values[:, rows])
    return out


class _CrfEnergy(torch.autograd.Function):
    """Σ_r S_rᵀ W (1 − S_r) per image from W·S = ``products(S)`` (W symmetric, S summing to one
    over regions, so W1 = Σ_r W S_r); the backward returns the saved ∂L/∂S_r = W1 − 2 W S_r."""

    @staticmethod
    def forward(ctx, probs: torch.Tensor, products: Callable[[torch.Tensor], torch.Tensor]):
        w_s = products(probs)  # (B, K, N) = W S_r
        w_1 = w_s.sum(dim=1, keepdim=True)  # (B, 1, N) = W 1
        ctx.save_for_backward(w_1 - 2 * w_s)
        # w_1 − w_s is W (1 − S_r): exactly 0 where a hard map has one region everywhere
        return (probs * (w_1 - w_s)).sum(dim=(1, 2))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return grad_out[:, None, None] * grad, None


def _check(probs: torch.Tensor, images: torch.Tensor, what: str = "probabilities") -> None:
    if (
        probs.ndim != 4
        or images.ndim != 4
        or probs.shape[0] != images.shape[0]
        or probs.shape[2:] != images.shape[2:]
    ):
        raise ValueError(
            f"crf expects {what} (B, K, H, W) and images (B, C, H, W) of the same B, H, W; "
            f"got {tuple(probs.shape)} and {tuple(images.shape)}"
        )


def dense_crf_energy(
    probs: torch.Tensor,
    images: torch.Tensor,
    sigma_xy: float,
    sigma_rgb: float,
    pitch: tuple[float, float] = (1.0, 1.0),
    block_elems: int = 2**20,
) -> torch.Tensor:
    """Exact Σ_r S_rᵀ W (1 − S_r) of each image (B,) at the resolution given (pixel spacing
    ``pitch``); ``probs`` (B,K,H,W) sum to one over K."""
    _check(probs, images)
    b, k, h, w = probs.shape
    features = crf_features(images.to(probs.dtype), sigma_xy, sigma_rgb, pitch)

    def products(s: torch.Tensor) -> torch.Tensor:
        return gaussian_kernel_products(features, s.transpose(1, 2), block_elems).transpose(1, 2)

    return _CrfEnergy.apply(probs.reshape(b, k, h * w), products)


def grid_crf_energy(
    probs: torch.Tensor,
    images: torch.Tensor,
    sigma_xy: float,
    sigma_rgb: float,
    pitch: tuple[float, float] = (1.0, 1.0),
    cells_per_sigma: float = 1.5,
) -> torch.Tensor:
    """Σ_r S_rᵀ W̃ (1 − S_r) of each image (B,) with the O(N) bilateral-grid W̃ ≈ W
    (``wsvol.losses.bilateral_grid``); images have 3 colour channels (fewer are zero-padded)."""
    _check(probs, images)
    b, k, h, w = probs.shape
    if images.shape[1] > 3:
        raise ValueError(f"crf method 'grid' takes up to 3 colour channels, got {images.shape[1]}")
    images = F.pad(images.to(probs.dtype), (0, 0, 0, 0, 0, 3 - images.shape[1]))

    def products(s: torch.Tensor) -> torch.Tensor:
        out = bilateral_grid_products(
            s.view(b, k, h, w), images, sigma_xy, sigma_rgb, pitch, cells_per_sigma
        )
        return out.reshape(b, k, h * w)

    return _CrfEnergy.apply(probs.reshape(b, k, h * w), products)


#: how each ``method`` computes the energy
_ENERGIES = {"grid": grid_crf_energy, "dense": dense_crf_energy}


@LOSSES.register_module(name="crf")
class DenseCRFLoss(nn.Module):
    """``loss_weight`` × batch mean of the dense CRF energy of softmax(logits), at ``scale`` × the input size.

    ``method``: ``grid`` (O(N), default) or ``dense`` (exact, N²); ``cells_per_sigma`` is the
    grid's colour cells per σ_rgb (accuracy vs time), ``block_elems`` the dense tiles' size.
    """

    def __init__(
        self,
        sigma_xy: float = 100.0,
        sigma_rgb: float = 15.0,
        scale: float = 1.0,
        loss_weight: float = 1.2e-9,
        method: Literal["dense", "grid"] = "grid",
        cells_per_sigma: float = 1.5,
        block_elems: int = 2**20,
    ) -> None:
        super().__init__()
        if method not in _ENERGIES:
            raise ValueError(f"crf method must be one of {sorted(_ENERGIES)}, got {method!r}")
        if not 0 < scale <= 1:
            raise ValueError(f"crf scale must be in (0, 1], got {scale}")
        if sigma_xy <= 0 or sigma_rgb <= 0:
            raise ValueError(
                f"crf sigmas must be > 0, got sigma_xy={sigma_xy}, sigma_rgb={sigma_rgb}"
            )
        if not cells_per_sigma >= 1:
            raise ValueError(f"crf cells_per_sigma must be >= 1, got {cells_per_sigma}")
        if block_elems < 1:
            raise ValueError(f"crf block_elems must be >= 1, got {block_elems}")
        self.sigma_xy, self.sigma_rgb, self.scale = float(sigma_xy), float(sigma_rgb), float(scale)
        self.loss_weight, self.method = loss_weight, method
        self.cells_per_sigma, self.block_elems = float(cells_per_sigma), int(block_elems)

    def extra_repr(self) -> str:
        option = (
            f"cells_per_sigma={self.cells_per_sigma}"
            if self.method == "grid"
            else f"block_elems={self.block_elems}"
        )
        return (
            f"method={self.method}, sigma_xy={self.sigma_xy}, sigma_rgb={self.sigma_rgb}, "
            f"scale={self.scale}, loss_weight={self.loss_weight}, {option}"
        )

    def energy(self, probs: torch.Tensor, images: torch.Tensor, pitch=(1.0, 1.0)) -> torch.Tensor:
        """Per-image energy (B,) of probabilities and images of the same size, by ``method``."""
        option = (
            {"cells_per_sigma": self.cells_per_sigma}
            if self.method == "grid"
            else {"block_elems": self.block_elems}
        )
        return _ENERGIES[self.method](probs, images, self.sigma_xy, self.sigma_rgb, pitch, **option)

    def forward(self, logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Loss of logits (B,K,H,W) given the frames (B,3,H,W) as unnormalised 0–255 RGB."""
        _check(logits, images, "logits")
        dtype = logits.dtype if logits.dtype in (torch.float32, torch.float64) else torch.float32
        with torch.autocast(device_type=logits.device.type, enabled=False):
            probs = torch.softmax(logits.to(dtype), dim=1)
            images = images.to(device=logits.device, dtype=dtype)
            big_h, big_w = probs.shape[2:]
            h, w = max(1, round(big_h * self.scale)), max(1, round(big_w * self.scale))
            if (h, w) != (big_h, big_w):
                probs = F.interpolate(probs, size=(h, w), mode="area")
                images = F.interpolate(images, size=(h, w), mode="nearest-exact")
            energy = self.energy(probs, images, (big_h / h, big_w / w))
            energy = energy * ((big_h * big_w) / (h * w)) ** 2
            return self.loss_weight * energy.mean()
