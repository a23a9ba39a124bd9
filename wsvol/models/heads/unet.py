"""TCAM's localization head: a U-Net decoder on a CNN encoder's stage maps, 2 output channels.

As TCAM's ``UnetTCAM`` (segmentation_models' decoder): the input's own map is dropped, the deepest
stage is the head and the others are skips, deepest first. Each block upsamples ×2 (nearest),
resizes bilinearly to the skip's size when they differ (a stride-1 stage: layer3 at layer4's
size), concatenates the skip and applies two conv3×3-BN-ReLU; the last block has no skip. Then a
conv3×3 → 2 logits (0 = background, 1 = foreground), resized bilinearly to the input size if needed.
Initialized as TCAM's code does (:mod:`wsvol.models.initialization`).
For ResNet-50 at 224 (stride-1 layer3/4): [2048+1024 → 256 @28] → [256+512 → 128 @28] →
[128+256 → 64 @56] → [64+64 → 32 @112] → [32 → 16 @224] → 2 @224.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wsvol.models.initialization import init_decoder, init_head
from wsvol.registry import HEADS


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DecoderBlock(nn.Module):
    """×2 nearest upsampling, resize to the skip, concatenation, two conv3×3-BN-ReLU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels, self.skip_channels, self.out_channels = in_channels, skip_channels, out_channels
        self.conv1 = _conv_bn_relu(in_channels + skip_channels, out_channels)
        self.conv2 = _conv_bn_relu(out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        """(B, in, h, w) [+ skip (B, skip, h', w')] → (B, out, 2h, 2w) or (B, out, h', w')."""
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            if x.shape[-2:] != skip.shape[-2:]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=True)  # as TCAM's code
            x = torch.cat([x, skip], dim=1)
        return self.conv2(self.conv1(x))


@HEADS.register_module(name="unet_decoder")
class UNetDecoderHead(nn.Module):
    """U-Net decoder over an encoder's ``stages`` ([input, stem, stage1, ...]) → logits (B, 2, H, W).

    Args:
        backbone: read for ``stage_channels`` (the channels of its ``stages``), not kept.
        channels: output channels of the blocks, deepest first (TCAM: 256, 128, 64, 32, 16; one
            block per stage after the input, the last one without a skip).
    """

    reads = "stages"

    def __init__(self, backbone: Any, channels: Sequence[int] = (256, 128, 64, 32, 16)) -> None:
        super().__init__()
        encoder = [int(c) for c in getattr(backbone, "stage_channels", ())]
        if len(encoder) < 3:
            raise ValueError(f"unet_decoder needs a backbone with stage_channels (input, stem, stages...); "
                             f"{type(backbone).__name__} has {encoder or 'none'}")
        if not channels or any(int(c) < 1 for c in channels):
            raise ValueError(f"unet_decoder channels must be positive, got {channels!r}")
        deep = encoder[1:][::-1]  # the input's own map is not a skip; deepest first
        channels = [int(c) for c in channels]
        ins = [deep[0], *channels[:-1]]
        skips = [*deep[1:], *([0] * len(channels))][: len(channels)]
        self.blocks = nn.ModuleList(DecoderBlock(i, s, o) for i, s, o in zip(ins, skips, channels))
        self.seg_head = nn.Conv2d(channels[-1], 2, 3, padding=1)
        init_decoder(self.blocks)
        init_head(self.seg_head)

    def forward(self, stages: Sequence[torch.Tensor]) -> torch.Tensor:
        """``stages`` [input, stem, ..., deepest] → logits (B, 2, H, W) at the input's size."""
        stages = list(stages)
        deep = stages[1:][::-1]
        x, skips = deep[0], deep[1:]
        for i, block in enumerate(self.blocks):
            x = block(x, skips[i] if i < len(skips) else None)
        x = self.seg_head(x)
        if x.shape[-2:] != stages[0].shape[-2:]:
            x = F.interpolate(x, size=stages[0].shape[-2:], mode="bilinear", align_corners=False)
        return x
