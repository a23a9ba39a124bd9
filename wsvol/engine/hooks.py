"""Runner hooks for side concerns: reproducible epochs, rich progress, validation overlays, finite losses."""

from __future__ import annotations

import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

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
    """Progress of training, validation and testing (rank 0 only).

    In a terminal: rich bars, the training bar showing the epoch, the loss and the learning rate.
    Outside one (a log file, ``nohup``, SLURM): a line with the loss terms and the learning rate
    every ``interval`` training iterations (default: the ``LoggerHook``'s interval) and at the end
    of each epoch, and a line per ``every`` % of validation and testing.

    Args:
        transient: remove the bars when they finish (terminal only).
        interval: training iterations between two loss lines outside a terminal (default: the
            ``LoggerHook``'s ``interval``).
        every: outside a terminal, a line each time validation or testing passes a multiple of
            this percentage.
    """

    priority = "LOW"

    def __init__(self, transient: bool = False, interval: int | None = None, every: float = 10.0) -> None:
        self.transient = transient
        self.interval = interval
        self.every = every
        self._progress = None
        self._tasks: dict[str, int] = {}
        self._lines = False  # outside a terminal: plain lines
        self._started = 0.0
        self._start_iter = 0

    def before_run(self, runner) -> None:
        from mmengine.hooks import LoggerHook

        from wsvol.utils.terminal import is_terminal

        self._lines = not is_terminal()
        if self.interval is None:
            self.interval = next((h.interval for h in runner.hooks if isinstance(h, LoggerHook)), 50)

    def _start(self, name: str, total: int, completed: int = 0) -> None:
        if get_rank() != 0:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from wsvol.utils.terminal import make_progress

        if self._progress is None:
            self._progress = make_progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                           TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                           transient=self.transient, every=self.every)
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
        if self._lines:
            import time

            self._started, self._start_iter = time.monotonic(), runner.iter
        else:
            self._start("train", runner.max_iters, runner.iter)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not self._lines:
            loss = self.losses(runner, batch_idx, outputs).get("loss")
            lrs = runner.optim_wrapper.get_lr().get("lr") if hasattr(runner.optim_wrapper, "get_lr") else None
            info = (f"epoch {runner.epoch + 1}/{runner.max_epochs}" + (f" loss {loss:.4f}" if loss is not None else "")
                    + (f" lr {lrs[0]:.2e}" if lrs else ""))
            self._advance("train", info)
            return
        last = batch_idx + 1 == len(runner.train_dataloader)
        if get_rank() == 0 and ((batch_idx + 1) % max(1, self.interval) == 0 or last):
            print(self.train_line(runner, batch_idx, outputs), flush=True)

    def train_line(self, runner, batch_idx: int, outputs) -> str:
        """``train: epoch 1/6 iter 23/23 (all 23/138, 17 %) loss 0.69 (loss_cls 0.69) lr 5.000e-02 elapsed 0:40 left ~3:20``."""
        import time

        from wsvol.utils.terminal import duration

        done, total = runner.iter + 1, runner.max_iters
        parts = [f"train: epoch {runner.epoch + 1}/{runner.max_epochs} iter {batch_idx + 1}/{len(runner.train_dataloader)}",
                 f"(all {done}/{total}, {100 * done / total:.0f} %)"]
        losses = self.losses(runner, batch_idx, outputs)
        if "loss" in losses:
            terms = ", ".join(f"{k} {v:.4g}" for k, v in losses.items() if k != "loss")
            parts.append(f"loss {losses['loss']:.4g}" + (f" ({terms})" if terms else ""))
        lrs = runner.optim_wrapper.get_lr().get("lr") if hasattr(runner.optim_wrapper, "get_lr") else None
        if lrs:
            parts.append("lr " + "/".join(f"{lr:.3e}" for lr in dict.fromkeys(lrs)))
        elapsed = time.monotonic() - self._started
        parts.append(f"elapsed {duration(elapsed)}")
        if done < total and done > self._start_iter:
            parts.append(f"left ~{duration(elapsed / (done - self._start_iter) * (total - done))}")
        return " ".join(parts)

    @staticmethod
    def losses(runner, batch_idx: int, outputs) -> dict[str, float]:
        """The loss terms as mmengine's log shows them: smoothed over its ``log_processor``'s
        window (the mean of the last 10 iterations by default), from the scalars its
        ``RuntimeInfoHook`` (a higher priority) has just recorded; this step's where there are none."""
        hub = getattr(runner, "message_hub", None)
        window = getattr(getattr(runner, "log_processor", None), "window_size", 10)
        out = {}
        for key, value in (outputs or {}).items():
            if "loss" not in key:
                continue
            history = hub.log_scalars.get(f"train/{key}") if hub is not None else None
            if history is None:
                out[key] = _number(value)
            elif isinstance(window, int):
                out[key] = float(history.mean(window))
            else:  # "epoch" or "global"
                out[key] = float(history.mean(batch_idx + 1) if window == "epoch" else history.mean())
        return out

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


