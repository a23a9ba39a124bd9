"""W·S for the CRF loss in O(N): spatial eigen-modes × a trilinear colour grid, a whole batch at once.

W_ij = k_xy(p_i − p_j) · k_rgb(I_i − I_j), both Gaussian (σ_xy on positions, σ_rgb on 0–255
colours). The exact product W·S costs N² per image (``wsvol.losses.crf.gaussian_kernel_products``);
this module gives a symmetric positive semi-definite W̃ ≈ W and W̃·S in O(N):

1. **Space, low rank.** σ_xy (100 px on a 224² frame) is large, so k_xy on the pixel grid is a
   smooth, separable, low-rank matrix: k_xy(p_i − p_j) ≈ Σ_r u_r(i) u_r(j), with u_r the products
   e_a(y)·e_b(x) of the eigenvectors of the 1-D kernel matrices along y and x (scaled by
   √(λ_a λ_b)), keeping the pairs with λ_a λ_b ≥ ``SPATIAL_TOL`` · λ_0² (8 modes at the paper's
   geometry). Positions are taken at the centres of square blocks of side ≈ σ_xy /
   ``BLOCKS_PER_SIGMA`` (8 px at σ_xy = 100), so that the pixels of a block share their u_r.
   Then W·S = Σ_r u_r ⊙ (K_rgb (u_r ⊙ S)): R colour-only filterings of R·K channels.
2. **Colour, bilateral grid.** Colours are rotated to their principal axes (the Gaussian is
   isotropic; the rotation shrinks the box they span) and measured in cells of side
   h = σ_rgb / ``cells_per_sigma``. Each pixel is splatted to the 8 corners of its cell with
   trilinear weights, the grid is blurred with a Gaussian along each axis (exact dense matrices on
   the box, no truncation) and read back (sliced) with the same weights. Splat and slice each
   widen the kernel by a variance of h²/6 per axis, so the blur uses σ_b² = σ_rgb² − h²/3.
   What is left depends on where a colour sits in its cell: the kernel of a colour with itself
   is 1 at a vertex but 0.69 at a cell's centre (1.5 cells per σ). Uncorrected, the energy comes
   out 5-13 % low (measured at 2-3 cells per σ); with a constant amplitude it is right on
   average but 2-4 % off on frames with large flat areas (one colour, one place in its cell).
   So each pixel's weights are divided by the square root of its self-kernel
   d_i = Π_axes (1 − 2 f (1 − f) (1 − e^{−h²/2σ_b²})) (f its fraction along the axis): the
   colour kernel of every pixel with itself is then exactly 1, as in W, and the
   energy's error drops below 1 % (measured in ``docs/method.md``).
3. **Sharing.** Pixels with the same (image, colour cell, spatial block) form one key; the
   pixel stage only moves 8 corner weights × K values per pixel, the R modes enter per key
   (a sparse matrix of keys → occupied cells), and only the box's grid is dense.

W̃ = Σ_r D_r N Pᵀ B P N D_r (D_r = diag(u_r), N = diag(d_i^−½), P the trilinear splat, B the
blur: a Kronecker product of symmetric positive definite Gaussian matrices) is symmetric
positive semi-definite, so
∂(Sᵀ W̃ S)/∂S = 2 W̃ S exactly: the loss's gradient is that of the approximate energy.
Measured accuracy and cost: ``docs/method.md`` (CRF section) and ``benchmarks/bench_crf.py``.

Cost: O(N) in the pixels, plus R·K channels × the colour box for the blur (the box grows with
``cells_per_sigma``³ and the frames' colour spread). At the paper's settings (224², σ_xy = 100,
R = 8) it takes about 10 ms per frame on one CPU thread on photos and synthetic frames; frames of
random colours, which fill the RGB cube, are the worst case, about 6× that. R grows as
(frame side / σ_xy)² (20 modes at σ_xy = 50, 71 at 25 on 224²): for a small σ_xy the exact
``dense`` method at reduced ``scale`` may be the better trade.

Device-agnostic torch; the sizes that depend on the data (the colour box, the number of keys and
of occupied cells) are read once per call (a host sync on CUDA).
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import torch

__all__ = ["BLOCKS_PER_SIGMA", "SPATIAL_TOL", "bilateral_grid_products", "spatial_modes"]

#: spatial blocks per σ_xy (block side ≈ σ_xy / this, ≥ 1 pixel).
BLOCKS_PER_SIGMA = 12.0
#: spatial modes kept: λ_a·λ_b ≥ SPATIAL_TOL · λ_0² (relative eigenvalue of the 2-D kernel).
SPATIAL_TOL = 1e-2
#: the 8 corners of a grid cell, as (Δ0, Δ1, Δ2) offsets along the colour axes
_CORNERS = tuple((o >> 2 & 1, o >> 1 & 1, o & 1) for o in range(8))


def _axis_modes(
    n: int, block: int, sigma: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Along one axis of n pixels: block of each pixel, and the eigenpairs (descending) of the
    Gaussian kernel matrix among the block centres (σ in pixels of this axis)."""
    blocks = -(-n // block)
    of_pixel = torch.arange(n) // block
    centre = torch.zeros(blocks, dtype=torch.float64).index_add_(
        0, of_pixel, torch.arange(n, dtype=torch.float64)
    ) / torch.bincount(of_pixel, minlength=blocks)
    t = centre / sigma
    lam, vec = torch.linalg.eigh(torch.exp(-0.5 * (t[:, None] - t[None]) ** 2))
    return of_pixel, lam.flip(0).clamp(min=0), vec.flip(1)


@lru_cache(maxsize=16)
def _spatial_modes_cpu(
    h: int, w: int, sigma_y: float, sigma_x: float, tol: float
) -> tuple[torch.Tensor, torch.Tensor]:
    by, ly, vy = _axis_modes(h, max(1, int(sigma_y / BLOCKS_PER_SIGMA)), sigma_y)
    bx, lx, vx = _axis_modes(w, max(1, int(sigma_x / BLOCKS_PER_SIGMA)), sigma_x)
    lam = (ly[:, None] * lx[None]).flatten()
    keep = lam.argsort(descending=True)[: int((lam >= tol * lam.max()).sum())]
    a, b = keep // len(lx), keep % len(lx)
    modes = lam[keep].sqrt() * vy[:, a][:, None, :] * vx[:, b][None, :, :]  # (by, bx, R)
    block_of_pixel = (by[:, None] * len(lx) + bx[None]).flatten()
    return block_of_pixel, modes.reshape(len(ly) * len(lx), -1)


def spatial_modes(
    h: int,
    w: int,
    sigma_xy: float,
    pitch: tuple[float, float] = (1.0, 1.0),
    tol: float = SPATIAL_TOL,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spatial block of each pixel (H·W,) and the modes (blocks, R): Σ_r u_r(i)·u_r(j) ≈ k_xy(p_i − p_j).

    Positions are in input pixels (pixel index × ``pitch``); each pixel takes its block's modes."""
    blocks, modes = _spatial_modes_cpu(
        h, w, float(sigma_xy / pitch[0]), float(sigma_xy / pitch[1]), float(tol)
    )
    return blocks.to(device), modes.to(device=device, dtype=dtype)


def _colour_cells(
    images: torch.Tensor, cell: float, sigma: float
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Colours (B,3,N) in principal axes and cells of side ``cell``: the cell of each pixel (B,3,N,
    long, its lowest corner), the normalized trilinear weights of its 8 corners (8, 1, B·N), and
    the batch's box of corners (3 ints)."""
    centred = images - images.mean(2, keepdim=True)
    cov = torch.bmm(centred, centred.transpose(1, 2)).double()
    axes = torch.linalg.eigh(cov)[1].to(images.dtype)  # (B,3,3), columns = principal axes
    x = torch.bmm(axes.transpose(1, 2) / cell, centred)
    x = x - x.amin(2, keepdim=True)
    base = x.floor()
    size = (base.amax((0, 2)) + 2).long().tolist()
    f = (x - base).transpose(0, 1).reshape(3, -1)
    # the colour kernel of a pixel with itself, 1 / its square root on both sides (see above)
    off = 1 - math.exp(-0.5 * (cell / _blur_sigma(cell, sigma)) ** 2)
    norm = (1 - 2 * off * f * (1 - f)).prod(0).rsqrt()
    f0, f1, f2 = f
    g0, g1, g2 = 1 - f0, 1 - f1, 1 - f2
    weights = torch.stack([g0 * g1, g0 * f1, f0 * g1, f0 * f1])[:, None] * torch.stack([g2, f2])
    return base.long(), (weights * norm).reshape(8, 1, -1), size


def _blur_sigma(cell: float, sigma: float) -> float:
    """σ_b of the grid's blur: the trilinear splat and slice add cell²/6 each to the variance."""
    return math.sqrt(sigma**2 - cell**2 / 3)


def _axis_blur(n: int, cell: float, sigma: float, device, dtype) -> torch.Tensor:
    """(n, n) Gaussian matrix of the grid's blur along one colour axis of n vertices."""
    t = torch.arange(n, device=device, dtype=dtype) * (cell / _blur_sigma(cell, sigma))
    return torch.exp(-0.5 * (t[:, None] - t[None]) ** 2)


def _csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, size: tuple[int, int]):
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the matmul is all we use
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size=size, check_invariants=False)


@torch.no_grad()
def bilateral_grid_products(
    probs: torch.Tensor,
    images: torch.Tensor,
    sigma_xy: float,
    sigma_rgb: float,
    pitch: tuple[float, float] = (1.0, 1.0),
    cells_per_sigma: float = 1.5,
) -> torch.Tensor:
    """W̃·S for maps (B,K,H,W) and 0–255 images (B,C,H,W) → (B,K,H,W); see the module docstring."""
    b, k, h, w = probs.shape
    n_pix, dt, dev = h * w, probs.dtype, probs.device
    block_of_pixel, modes = spatial_modes(h, w, sigma_xy, pitch, SPATIAL_TOL, dev, dt)
    n_blocks, r = modes.shape
    cell = sigma_rgb / cells_per_sigma

    # -- pixels → keys (image, colour cell, block); pixel-stage tensors are channel-major (…, B·N)
    base, corner_w, size = _colour_cells(images.reshape(b, -1, n_pix).to(dt), cell, sigma_rgb)
    n_cells = size[0] * size[1] * size[2]
    cell_id = (base[:, 0] * size[1] + base[:, 1]) * size[2] + base[:, 2]
    cell_id += torch.arange(b, device=dev)[:, None] * n_cells
    keys, key_of_pixel = torch.unique(
        (cell_id * n_blocks + block_of_pixel).flatten(), return_inverse=True
    )
    n_keys = len(keys)
    values = probs.reshape(b, k, n_pix).transpose(0, 1).reshape(1, k, -1)
    per_key = torch.zeros(8 * k, n_keys, dtype=dt, device=dev).index_add_(
        1, key_of_pixel, (corner_w * values).reshape(8 * k, -1)
    )  # (corner·K, keys)

    # -- keys → occupied cells × modes: a sparse (R·cells, keys) matrix of the keys' u_r
    key_cell = keys // n_blocks
    key_modes = modes[keys - key_cell * n_blocks]  # (keys, R)
    cells, cell_of_key, per_cell = torch.unique_consecutive(
        key_cell, return_inverse=True, return_counts=True
    )
    n_occ = len(cells)
    start = torch.cat([per_cell.new_zeros(1), per_cell.cumsum(0)])
    mode_rows = torch.arange(r, device=dev)[:, None]
    to_cells = _csr(
        torch.cat(
            [(start[None, :-1] + mode_rows * n_keys).flatten(), start.new_full((1,), r * n_keys)]
        ),
        torch.arange(n_keys, device=dev).repeat(r),
        key_modes.T.flatten(),
        (r * n_occ, n_keys),
    )
    splat = (to_cells @ per_key.T.contiguous()).view(r, n_occ, 8, k)

    # -- the grid: channels (R, K) × vertices of the batch's box, blurred along its 3 axes
    shifts = torch.tensor([(a * size[1] + c) * size[2] + e for a, c, e in _CORNERS], device=dev)
    vertex = (cells[:, None] + shifts).flatten()  # (occupied cell, corner)
    grid = torch.zeros(r * k, b * n_cells, dtype=dt, device=dev)
    grid.index_add_(1, vertex, splat.permute(0, 3, 1, 2).reshape(r * k, -1))
    n0, n1, n2 = size
    grid = grid.view(-1, n2) @ _axis_blur(n2, cell, sigma_rgb, dev, dt)  # symmetric
    grid = torch.matmul(_axis_blur(n1, cell, sigma_rgb, dev, dt), grid.view(-1, n1, n2))
    grid = torch.matmul(_axis_blur(n0, cell, sigma_rgb, dev, dt), grid.reshape(-1, n0, n1 * n2))
    grid = grid.reshape(r * k, -1)

    # -- slice: the transposes of the same steps
    sliced = grid.index_select(1, vertex).view(r, k, n_occ, 8).permute(0, 2, 3, 1)
    to_keys = _csr(
        torch.arange(0, r * n_keys + 1, r, device=dev),
        (mode_rows.T * n_occ + cell_of_key[:, None]).flatten(),
        key_modes.flatten(),
        (n_keys, r * n_occ),
    )
    per_key = (to_keys @ sliced.reshape(r * n_occ, 8 * k)).T.contiguous()  # (corner·K, keys)
    out = (per_key.index_select(1, key_of_pixel).view(8, k, -1) * corner_w).sum(0)
    return out.view(k, b, h, w).transpose(0, 1)
