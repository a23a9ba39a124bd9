"""TrCAM-V's localization head: a convolutional decoder on the last block's attention maps.

Input: the last block's softmax attention (B, heads, T, T), T = P prefix tokens + N patches.
Rows kept: the CLS row and the N patch rows; columns kept: the N patch tokens (no
renormalization, as in the reference's ``attn[:, :, :, 1:]``). Register/distillation rows and
columns are dropped, so the input always has heads·(1+N) channels on the g_h×g_w patch grid
(6·197 = 1182 for ViT-S/16 at 224) and a model with registers reads like one without.

Decoder: ``len(widths) + 1`` blocks, each a ×2 upsample then (conv3×3-BN-ReLU)×2, widths
in → 192 → 96 → 48 → 2 by default. Only the first round(log2(patch)) blocks upsample (all 4
for patch 16; 3 for patch 8, the last block then works at full resolution); a final bilinear
resize covers what powers of two cannot (patch 14, patch 32, sizes off the patch grid).
Output (B, 2, H, W) logits: channel 0 = background, channel 1 = foreground.

Paper vs reference code (both available):
- ``upsample``: ``"bilinear"`` (paper, default) or ``"nearest"`` (reference ``DecoderBlock``).
- ``output``: ``"logits"`` (default) ends the last block with conv3×3-BN-ReLU (48→48) and a
  plain conv3×3 (48→2), so both logits are free; ``"reference"`` ends it like the reference code,
  conv3×3-BN-ReLU (48→2) then conv3×3-BN-ReLU (2→2), i.e. non-negative logits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from wsvol.registry import HEADS


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


@HEADS.register_module(name="attention_decoder")
class AttentionDecoderHead(nn.Module):
    """Decodes the last block's attention (CLS + patch rows, patch columns) into a 2-channel map.

    ``backbone`` is only read for its geometry (``num_heads``, ``num_prefix_tokens``,
    ``grid_size``, ``img_size``), not kept.
    """

    reads = "attn"

    def __init__(
        self,
        backbone: Any,
        widths: Sequence[int] = (192, 96, 48),
        upsample: Literal["bilinear", "nearest"] = "bilinear",
        output: Literal["logits", "reference"] = "logits",
    ) -> None:
        super().__init__()
        if upsample not in ("bilinear", "nearest"):
            raise ValueError(f"upsample must be 'bilinear' or 'nearest', got {upsample!r}")
        if output not in ("logits", "reference"):
            raise ValueError(f"output must be 'logits' or 'reference', got {output!r}")
        if not widths or any(int(w) < 1 for w in widths):
            raise ValueError(f"widths must be positive channel counts, got {widths!r}")
        self.num_heads: int = backbone.num_heads
        self.num_prefix_tokens: int = backbone.num_prefix_tokens
        self.grid_size: tuple[int, int] = tuple(backbone.grid_size)
        self.img_size: tuple[int, int] = tuple(backbone.img_size)
        num_patches = self.grid_size[0] * self.grid_size[1]
        self.num_tokens = self.num_prefix_tokens + num_patches
        self.in_channels = self.num_heads * (1 + num_patches)

        ratio = min(i / g for i, g in zip(self.img_size, self.grid_size))
        self.num_upsamples = min(len(widths) + 1, max(0, round(math.log2(ratio))))
        chans = [self.in_channels, *map(int, widths)]
        blocks = []
        for i in range(len(widths) + 1):
            up = [nn.Upsample(scale_factor=2, mode=upsample)] if i < self.num_upsamples else []
            if i < len(widths):
                convs = _conv_bn_relu(chans[i], chans[i + 1]) + _conv_bn_relu(
                    chans[i + 1], chans[i + 1]
                )
            elif output == "logits":
                convs = _conv_bn_relu(chans[i], chans[i]) + [nn.Conv2d(chans[i], 2, 3, padding=1)]
            else:
                convs = _conv_bn_relu(chans[i], 2) + _conv_bn_relu(2, 2)
            blocks.append(nn.Sequential(*up, *convs))
        self.decoder = nn.Sequential(*blocks)

    def attention_to_maps(self, attn: torch.Tensor) -> torch.Tensor:
        """Attention (B, heads, T, T) → (B, heads·(1+N), g_h, g_w): CLS + patch rows, patch columns."""
        if attn.ndim != 4 or tuple(attn.shape[1:]) != (
            self.num_heads,
            self.num_tokens,
            self.num_tokens,
        ):
            raise ValueError(
                f"attention_decoder expects attention of shape (B, {self.num_heads}, {self.num_tokens}, "
                f"{self.num_tokens}) for grid {self.grid_size}, got {tuple(attn.shape)}"
            )
        P = self.num_prefix_tokens
        x = attn[..., P:]
        if P > 1:  # drop register/distillation rows, keep the CLS row
            x = torch.cat((x[:, :, :1], x[:, :, P:]), dim=2)
        return x.reshape(attn.shape[0], self.in_channels, *self.grid_size)

    def forward(self, attn: torch.Tensor) -> torch.Tensor:
        """Attention (B, heads, T, T) → logits (B, 2, H, W) at input resolution (0 = bg, 1 = fg)."""
        x = self.decoder(self.attention_to_maps(attn))
        if tuple(x.shape[-2:]) != self.img_size:
            x = F.interpolate(x, size=self.img_size, mode="bilinear", align_corners=False)
        return x
