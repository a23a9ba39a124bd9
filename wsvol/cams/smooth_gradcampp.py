"""Smooth-GradCAM++ (Omeiza et al., 2019)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from wsvol.cams.gradcampp import GradCAMpp, gradcampp_weights
from wsvol.registry import CAM_METHODS


@CAM_METHODS.register_module(name="smooth_gradcampp")
class SmoothGradCAMpp(GradCAMpp):
    """GradCAM++ with g, g², g³ averaged over ``n`` noisy copies of the input.

    Copy i of a frame is ``image + sigma·ε_i``. With ``seed`` (the default), each frame draws its
    own ε_1…ε_n from a CPU generator seeded by ``seed`` and the frame's pixels, so a frame's map
    is the same alone or in any batch, at any position, on any device (a resumed pseudo-label run
    with another ``batch_size`` gives the same maps). With a ``generator``, or with ``seed=None``
    (torch's global RNG), the noise is drawn from that stream, frame after frame, copy after copy.
    The feature maps A and the target classes come from the clean input; ``sigma`` is in the
    units of the (normalized) input, as in torchcam. Costs one forward plus ``n``
    forward+backward passes per frame. The noisy copies of a small batch go through the network
    together, ``max(1, pass_frames // B)`` copies of the B frames a pass (one pass of 4 frames
    for n = 4 copies of one frame): a convolution costs less per frame in a larger batch, so a
    single frame's map costs about 0.85× what n passes of one frame cost on a CPU. A pass never
    holds more frames than ``max(B, pass_frames)``; batches of ``pass_frames`` frames or more
    take one copy a pass.

    Args:
        n: noisy copies of each frame.
        sigma: standard deviation of the noise, in normalized-input units.
        seed: seeds each frame's noise with its pixels; None draws from torch's global RNG.
        generator: draw the noise from this stream instead (frame after frame, copy after copy).
        pass_frames: the most frames one pass of noisy copies holds (at least the batch itself).
    """

    def __init__(self, model: nn.Module, target_layer: nn.Module | str, *, n: int = 4,
                 sigma: float = 0.3, seed: int | None = 0, generator: torch.Generator | None = None,
                 pass_frames: int = 16, **kwargs: Any) -> None:
        super().__init__(model, target_layer, **kwargs)
        if int(n) < 1:
            raise ValueError(f"Smooth-GradCAM++ needs n >= 1 noisy copies, got n={n}")
        if sigma < 0:
            raise ValueError(f"Smooth-GradCAM++ noise sigma must be >= 0, got sigma={sigma}")
        if int(pass_frames) < 1:
            raise ValueError(f"Smooth-GradCAM++ needs pass_frames >= 1, got pass_frames={pass_frames}")
        self.n, self.sigma, self.seed, self.generator = int(n), float(sigma), seed, generator
        self.pass_frames = int(pass_frames)

    def frame_generators(self, images: Tensor) -> list[torch.Generator | None]:
        """One generator per frame: seeded by (``seed``, the frame's pixels) or the shared stream."""
        if self.generator is not None or self.seed is None:
            return [self.generator] * len(images)
        gens = []
        for image in images.detach().float().cpu():
            digest = hashlib.sha256(image.contiguous().numpy().tobytes()).digest()
            state = np.random.SeedSequence([self.seed, int.from_bytes(digest[:8], "little")]).generate_state(2)
            gens.append(torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1])))
        return gens

    def noise(self, images: Tensor) -> list[Tensor]:
        """The ``n`` noise tensors ε_1…ε_n (each shaped like ``images``) this call adds."""
        gens = self.frame_generators(images)
        out = []
        for _ in range(self.n):
            draws = [torch.randn(images.shape[1:], generator=g, device=g.device if g is not None else "cpu")
                     for g in gens]
            out.append(torch.stack(draws).to(images.device, images.dtype))
        return out

    def activations_and_gradients(self, images: Tensor, targets: Any = None, gradients: bool = True
                                  ) -> tuple[Tensor, Any, Tensor, Tensor]:
        """Clean A, logits and targets; the gradient terms are the noisy averages (ḡ, ḡ², ḡ³)."""
        acts, _, logits, targets = super().activations_and_gradients(images, targets, gradients=False)
        if not gradients:
            return acts, None, logits, targets
        sums = [torch.zeros_like(acts) for _ in range(3)]
        noises = self.noise(images)
        per_pass = max(1, self.pass_frames // len(images))
        for start in range(0, self.n, per_pass):
            copies = noises[start:start + per_pass]
            noisy = torch.cat([images + self.sigma * noise for noise in copies])
            _, g, _, _ = super().activations_and_gradients(noisy, targets.repeat(len(copies)))
            for copy in g.split(len(images)):  # copies in order: the same sums as one pass each
                for power, total in enumerate(sums, start=1):
                    total += copy.pow(power)
        return acts, tuple(total / self.n for total in sums), logits, targets

    def channel_weights(self, acts: Tensor, grads: tuple[Tensor, Tensor, Tensor], targets: Tensor) -> Tensor:
        return gradcampp_weights(acts, *grads)
