"""Smooth-GradCAM++ (Omeiza et al., 2019)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from wsvol.cams.gradcampp import GradCAMpp, gradcampp_weights
from wsvol.registry import CAM_METHODS


@CAM_METHODS.register_module(name="smooth_gradcampp")
class SmoothGradCAMpp(GradCAMpp):
    """GradCAM++ with g, g², g³ averaged over ``n`` noisy copies of the input.

    Copy i is ``images + sigma·ε_i``, ``ε_i`` the i-th ``torch.randn(images.shape)`` drawn from
    ``generator`` if given, else from a generator seeded with ``seed`` at every call (same maps
    for the same input), else from torch's global RNG (``seed=None``). The feature maps A and the
    target classes come from the clean input; ``sigma`` is in the units of the (normalized)
    input, as in torchcam. Costs one forward plus ``n`` forward+backward passes per batch.
    """

    def __init__(self, model: nn.Module, target_layer: nn.Module | str, *, n: int = 4,
                 sigma: float = 0.3, seed: int | None = 0, generator: torch.Generator | None = None,
                 **kwargs: Any) -> None:
        super().__init__(model, target_layer, **kwargs)
        if int(n) < 1:
            raise ValueError(f"Smooth-GradCAM++ needs n >= 1 noisy copies, got n={n}")
        if sigma < 0:
            raise ValueError(f"Smooth-GradCAM++ noise sigma must be >= 0, got sigma={sigma}")
        self.n, self.sigma, self.seed, self.generator = int(n), float(sigma), seed, generator

    def activations_and_gradients(self, images: Tensor, targets: Any = None, gradients: bool = True
                                  ) -> tuple[Tensor, Any, Tensor, Tensor]:
        """Clean A, logits and targets; the gradient terms are the noisy averages (ḡ, ḡ², ḡ³)."""
        acts, _, logits, targets = super().activations_and_gradients(images, targets, gradients=False)
        if not gradients:
            return acts, None, logits, targets
        gen = self.generator
        if gen is None and self.seed is not None:
            gen = torch.Generator(device=images.device).manual_seed(self.seed)
        sums = [torch.zeros_like(acts) for _ in range(3)]
        for _ in range(self.n):
            noise = torch.randn(images.shape, generator=gen, dtype=images.dtype,
                                device=gen.device if gen is not None else images.device)
            _, g, _, _ = super().activations_and_gradients(images + self.sigma * noise.to(images.device), targets)
            for power, total in enumerate(sums, start=1):
                total += g.pow(power)
        return acts, tuple(total / self.n for total in sums), logits, targets

    def channel_weights(self, acts: Tensor, grads: tuple[Tensor, Tensor, Tensor], targets: Tensor) -> Tensor:
        return gradcampp_weights(acts, *grads)
