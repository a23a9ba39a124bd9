"""Position-embedding resize: bit-identical to each original model's code, options checked."""

from __future__ import annotations

import pytest
import torch
from originals import (
    DinoV2PosEmbed,
    clip_es_upsample_pos_emb,
    deit_main_interpolate,
    dino_interpolate_pos_encoding,
)

from wsvol.weights.pos_embed import RESIZE_PRESETS, resize_abs_pos_embed, resize_options


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# (input H, W): squares, non-squares both ways, down- and upsampling (H is the originals' ``w``)
@pytest.mark.parametrize("hw", [(224, 224), (448, 448), (336, 224), (224, 518), (98, 98), (1036, 1036)])
def test_dinov2_preset_is_dinov2s_own_interpolation(hw):
    pos = randn(1, 1370, 384)
    h, w = hw
    x = torch.zeros(1, (h // 14) * (w // 14) + 1, 384)
    expected = DinoV2PosEmbed(pos).interpolate_pos_encoding(x, h, w)
    assert torch.equal(resize_abs_pos_embed(pos, (h // 14, w // 14), **RESIZE_PRESETS["dinov2"]), expected)


def test_dinov2_reg_preset_is_the_reg_models_interpolation():
    pos = randn(1, 1370, 384)
    expected = DinoV2PosEmbed(pos, interpolate_antialias=True, interpolate_offset=0.0).interpolate_pos_encoding(
        torch.zeros(1, 257, 384), 224, 224)
    assert torch.equal(resize_abs_pos_embed(pos, (16, 16), **RESIZE_PRESETS["dinov2_reg"]), expected)


@pytest.mark.parametrize("hw", [(448, 448), (320, 480), (160, 160), (480, 320)])
def test_dino_preset_is_dinos_own_interpolation(hw):
    pos = randn(1, 197, 384, seed=1)
    h, w = hw
    expected = dino_interpolate_pos_encoding(pos, torch.zeros(1, (h // 16) * (w // 16) + 1, 384), h, w)
    assert torch.equal(resize_abs_pos_embed(pos, (h // 16, w // 16), **RESIZE_PRESETS["dino"]), expected)


def test_deit_timm_and_clip_es_presets_are_their_code():
    from timm.layers import resample_abs_pos_embed

    pos = randn(1, 197, 384, seed=2)
    assert torch.equal(resize_abs_pos_embed(pos, (24, 24), **RESIZE_PRESETS["deit"]), deit_main_interpolate(pos, 24))
    assert torch.equal(resize_abs_pos_embed(pos, (10, 12), **RESIZE_PRESETS["timm"]),
                       resample_abs_pos_embed(pos, [10, 12], num_prefix_tokens=1))
    clip = randn(197, 768, seed=3)  # CLIP's own (tokens, width) layout, no batch dimension
    assert torch.equal(resize_abs_pos_embed(clip, (30, 20), **RESIZE_PRESETS["clip_es"]),
                       clip_es_upsample_pos_emb(clip, (30, 20)))


def test_offset_and_antialias_each_change_the_values():
    """Why the options must follow the original model: the same size, other values."""
    pos = randn(1, 1370, 384, seed=3)
    orig = resize_abs_pos_embed(pos, (16, 16), **RESIZE_PRESETS["dinov2"])
    no_offset = resize_abs_pos_embed(pos, (16, 16), mode="bicubic", antialias=False, offset=None)
    timm_default = resize_abs_pos_embed(pos, (16, 16), **RESIZE_PRESETS["timm"])
    assert orig.shape == no_offset.shape == timm_default.shape == (1, 257, 384)
    assert (orig - no_offset).abs().max() > 0.05
    assert (orig - timm_default).abs().max() > 0.5
    assert torch.equal(orig[:, 0], pos[:, 0])  # the CLS token's position is kept


def test_same_grid_dtype_and_prefix_tokens():
    pos = randn(1, 197, 8).half()
    assert resize_abs_pos_embed(pos, (14, 14)) is pos
    out = resize_abs_pos_embed(pos, (7, 7), **RESIZE_PRESETS["dino"])
    assert out.dtype == torch.float16 and out.shape == (1, 50, 8)
    two = randn(1, 2 + 16, 8)  # CLS + a distillation token before a 4×4 grid
    out = resize_abs_pos_embed(two, (2, 2), num_prefix_tokens=2, **RESIZE_PRESETS["deit"])
    assert out.shape == (1, 6, 8) and torch.equal(out[:, :2], two[:, :2])
    with pytest.raises(ValueError, match=r"195 position embeddings after 2 prefix token\(s\) are not a square"):
        resize_abs_pos_embed(randn(1, 197, 8), (7, 7), num_prefix_tokens=2)


def test_resize_options():
    assert resize_options(None, "dinov2") == {"mode": "bicubic", "antialias": False, "offset": 0.1}
    assert resize_options("timm", "dinov2") == RESIZE_PRESETS["timm"]
    # a dict changes some options; the others stay the original model's
    assert resize_options({"antialias": True}, "dino") == {"mode": "bicubic", "antialias": True, "offset": 0.1}
    assert resize_options({"mode": "bilinear", "offset": None}, "dino")["offset"] is None
    bad = [("bicubik", "unknown preset 'bicubik'; one of dino, dinov2"),
           ({"mode": "cubic"}, r"x.mode: 'cubic' is not one of bicubic"),
           ({"antialias": "yes"}, "x.antialias: expected true or false"),
           ({"mode": "nearest", "antialias": True}, "antialias needs mode bicubic or bilinear"),
           ({"offset": 2}, r"x.offset: expected null or a number in \[0, 1\)"),
           ({"size": 3}, r"x: expected a preset name or a dict of mode, antialias, offset; got \['size'\]")]
    for spec, message in bad:
        with pytest.raises(ValueError, match=message):
            resize_options(spec, "dino", "x")
