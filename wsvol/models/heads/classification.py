"""Classification heads: the linear probe on a ViT's CLS tokens, GAP + linear on a CNN's maps.

A head's ``reads`` names the backbone output it takes (a key of the backbone's dict).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from wsvol.registry import HEADS


@HEADS.register_module(name="linear_probe")
class LinearProbeHead(nn.Module):
    """Linear layer on the concatenated CLS tokens of the last blocks (num_last_blocks·D → C).

    ``backbone`` is only read for its geometry (``num_last_blocks``, ``embed_dim``), not kept.
    Initialized like DINO's linear probe (weights ~ N(0, 0.01²), zero bias), as in the reference.
    """

    reads = "cls_tokens"

    def __init__(self, backbone: Any, num_classes: int) -> None:
        super().__init__()
        self.in_features = backbone.num_last_blocks * backbone.embed_dim
        self.linear = nn.Linear(self.in_features, num_classes)
        nn.init.normal_(self.linear.weight, mean=0.0, std=0.01)
        nn.init.zeros_(self.linear.bias)

    def forward(self, cls_tokens: torch.Tensor) -> torch.Tensor:
        """CLS tokens (B, n, D), oldest block first → class logits (B, C)."""
        x = cls_tokens.flatten(1)  # [cls_1 | cls_2 | ...], DINO's torch.cat order
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"linear_probe expects {self.in_features} features per sample, got cls_tokens of shape {tuple(cls_tokens.shape)}"
            )
        return self.linear(x)


@HEADS.register_module(name="gap_linear")
class GapLinearHead(nn.Linear):
    """Global average pooling then a linear layer (K → C): the head of ``resnet50_cam`` (TCAM's WGAP).

    Its weights are ``weight`` and ``bias`` like the classifier's ``head``, so a classifier
    checkpoint's ``head.*`` loads into it (``cls_head_checkpoint`` with ``cls_head_prefix: head.``).
    ``backbone`` is only read for ``num_features``.
    """

    reads = "features"

    def __init__(self, backbone: Any, num_classes: int) -> None:
        super().__init__(int(backbone.num_features), num_classes)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """Feature maps (B, K, h, w) → class logits (B, C)."""
        if maps.ndim != 4 or maps.shape[1] != self.in_features:
            raise ValueError(f"gap_linear expects maps (B, {self.in_features}, h, w), got {tuple(maps.shape)}")
        return super().forward(maps.mean(dim=(2, 3)))
