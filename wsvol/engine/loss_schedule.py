"""The size barrier's t schedule: t ← min(μ·t, t_max) after every training epoch (TCAM)."""

from __future__ import annotations

import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log
from torch import nn

from wsvol.registry import HOOKS


def scheduled_losses(model: nn.Module) -> list[nn.Module]:
    """Every submodule with a ``step_t()`` (the ``size_barrier`` losses), model wrappers included."""
    return [m for m in model.modules() if callable(getattr(m, "step_t", None))]


@HOOKS.register_module(name="size_barrier_schedule")
class SizeBarrierScheduleHook(Hook):
    """Call ``step_t()`` on every size-barrier loss of the model once after each training epoch.

    t is a buffer of the loss, so it is saved with the model. The hook runs at NORMAL priority,
    before mmengine's ``CheckpointHook`` (VERY_LOW) in ``after_train_epoch``: the checkpoint of
    epoch e holds the t of epoch e + 1, and a resumed run goes on with it.
    """

    priority = "NORMAL"

    def before_train(self, runner) -> None:
        if not scheduled_losses(runner.model):
            print_log("size_barrier_schedule: the model has no size_barrier loss (disabled?); "
                      "the hook does nothing", logger="current", level=logging.WARNING)  # fmt: skip

    def after_train_epoch(self, runner) -> None:
        for loss in scheduled_losses(runner.model):
            t = loss.step_t()
            print_log(f"size_barrier t = {t:.4g}", logger="current")
