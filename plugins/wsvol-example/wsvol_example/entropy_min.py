"""Entropy minimisation: pushes every pixel of the localization output towards one region."""

from __future__ import annotations

import torch
from torch import nn


class EntropyMinLoss(nn.Module):
    """Mean over pixels and frames of the entropy of softmax(logits) over channels, × ``loss_weight``."""

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def extra_repr(self) -> str:
        return f"loss_weight={self.loss_weight}"

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """``loss_weight`` · mean of −Σ_c p_c log p_c, p = softmax of ``logits`` (B, C, H, W) over C."""
        if logits.ndim != 4 or logits.shape[1] < 2:
            raise ValueError(
                f"entropy_min expects logits (B, C>=2, H, W), got {tuple(logits.shape)}"
            )
        log_p = logits.float().log_softmax(dim=1)  # log_softmax: no log(0) for confident pixels
        return self.loss_weight * -(log_p.exp() * log_p).sum(dim=1).mean()
