"""LayerCAM (Jiang et al., 2021)."""

from __future__ import annotations

from torch import Tensor

from wsvol.cams.base import BaseCAM
from wsvol.registry import CAM_METHODS


@CAM_METHODS.register_module(name="layercam")
class LayerCAM(BaseCAM):
    """Position-wise weights: ``M = ReLU(Σ_k ReLU(g_k)·A_k)``."""

    def combine(self, acts: Tensor, grads: Tensor, targets: Tensor) -> Tensor:
        return (grads.clamp_min(0) * acts).sum(dim=1)
