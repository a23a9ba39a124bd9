"""Connected components of boolean masks, batched on the masks' own device.

Every pixel of a component is labelled with the flat (raster) index of the component's first
pixel, so labels order components as ``skimage.measure.label`` numbers them (by first pixel in
raster order). Two exact methods:

* ``closure`` (grids of at most :data:`CLOSURE_MAX_PIXELS` pixels, e.g. a ViT's patch grid):
  reachability by repeated squaring of the (pixels × pixels) adjacency, ⌈log2 N⌉ batched matrix
  products; a fixed amount of work, so the host never waits on the device;
* ``propagate`` (larger masks): FastSV's hooking and shortcutting of parent pointers (Zhang,
  Azad & Hu, "FastSV", 2020) until no grandparent changes. Whether something changed is read on
  the host once per round (a device sync per round; a handful of rounds on blob-like masks).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["CLOSURE_MAX_PIXELS", "component_boxes_mask", "label_components"]

#: Masks with at most this many pixels per frame are labelled by ``closure`` under ``auto``.
CLOSURE_MAX_PIXELS = 1024


def label_components(mask: torch.Tensor, connectivity: int = 2, method: str = "auto") -> torch.Tensor:
    """Component labels of masks (B, H, W) bool: the first pixel's flat index, -1 outside the mask.

    ``connectivity`` 1 joins the 4 edge neighbours, 2 the 8 neighbours (skimage's convention);
    ``method`` is ``auto`` (``closure`` for masks of at most ``CLOSURE_MAX_PIXELS`` pixels, else
    ``propagate``), ``closure`` or ``propagate``.
    """
    if mask.ndim != 3 or mask.dtype != torch.bool:
        raise ValueError(f"label_components expects a bool mask (B, H, W), got {tuple(mask.shape)} {mask.dtype}")
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 (4 neighbours) or 2 (8 neighbours), got {connectivity}")
    b, h, w = mask.shape
    if method == "auto":
        method = "closure" if h * w <= CLOSURE_MAX_PIXELS else "propagate"
    if method == "closure":
        labels = _closure(mask, connectivity)
    elif method == "propagate":
        labels = _propagate(mask, connectivity)
    else:
        raise ValueError(f"method must be 'auto', 'closure' or 'propagate', got {method!r}")
    return torch.where(mask, labels, -1)


def _neighbourhood(h: int, w: int, connectivity: int, device: torch.device) -> torch.Tensor:
    """(N, N) bool: pixel i and pixel j are neighbours (or the same pixel)."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    dy = (ys.reshape(-1, 1) - ys.reshape(1, -1)).abs()
    dx = (xs.reshape(-1, 1) - xs.reshape(1, -1)).abs()
    return (dy + dx <= 1) if connectivity == 1 else ((dy <= 1) & (dx <= 1))


def _closure(mask: torch.Tensor, connectivity: int) -> torch.Tensor:
    b, h, w = mask.shape
    n = h * w
    flat = mask.reshape(b, n)
    reach = (_neighbourhood(h, w, connectivity, mask.device) & flat[:, :, None] & flat[:, None, :]).float()
    for _ in range(max(1, math.ceil(math.log2(max(n, 2))))):
        reach = (reach @ reach > 0).float()  # counts stay below 2**24: exact in float32
    index = torch.arange(n, device=mask.device)
    return torch.where(reach > 0, index, n).amin(-1).reshape(b, h, w)


def _neighbour_min(labels: torch.Tensor, connectivity: int) -> torch.Tensor:
    """Smallest label among each pixel and its neighbours (pixels outside the frame do not count)."""
    padded = F.pad(labels, (1, 1, 1, 1), value=2**62)  # long labels; 2**62 is exact as a float
    rows = torch.minimum(torch.minimum(padded[:, :, :-2], padded[:, :, 2:]), padded[:, :, 1:-1])
    if connectivity == 2:  # the 3×3 minimum is separable: rows, then columns
        return torch.minimum(torch.minimum(rows[:, :-2], rows[:, 2:]), rows[:, 1:-1])
    cols = torch.minimum(padded[:, :-2, 1:-1], padded[:, 2:, 1:-1])
    return torch.minimum(rows[:, 1:-1], cols)


def _propagate(mask: torch.Tensor, connectivity: int) -> torch.Tensor:
    """FastSV (Zhang, Azad & Hu, 2020): every pixel points to a parent with a smaller index;
    each round hooks parents onto the smallest grandparent across the pixel's edges, then
    shortcuts; done when no grandparent changes. Roots end as each component's first pixel."""
    b, h, w = mask.shape
    n = h * w
    if n >= 2**24:
        raise ValueError(f"label_components handles at most 2**24 pixels per frame, got {h}x{w}")
    flat = mask.reshape(b, n)
    spare = torch.full((b, 1), n, device=mask.device, dtype=torch.long)  # the outside's slot
    parent = torch.cat([torch.where(flat, torch.arange(n, device=mask.device), n), spare], 1)
    grand = parent.gather(1, parent)
    while True:
        around = _neighbour_min(grand[:, :n].reshape(b, h, w), connectivity).reshape(b, n)
        around = torch.cat([torch.where(flat, torch.minimum(around, grand[:, :n]), n), spare], 1)
        parent = parent.scatter_reduce(1, parent, around, "amin")  # hook the parent
        parent = torch.minimum(torch.minimum(parent, around), grand)  # hook the pixel; shortcut
        new_grand = parent.gather(1, parent)
        if torch.equal(new_grand, grand):  # the one host read per round
            return parent[:, :n].reshape(b, h, w)
        grand = new_grand


def component_boxes_mask(mask: torch.Tensor, connectivity: int = 2) -> torch.Tensor:
    """Union of the slices ``[y0:min(y1 + 1, H - 1), x0:min(x1 + 1, W - 1)]`` of every component's
    bounding box (inclusive corners x0..x1, y0..y1): (B, H, W) bool.

    This is CLIP-ES's ``scoremap2bbox`` mask: OpenCV's contours of a binary map are the outer
    borders of its 8-connected components (and borders of holes, whose boxes lie inside), and
    the reference slices ``[y:y + h, x:x + w]`` with the end clipped to H - 1 / W - 1.
    """
    b, h, w = mask.shape
    n = h * w
    labels = label_components(mask, connectivity).reshape(b, n)
    dev = mask.device
    ys = torch.arange(h, device=dev).repeat_interleave(w).expand(b, n)
    xs = torch.arange(w, device=dev).repeat(h).expand(b, n)
    slot = torch.where(labels >= 0, labels, n)  # pixels outside the mask go to a spare slot
    high = torch.full((b, n + 1), n, device=dev, dtype=torch.long)
    low = torch.zeros_like(high)
    y0 = high.scatter_reduce(1, slot, ys, "amin")[:, :n]
    x0 = high.scatter_reduce(1, slot, xs, "amin")[:, :n]
    y1 = low.scatter_reduce(1, slot, ys, "amax")[:, :n]
    x1 = low.scatter_reduce(1, slot, xs, "amax")[:, :n]
    roots = labels == torch.arange(n, device=dev)  # one entry per component
    ye, xe = (y1 + 1).clamp(max=h - 1), (x1 + 1).clamp(max=w - 1)
    # a 2-D difference array: +1 at the box's first corner, -1 past its ends, summed twice
    diff = torch.zeros(b, (h + 1) * (w + 1), device=dev, dtype=torch.int32)
    one = roots.to(torch.int32)
    for yy, xx, sign in ((y0, x0, 1), (y0, xe, -1), (ye, x0, -1), (ye, xe, 1)):
        diff.scatter_add_(1, torch.where(roots, yy * (w + 1) + xx, 0), sign * one)
    cover = diff.reshape(b, h + 1, w + 1).cumsum(1).cumsum(2)[:, :h, :w]
    return cover > 0
