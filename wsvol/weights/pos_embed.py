"""Resizing absolute position embeddings to another patch grid, as each original model does it.

A ViT trained at one input size runs at another by resampling its position embeddings over the
patch grid. How matters: with real DINOv2 weights, timm's antialiased bicubic (its default when
loading and with ``dynamic_img_size``) instead of DINOv2's own formula moved a box's IoU from
0.92 to 0.65. wsvol resizes once, when the weights are loaded, with the original model's
``mode``, ``antialias`` and ``offset`` unless a config says otherwise (``pos_embed_resize``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

#: How each original implementation resizes its position embeddings for another input size.
RESIZE_PRESETS: dict[str, dict[str, Any]] = {
    # facebookresearch/dino VisionTransformer.interpolate_pos_encoding: scale_factor (n + 0.1) / M
    "dino": {"mode": "bicubic", "antialias": False, "offset": 0.1},
    # facebookresearch/dinov2 DinoVisionTransformer as hub dinov2_vits14 builds it
    # (interpolate_offset=0.1, interpolate_antialias=False)
    "dinov2": {"mode": "bicubic", "antialias": False, "offset": 0.1},
    # the dinov2 hub *_reg models (interpolate_offset=0.0 → size=, interpolate_antialias=True)
    "dinov2_reg": {"mode": "bicubic", "antialias": True, "offset": None},
    # facebookresearch/deit main.py, fine-tuning at another size: bicubic, size=, align_corners=False
    "deit": {"mode": "bicubic", "antialias": False, "offset": None},
    # timm resample_abs_pos_embed defaults (checkpoint_filter_fn, dynamic_img_size)
    "timm": {"mode": "bicubic", "antialias": True, "offset": None},
    # open_clip resize_pos_embed (loading a checkpoint into another image_size)
    "open_clip": {"mode": "bicubic", "antialias": True, "offset": None},
    # CLIP-ES upsample_pos_emb: F.upsample(size=, mode='bilinear')
    "clip_es": {"mode": "bilinear", "antialias": False, "offset": None},
}
MODES = ("bicubic", "bilinear", "nearest", "area")


def resize_options(spec: str | Mapping[str, Any] | None, default: str, where: str = "pos_embed_resize"
                   ) -> dict[str, Any]:
    """``(mode, antialias, offset)`` from a preset name, a dict of some of them (the rest from
    ``default``), or None (the preset ``default``); a bad value raises naming ``where``."""
    base = dict(RESIZE_PRESETS[default])
    if spec is None:
        return base
    if isinstance(spec, str):
        if spec not in RESIZE_PRESETS:
            raise ValueError(f"{where}: unknown preset {spec!r}; one of {', '.join(RESIZE_PRESETS)}, "
                             "or a dict of mode, antialias, offset")
        return dict(RESIZE_PRESETS[spec])
    if not isinstance(spec, Mapping) or set(spec) - {"mode", "antialias", "offset"}:
        extra = sorted(set(spec) - {"mode", "antialias", "offset"}) if isinstance(spec, Mapping) else spec
        raise ValueError(f"{where}: expected a preset name or a dict of mode, antialias, offset; got {extra!r}")
    opts = base | dict(spec)
    if opts["mode"] not in MODES:
        raise ValueError(f"{where}.mode: {opts['mode']!r} is not one of {', '.join(MODES)}")
    if not isinstance(opts["antialias"], bool):
        raise ValueError(f"{where}.antialias: expected true or false, got {opts['antialias']!r}")
    if opts["antialias"] and opts["mode"] not in ("bicubic", "bilinear"):
        raise ValueError(f"{where}: antialias needs mode bicubic or bilinear, not {opts['mode']!r}")
    offset = opts["offset"]
    if offset is not None and (isinstance(offset, bool) or not isinstance(offset, (int, float))
                               or not 0 <= offset < 1):
        raise ValueError(f"{where}.offset: expected null or a number in [0, 1), got {offset!r}")
    return opts


def resize_abs_pos_embed(
    pos_embed: torch.Tensor,
    new_grid: tuple[int, int],
    *,
    num_prefix_tokens: int = 1,
    mode: str = "bicubic",
    antialias: bool = False,
    offset: float | None = 0.1,
) -> torch.Tensor:
    """Resize position embeddings ``(1, P + M*M, D)`` (or ``(P + M*M, D)``, CLIP's) to the
    ``(h, w)`` patch grid; the P prefix tokens (CLS, ...) are kept as they are.

    ``offset`` set (and not 0): ``F.interpolate(scale_factor=((h + offset) / M, (w + offset) / M))``
    as DINO and DINOv2 do (the scale factor, not only the size, sets where the kernel samples);
    otherwise ``F.interpolate(size=(h, w))`` as timm, DeiT, open_clip and CLIP-ES do.
    ``align_corners`` is False for the bilinear and bicubic modes. Computed in fp32, returned in
    the input's dtype; at the same grid the input comes back unchanged.
    """
    batched = pos_embed.dim() == 3
    pos = pos_embed if batched else pos_embed[None]
    prefix, grid = pos[:, :num_prefix_tokens], pos[:, num_prefix_tokens:]
    n, dim = grid.shape[1], grid.shape[2]
    m = math.isqrt(n)
    if m * m != n:
        raise ValueError(f"{n} position embeddings after {num_prefix_tokens} prefix token(s) are not a square grid")
    h, w = (int(s) for s in new_grid)
    if (h, w) == (m, m):
        return pos_embed
    kwargs: dict[str, Any] = {}
    if offset:
        kwargs["scale_factor"] = (float(h + offset) / m, float(w + offset) / m)
    else:
        kwargs["size"] = (h, w)
    if mode in ("bilinear", "bicubic"):
        kwargs["align_corners"] = False
        kwargs["antialias"] = antialias
    out = F.interpolate(grid.float().reshape(1, m, m, dim).permute(0, 3, 1, 2), mode=mode, **kwargs)
    if tuple(out.shape[-2:]) != (h, w):
        raise ValueError(f"interpolation gave a {tuple(out.shape[-2:])} grid, not {(h, w)}")
    out = out.permute(0, 2, 3, 1).reshape(1, h * w, dim).to(pos.dtype)
    out = torch.cat([prefix, out], dim=1)
    return out if batched else out[0]
