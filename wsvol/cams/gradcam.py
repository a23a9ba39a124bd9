"""GradCAM (Selvaraju et al., 2017)."""

from __future__ import annotations

from torch import Tensor

from wsvol.cams.base import BaseCAM
from wsvol.registry import CAM_METHODS


@CAM_METHODS.register_module(name="gradcam")
class GradCAM(BaseCAM):
    """``w_k = mean_positions ∂y_c/∂A_k``; ``M = ReLU(Σ_k w_k A_k)``."""

    def channel_weights(self, acts: Tensor, grads: Tensor, targets: Tensor) -> Tensor:
        return grads.mean(dim=(2, 3))
