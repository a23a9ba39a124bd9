"""The linear probe and the attention decoder: sizes derived from the backbone, token bookkeeping."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from wsvol.models.backbones.vit import TimmViT
from wsvol.models.heads.classification import LinearProbeHead
from wsvol.models.heads.localization import AttentionDecoderHead

TINY = dict(depth=4, embed_dim=48, num_heads=3)


def _softmax_attention(batch: int, heads: int, tokens: int) -> torch.Tensor:
    return torch.randn(
        batch, heads, tokens, tokens, generator=torch.Generator().manual_seed(0)
    ).softmax(-1)


def _convs(head: AttentionDecoderHead) -> list[nn.Conv2d]:
    return [m for m in head.modules() if isinstance(m, nn.Conv2d)]


def _upsamples(head: AttentionDecoderHead) -> list[nn.Upsample]:
    return [m for m in head.modules() if isinstance(m, nn.Upsample)]


@pytest.mark.parametrize(("num_last_blocks", "embed_dim"), [(4, 48), (2, 32)])
def test_linear_probe_concatenates_cls_tokens_in_block_order(num_last_blocks, embed_dim):
    backbone = TimmViT(
        img_size=32, depth=4, embed_dim=embed_dim, num_heads=2, num_last_blocks=num_last_blocks
    )
    head = LinearProbeHead(backbone, num_classes=7)
    assert head.linear.in_features == num_last_blocks * embed_dim
    cls_tokens = backbone(torch.randn(3, 3, 32, 32))["cls_tokens"]
    concat = torch.cat(
        [cls_tokens[:, i] for i in range(num_last_blocks)], dim=-1
    )  # DINO's linear probe
    torch.testing.assert_close(head(cls_tokens), concat @ head.linear.weight.T + head.linear.bias)
    with pytest.raises(ValueError, match="linear_probe expects"):
        head(cls_tokens[:, :1])


def test_vit_s16_at_224_gives_the_papers_1182_channels_and_4_blocks():
    vit_s16 = SimpleNamespace(
        num_heads=6, num_prefix_tokens=1, grid_size=(14, 14), img_size=(224, 224)
    )
    head = AttentionDecoderHead(vit_s16).eval()
    assert head.in_channels == 1182
    assert [(c.in_channels, c.out_channels) for c in _convs(head)] == [
        (1182, 192), (192, 192), (192, 96), (96, 96), (96, 48), (48, 48), (48, 48), (48, 2),
    ]  # fmt: skip
    assert len(_upsamples(head)) == 4 and all(u.mode == "bilinear" for u in _upsamples(head))
    assert head(_softmax_attention(1, 6, 197)).shape == (1, 2, 224, 224)


def test_reference_output_and_nearest_upsampling():
    geom = SimpleNamespace(num_heads=2, num_prefix_tokens=1, grid_size=(2, 2), img_size=(32, 32))
    head = AttentionDecoderHead(geom, widths=(8, 4), upsample="nearest", output="reference").eval()
    assert [(c.in_channels, c.out_channels) for c in _convs(head)] == [
        (10, 8),
        (8, 8),
        (8, 4),
        (4, 4),
        (4, 2),
        (2, 2),
    ]
    assert all(u.mode == "nearest" for u in _upsamples(head))
    assert len(_upsamples(head)) == 3  # only 3 blocks, so ×8 then a final resize ×2
    out = head(_softmax_attention(2, 2, 5))
    assert out.shape == (2, 2, 32, 32) and out.min() >= 0  # the reference ends with BN-ReLU
    assert isinstance(head.decoder[-1][-1], nn.ReLU)
    default = AttentionDecoderHead(geom, widths=(8, 4)).eval()
    last = default.decoder[-1][-1]
    assert isinstance(last, nn.Conv2d) and (last.in_channels, last.out_channels) == (4, 2)
    with torch.no_grad():  # the default ends with a plain conv: its logits may be negative
        last.weight.zero_(), last.bias.fill_(-1.0)
    assert torch.equal(default(_softmax_attention(2, 2, 5)), torch.full((2, 2, 32, 32), -1.0))


def test_attention_to_maps_keeps_cls_and_patch_rows_and_patch_columns():
    prefix, grid, heads = 5, (2, 3), 2  # CLS + 4 registers, 6 patches
    geom = SimpleNamespace(
        num_heads=heads, num_prefix_tokens=prefix, grid_size=grid, img_size=(8, 12)
    )
    head = AttentionDecoderHead(geom, widths=(4,))
    tokens = prefix + 6
    attn = _softmax_attention(2, heads, tokens)
    maps = head.attention_to_maps(attn)
    assert maps.shape == (2, heads * 7, *grid)
    rows = [0, *range(prefix, tokens)]  # CLS row, then the patch rows
    for b in range(2):
        for h in range(heads):
            for r, row in enumerate(rows):
                for i in range(grid[0]):
                    for j in range(grid[1]):
                        assert maps[b, h * 7 + r, i, j] == attn[b, h, row, prefix + i * grid[1] + j]


BACKBONES = {  # arch, img size, extra kwargs, expected upsampling blocks
    "p16": ("deit_small_patch16_224", (64, 64), {}, 4),
    "p16_rect": ("deit_small_patch16_224", (48, 96), {}, 4),
    "p8": ("vit_small_patch8_224.dino", (32, 32), {}, 3),
    "p14_reg4": ("vit_small_patch14_reg4_dinov2", (56, 56), {}, 4),
    "p16_reg_tokens": ("vit_small_patch16_224.dino", (32, 32), {"reg_tokens": 2}, 4),
    "hybrid_stride8": ("vit_tiny_r_s16_p8_224", (48, 48), {"patch_size": 2}, 3),  # ResNet stem + 2×2 patches
}


@pytest.mark.parametrize("name", BACKBONES)
def test_decoder_on_real_backbones(name):
    arch, img, extra, ups = BACKBONES[name]
    backbone = TimmViT(arch, img_size=img, **TINY, **extra)
    head = AttentionDecoderHead(backbone, widths=(16, 8, 8)).eval()
    n = backbone.grid_size[0] * backbone.grid_size[1]
    assert head.in_channels == backbone.num_heads * (1 + n) == _convs(head)[0].in_channels
    assert len(_upsamples(head)) == ups
    out = head(backbone(torch.randn(2, 3, *img))["attn"])
    assert out.shape == (2, 2, *img)


def test_bad_input_is_reported():
    geom = SimpleNamespace(num_heads=2, num_prefix_tokens=1, grid_size=(2, 2), img_size=(32, 32))
    head = AttentionDecoderHead(geom, widths=(4,))
    with pytest.raises(ValueError, match=r"\(B, 2, 5, 5\).*\(1, 2, 6, 6\)"):
        head(_softmax_attention(1, 2, 6))
    with pytest.raises(ValueError, match="bicubic"):
        AttentionDecoderHead(geom, upsample="bicubic")
    with pytest.raises(ValueError, match="output"):
        AttentionDecoderHead(geom, output="relu")
