"""Absolute-size loss (ASL) under TCAM's extended log-barrier: neither region may be empty."""

from __future__ import annotations

import torch
from torch import nn

from wsvol.registry import LOSSES

__all__ = ["SizeBarrierLoss", "extended_log_barrier"]


def extended_log_barrier(z: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """ψ_t(z) = −log(−z)/t if z ≤ −1/t², else t·z − log(1/t²)/t + 1/t (elementwise, C¹ at the switch)."""
    t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
    switch = -1.0 / t**2
    on_barrier = z <= switch
    # the branch torch.where discards must not hold log(0): its inf gradient would turn into NaN
    barrier = -torch.log(-torch.where(on_barrier, z, switch)) / t
    linear = t * z - torch.log(1.0 / t**2) / t + 1.0 / t
    return torch.where(on_barrier, barrier, linear)


@LOSSES.register_module(name="size_barrier")
class SizeBarrierLoss(nn.Module):
    """ψ_t(−Σ_pixels S_r) for r ∈ {BG, FG}, averaged over images and regions, × ``loss_weight``.

    The mean over images and the two regions is TCAM's reduction (its ``ELB`` averages over the
    batch and ``MaxSizePositiveFcams`` halves the sum over the two regions). ``t`` starts at
    ``t0`` and ``step_t()`` (called once per epoch by a runner hook) multiplies it by ``mu``,
    capped at ``t_max``; it is a buffer, so it is saved and restored with checkpoints.
    """

    def __init__(
        self, t0: float = 1.0, mu: float = 1.01, t_max: float = 10.0, loss_weight: float = 0.01
    ) -> None:
        super().__init__()
        if not (t0 > 0 and mu >= 1 and t_max >= t0):
            raise ValueError(
                f"size_barrier needs t0 > 0, mu >= 1, t_max >= t0; got t0={t0}, mu={mu}, t_max={t_max}"
            )
        self.t0, self.mu, self.t_max, self.loss_weight = (
            float(t0),
            float(mu),
            float(t_max),
            loss_weight,
        )
        self.register_buffer("_t", torch.tensor(float(t0), dtype=torch.float64))

    def extra_repr(self) -> str:
        return f"t={self.t:.4g}, t0={self.t0}, mu={self.mu}, t_max={self.t_max}, loss_weight={self.loss_weight}"

    @property
    def t(self) -> float:
        """Current barrier sharpness."""
        return float(self._t)

    def step_t(self) -> float:
        """t ← min(t·mu, t_max); returns the new t."""
        self._t.fill_(min(self.t * self.mu, self.t_max))
        return self.t

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """Loss of localization logits (B,C,H,W); the softmax over C gives the regions' maps."""
        if logits.ndim != 4:
            raise ValueError(f"size_barrier expects logits (B, C, H, W), got {tuple(logits.shape)}")
        sizes = torch.softmax(logits, dim=1).sum(dim=(2, 3))  # (B, C): soft size of each region
        t = self._t.to(device=sizes.device, dtype=sizes.dtype)
        return self.loss_weight * extended_log_barrier(-sizes, t).mean()
