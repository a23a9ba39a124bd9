"""Partial cross-entropy (PAL): CE on the seeded pixels only."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsvol.registry import LOSSES

__all__ = ["PartialCrossEntropy"]


@LOSSES.register_module(name="partial_ce")
class PartialCrossEntropy(nn.Module):
    """Mean CE of logits (B,C,H,W) over the labelled pixels of a seed map (B,H,W); 0 if none."""

    def __init__(self, ignore_index: int = -255, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, loss_weight={self.loss_weight}"

    def forward(self, logits: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
        """``loss_weight`` × the mean over all labelled pixels of the batch (as the reference's
        ``CrossEntropyLoss(reduction='mean')``); a batch without a labelled pixel gives 0.

        Seeds on the CPU are checked to hold classes or ``ignore_index`` (a named error); on a
        device that check would wait for the device, so there ``cross_entropy``'s own assertion
        guards the classes and the step never syncs."""
        if logits.ndim != 4 or seeds.shape != (logits.shape[0], *logits.shape[2:]):
            raise ValueError(
                f"partial_ce expects logits (B, C, H, W) and seeds (B, H, W), got "
                f"{tuple(logits.shape)} and {tuple(seeds.shape)}"
            )
        labelled = seeds != self.ignore_index
        bad = labelled & ((seeds < 0) | (seeds >= logits.shape[1]))
        if seeds.device.type == "cpu" and bad.any():
            raise ValueError(
                f"seed map holds {seeds[bad][0].item()}, neither a class in [0, {logits.shape[1]}) "
                f"nor ignore_index {self.ignore_index}"
            )
        total = F.cross_entropy(
            logits, seeds.long(), ignore_index=self.ignore_index, reduction="sum"
        )
        return self.loss_weight * total / labelled.sum().clamp(min=1)
