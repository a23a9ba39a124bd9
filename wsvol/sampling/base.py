"""The interface every pixel sampler follows."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class PixelSampler(ABC):
    """Turns pseudo-label maps (B,H,W) in [0,1] into seed maps: 1 = FG, 0 = BG, ``ignore_index`` else."""

    ignore_index: int

    @abstractmethod
    def __call__(
        self, maps: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Seed map (B,H,W) long, redrawn at every call; deterministic for a given generator state."""
