"""Runner hooks for side concerns: reproducible epochs, rich progress, validation overlays, finite losses."""

from __future__ import annotations

import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from wsvol.registry import HOOKS


@HOOKS.register_module(name="epoch_seed")
class EpochSeedHook(Hook):
    """Reseed torch / numpy / random from (seed, epoch) before every training epoch.

    Whatever happened before (validation, an interruption and a resume from the last epoch
    checkpoint), epoch e then draws the same random numbers, so a resumed run ends with the
    same weights as an uninterrupted one.
    """

    priority = "VERY_HIGH"

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def before_train_epoch(self, runner) -> None:
        base = self.seed if self.seed is not None else (runner.seed or 0)
        state = np.random.SeedSequence([base, runner.epoch, get_rank()]).generate_state(2)
        seed = int(state[0])
        random.seed(seed)
        np.random.seed(seed % (2**32))
        torch.manual_seed(seed)


@HOOKS.register_module(name="rich_progress")
class RichProgressHook(Hook):
    """A rich progress bar for training, validation and testing (rank 0 only)."""

    priority = "LOW"

    def __init__(self, transient: bool = False) -> None:
        self.transient = transient
        self._progress = None
        self._tasks: dict[str, int] = {}

    def _start(self, name: str, total: int, completed: int = 0) -> None:
        if get_rank() != 0:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if self._progress is None:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                      transient=self.transient)
            self._progress.start()
        self._tasks[name] = self._progress.add_task(name, total=total, completed=completed, info="")

    def _advance(self, name: str, info: str = "") -> None:
        if self._progress is not None and name in self._tasks:
            self._progress.update(self._tasks[name], advance=1, info=info)

    def _finish(self, name: str) -> None:
        if self._progress is not None and name in self._tasks:
            task = self._tasks.pop(name)
            if self.transient:
                self._progress.remove_task(task)
            if not self._tasks:
                self._progress.stop()
                self._progress = None

    def before_train(self, runner) -> None:
        self._start("train", runner.max_iters, runner.iter)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else None
        info = f"epoch {runner.epoch + 1}/{runner.max_epochs}" + (f" loss {float(loss.detach()):.4f}" if loss is not None else "")
        self._advance("train", info)

    def after_train(self, runner) -> None:
        self._finish("train")

    def before_val_epoch(self, runner) -> None:
        self._start("val", len(runner.val_dataloader))

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._advance("val")

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._finish("val")

    def before_test_epoch(self, runner) -> None:
        self._start("test", len(runner.test_dataloader))

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._advance("test")

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._finish("test")


@HOOKS.register_module(name="val_overlays")
class ValOverlayHook(Hook):
    """After each validation, write overlay PNGs (heatmap, predicted box red, true boxes green) of
    ``limit`` frames to ``<work_dir>/overlays/val_epoch_<e>/`` — to watch localization improve."""

    priority = "LOW"

    def __init__(self, limit: int = 16) -> None:
        self.limit = limit

    def after_val_epoch(self, runner, metrics=None) -> None:
        if get_rank() != 0:
            return
        from pathlib import Path

        from wsvol.visualization.frames import frame_loader, save_overlays

        result = next((m.last_result for m in runner.val_evaluator.metrics if getattr(m, "last_result", None)), None)
        if result is None:
            return
        loader = frame_loader(runner.val_dataloader.dataset.data_root)
        save_overlays(Path(runner.work_dir) / "overlays" / f"val_epoch_{runner.epoch}", result, loader, self.limit)


@HOOKS.register_module(name="finite_loss")
class FiniteLossHook(Hook):
    """Stop training at the first loss that is NaN or infinite, naming the step and the loss terms.

    On by default (``WsvolRunner`` adds it as ``default_hooks.finite_loss``; ``finite_loss: null``
    turns it off). It runs before the checkpoint hook, so the broken weights are never saved: the
    last checkpoint is the last good one.
    """

    priority = "VERY_HIGH"

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not isinstance(outputs, dict):
            return
        values = {k: torch.as_tensor(v).detach().float() for k, v in outputs.items()
                  if "loss" in k and isinstance(v, (torch.Tensor, float, int))}
        bad = {k: v for k, v in values.items() if not bool(torch.isfinite(v).all())}
        if not bad:
            return
        terms = {k: v for k, v in bad.items() if k != "loss"} or bad  # the terms at fault, else their sum
        listed = ", ".join(f"{k} = {float(v.mean())}" for k, v in terms.items())
        raise FloatingPointError(
            f"non-finite loss at epoch {runner.epoch + 1}, iteration {runner.iter + 1} (batch {batch_idx} of the "
            f"epoch): {listed}. Training stopped; no checkpoint holds these weights. A lower learning rate, "
            "gradient clipping (optim_wrapper.clip_grad) or a loss weight usually helps.")
