"""size_barrier: the extended log-barrier against its closed form, the reduction, the t schedule."""

from __future__ import annotations

import math

import pytest
import torch

from wsvol.losses import SizeBarrierLoss, extended_log_barrier
from wsvol.registry import LOSSES


def _psi(z: float, t: float) -> float:
    """Closed form of the extended log-barrier."""
    return -math.log(-z) / t if z <= -1 / t**2 else t * z - math.log(1 / t**2) / t + 1 / t


def _dpsi(z: float, t: float) -> float:
    return -1 / (t * z) if z <= -1 / t**2 else t


def test_registered():
    assert LOSSES.module_dict["size_barrier"] is SizeBarrierLoss


@pytest.mark.parametrize("t", [1.0, 2.0, 7.5])
def test_values_and_gradients_on_both_sides_of_the_switch(t):
    switch = -1 / t**2
    points = [switch * 50, switch * 2, switch * 1.01, switch, switch * 0.99, switch * 0.3, 0.0, 2.0]
    z = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    psi = extended_log_barrier(z, t)
    psi.sum().backward()
    for i, p in enumerate(points):
        assert psi[i].item() == pytest.approx(_psi(p, t), rel=1e-12, abs=1e-12)
        assert z.grad[i].item() == pytest.approx(_dpsi(p, t), rel=1e-12)
    # hand values at t = 1: ψ(−4) = −log 4, ψ(−0.5) = −0.5 + 1
    one = extended_log_barrier(torch.tensor([-4.0, -0.5], dtype=torch.float64), 1.0)
    assert one.tolist() == pytest.approx([-math.log(4), 0.5])


@pytest.mark.parametrize("t", [1.0, 1.5, 10.0])
def test_value_and_slope_are_continuous_at_the_switch(t):
    switch = -1 / t**2
    eps = 1e-9
    z = torch.tensor([switch - eps, switch + eps], dtype=torch.float64, requires_grad=True)
    psi = extended_log_barrier(z, t)
    assert abs(psi[0] - psi[1]).item() < 1e-7
    assert psi[0].item() == pytest.approx(2 * math.log(t) / t, abs=1e-7)
    psi.sum().backward()
    assert z.grad.tolist() == pytest.approx([t, t], rel=1e-6)


def test_loss_is_mean_over_images_and_regions():
    torch.manual_seed(0)
    logits = torch.randn(3, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    logits.data[2, 1] -= 30  # image 2: FG almost empty → z close to 0, linear branch
    loss_fn = SizeBarrierLoss(t0=2.0, loss_weight=0.5)
    loss = loss_fn(logits)
    probs = torch.softmax(logits.detach(), dim=1)
    sizes = [[probs[b, r].sum().item() for r in range(2)] for b in range(3)]
    expected = 0.5 * sum(_psi(-s, 2.0) for row in sizes for s in row) / 6
    assert loss.item() == pytest.approx(expected, rel=1e-10)
    # gradient: ∂loss/∂S_{b,r,i} = 0.5/6 · ψ'(−size_br) · (−1), pushed through the softmax
    loss.backward()
    grad_probs = torch.tensor(
        [[-0.5 / 6 * _dpsi(-s, 2.0) for s in row] for row in sizes], dtype=torch.float64
    )
    ref_logits = logits.detach().clone().requires_grad_(True)
    torch.softmax(ref_logits, dim=1).backward(grad_probs[:, :, None, None].expand(3, 2, 4, 5))
    torch.testing.assert_close(logits.grad, ref_logits.grad)


def test_empty_region_gives_finite_loss_and_gradient():
    logits = torch.zeros(1, 2, 3, 3, requires_grad=True)
    with torch.no_grad():
        logits[:, 1] = -200.0  # FG probability underflows to exactly 0: z = 0
    loss = SizeBarrierLoss(loss_weight=1.0)(logits)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_t_schedule_and_checkpoint():
    loss = SizeBarrierLoss()
    assert loss.t == 1.0
    ts = [loss.step_t() for _ in range(300)]
    for n, t in enumerate(ts, start=1):
        assert t == pytest.approx(min(1.01**n, 10.0), rel=1e-9)
    assert ts[230] < 10.0 and ts[231] == ts[-1] == 10.0  # 1.01^231 ≈ 9.97, 1.01^232 ≈ 10.07
    fresh = SizeBarrierLoss()
    fresh.load_state_dict(loss.state_dict())
    assert fresh.t == 10.0
    with pytest.raises(ValueError, match="t_max"):
        SizeBarrierLoss(t0=2.0, t_max=1.0)