def _number(value) -> float:
    return float(value.detach()) if hasattr(value, "detach") else float(value)


@HOOKS.register_module(name="val_overlays")
class ValOverlayHook(Hook):
    """After each validation, write overlay PNGs (heatmap, predicted box red, true boxes green) of
    ``limit`` frames to ``<work_dir>/overlays/val_epoch_<e>/`` — to watch localization improve —
    and send them to the visualizer's other backends (TensorBoard, W&B...) as images at step e."""

    priority = "LOW"

    def __init__(self, limit: int = 16) -> None:
        self.limit = limit

    def after_val_epoch(self, runner, metrics=None) -> None:
        if get_rank() != 0:
            return
        from pathlib import Path

        from wsvol.data.images import frame_loader
        from wsvol.visualization.frames import save_overlays

        result = next((m.last_result for m in runner.val_evaluator.metrics if getattr(m, "last_result", None)), None)
        if result is None:
            return
        loader = frame_loader(runner.val_dataloader.dataset.data_root)
        paths = save_overlays(Path(runner.work_dir) / "overlays" / f"val_epoch_{runner.epoch}", result, loader, self.limit)
        send_images(runner, {f"val_overlays/{p.stem}": p for p in paths}, step=runner.epoch)


@HOOKS.register_module(name="checkpoint_meta")
class CheckpointMetaHook(Hook):
    """Store in every checkpoint what ``wsvol predict`` / ``export`` read; every runner has it.

    ``meta['wsvol']`` gets the merged config as YAML, the model's ``map_normalization`` (how
    validation read its maps) and, when the checkpoint holds the very
    weights a validation measured (a ``best_*.pth``, or an ``epoch_N.pth``: wsvol writes it after
    that epoch's validation), that validation's τ (``best_tau``: the best CorLoc over all its
    frames). ``build_runner`` adds the hook to every runner. The last validation's τ lives in the
    message hub (runtime info ``wsvol/val_tau``), so it survives a resume.
    """

    priority = "NORMAL"  # its after_val_epoch runs before CheckpointHook's (VERY_LOW) saves the best

    def after_val_epoch(self, runner, metrics=None) -> None:
        keys = [k for k in (metrics or {}) if k == "best_tau" or k.endswith("/best_tau")]
        if keys:
            key = "best_tau" if "best_tau" in keys else keys[0]
            corloc = metrics.get(key[: -len("best_tau")] + "corloc")
            # CorLoc 0 at every τ: no τ is better than another, so none is chosen (predict says so)
            tau = None if corloc is not None and float(corloc) == 0 else float(metrics[key])
            runner.message_hub.update_info(VAL_TAU_INFO, {"tau": tau, "iter": int(runner.iter),
                                                          "epoch": int(runner.epoch)})

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        from wsvol.engine.predict import META_KEY, predict_meta

        val = runner.message_hub.get_info(VAL_TAU_INFO)
        measured = val if isinstance(val, dict) and val.get("iter") == runner.iter else None
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        normalization = getattr(model, "map_normalization", "minmax")
        checkpoint.setdefault("meta", {})[META_KEY] = predict_meta(runner.cfg, measured, map_normalization=normalization)


#: message-hub runtime info of the last validation's τ: {"tau", "iter", "epoch"}
VAL_TAU_INFO = "wsvol/val_tau"


def send_images(runner, images: dict, step: int) -> int:
    """Add PNG files (name → path) as images to every visualizer backend that does not keep files
    of its own (mmengine's ``LocalVisBackend`` would copy what ``overlays/`` holds); return how many
    backends got them."""
    import cv2
    from mmengine.visualization import LocalVisBackend

    visualizer = getattr(runner, "visualizer", None)
    backends = [b for b in getattr(visualizer, "_vis_backends", {}).values()  # mmengine keeps them there
                if not isinstance(b, LocalVisBackend)]
    if not backends or not images:
        return 0
    for name, path in images.items():
        picture = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if picture is None:
            continue
        for backend in backends:
            backend.add_image(name, picture[..., ::-1].copy(), step=step)
    return len(backends)


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
