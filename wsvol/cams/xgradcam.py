"""XGradCAM (Fu et al., 2020)."""

from __future__ import annotations

from torch import Tensor

from wsvol.cams.base import BaseCAM
from wsvol.registry import CAM_METHODS


@CAM_METHODS.register_module(name="xgradcam")
class XGradCAM(BaseCAM):
    """``w_k = Σ_positions (A_k / Σ_positions A_k)·g_k``; ``M = ReLU(Σ_k w_k A_k)``.

    A channel whose maps sum to 0 gets weight 0 (pytorch-grad-cam adds 1e-7 to the sum instead).
    """

    def channel_weights(self, acts: Tensor, grads: Tensor, targets: Tensor) -> Tensor:
        total = acts.sum(dim=(2, 3), keepdim=True)
        return (acts / total.masked_fill(total == 0, 1) * grads).sum(dim=(2, 3))
