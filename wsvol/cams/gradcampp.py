"""GradCAM++ (Chattopadhyay et al., 2018)."""

from __future__ import annotations

import torch
from torch import Tensor

from wsvol.cams.base import BaseCAM
from wsvol.registry import CAM_METHODS


def gradcampp_weights(acts: Tensor, g: Tensor, g2: Tensor, g3: Tensor) -> Tensor:
    """(B, K) GradCAM++ weights from the maps and the 1st, 2nd, 3rd powers of their gradients.

    ``α = g² / (2g² + Σ_positions(A)·g³)`` (0 where the denominator is 0), ``w = Σ_positions α·ReLU(g)``.
    pytorch-grad-cam uses the same α with an eps of 1e-7 instead of the zero rule; torchcam puts
    ``Σ_positions(A·g³)`` in the denominator.
    """
    denom = 2 * g2 + acts.sum(dim=(2, 3), keepdim=True) * g3
    alpha = torch.where(denom != 0, g2 / torch.where(denom != 0, denom, 1), 0.0)
    return (alpha * g.clamp_min(0)).sum(dim=(2, 3))


@CAM_METHODS.register_module(name="gradcampp")
class GradCAMpp(BaseCAM):
    """Pixel-weighted gradients: ``w_k = Σ α_k·ReLU(g_k)``; ``M = ReLU(Σ_k w_k A_k)``."""

    def channel_weights(self, acts: Tensor, grads: Tensor, targets: Tensor) -> Tensor:
        return gradcampp_weights(acts, grads, grads.pow(2), grads.pow(3))
