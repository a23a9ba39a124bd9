"""size_barrier_schedule: t grows ×1.01 per epoch up to 10, and survives a state_dict round trip."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import CheckpointHook
from mmengine.runner import get_priority
from torch import nn

from wsvol.engine.loss_schedule import SizeBarrierScheduleHook
from wsvol.losses import SizeBarrierLoss
from wsvol.models.trcamv import TrCAMV

TINY = dict(
    backbone=dict(img_size=32, depth=2, embed_dim=48, num_heads=2, num_last_blocks=2),
    loc_head=dict(widths=(8, 8, 8)),
    num_classes=2,
    losses=dict(size=dict(loss_weight=0.01)),
)


def run_epochs(hook: SizeBarrierScheduleHook, model: nn.Module, epochs: int) -> None:
    runner = SimpleNamespace(model=model)
    hook.before_train(runner)
    for _ in range(epochs):
        hook.after_train_epoch(runner)


def test_t_grows_by_mu_per_epoch_up_to_its_cap_in_every_size_loss():
    # nested anywhere in the model, and behind a wrapper holding the model as ``module``
    a, b = SizeBarrierLoss(), SizeBarrierLoss(t0=2.0, mu=2.0, t_max=10.0)
    model = nn.ModuleDict({"losses": nn.ModuleList([a]), "other": nn.Sequential(nn.Linear(1, 1), b)})
    wrapper = nn.Module()
    wrapper.module = model
    hook = SizeBarrierScheduleHook()
    seen_a, seen_b = [], []
    runner = SimpleNamespace(model=wrapper)
    for _ in range(4):
        hook.after_train_epoch(runner)
        seen_a.append(a.t)
        seen_b.append(b.t)
    assert seen_a == pytest.approx([1.01**n for n in range(1, 5)], rel=1e-12)
    assert seen_b == [4.0, 8.0, 10.0, 10.0]  # capped at t_max
    run_epochs(hook, wrapper, 300)
    assert a.t == pytest.approx(10.0)  # 1.01^n passes 10 at n = 232


def test_t_of_a_trcamv_model_is_checkpointed_and_restored():
    model = TrCAMV(**TINY)
    run_epochs(SizeBarrierScheduleHook(), model, 5)
    state = model.state_dict()
    assert "losses.size._t" in state
    fresh = TrCAMV(**TINY)
    assert fresh.losses["size"].t == 1.0
    fresh.load_state_dict(state)
    assert fresh.losses["size"].t == pytest.approx(1.01**5, rel=1e-12)
    run_epochs(SizeBarrierScheduleHook(), fresh, 1)  # the resumed run goes on from there
    assert fresh.losses["size"].t == pytest.approx(1.01**6, rel=1e-12)
    assert state["losses.size._t"].dtype == torch.float64  # no drift from float32 rounding


def test_it_steps_before_the_checkpoint_is_written():
    # after_train_epoch hooks run by priority: t must be raised before CheckpointHook saves
    assert get_priority(SizeBarrierScheduleHook.priority) < get_priority(CheckpointHook.priority)


def test_a_model_without_size_loss_is_left_alone():
    model = TrCAMV(**{**TINY, "losses": None})
    run_epochs(SizeBarrierScheduleHook(), model, 3)
    assert "size" not in model.losses
