"""The mmengine runner as wsvol uses it: work dirs, atomic checkpoints, safe resume.

mmengine's own resume breaks on current torch (``torch.load`` defaults to ``weights_only=True``
and mmengine's checkpoints hold its runtime objects), and it writes checkpoints in place.
``WsvolRunner`` loads through :mod:`wsvol.engine.checkpoint` and writes through a rename.
"""

from __future__ import annotations

import os
import os.path as osp

from mmengine.dist import master_only
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from wsvol.engine.checkpoint import from_safe, to_safe
from wsvol.registry import FUNCTIONS, RUNNERS
from wsvol.weights import WeightsError, load_checkpoint_file, load_weights


@RUNNERS.register_module(name="wsvol_runner")
class WsvolRunner(Runner):
    """mmengine ``Runner`` with atomic checkpoint writes and weights-only-safe checkpoints."""

    _resuming = False

    def register_default_hooks(self, hooks: dict | None = None) -> None:
        """mmengine's default hooks plus ``finite_loss`` (:class:`FiniteLossHook`; ``finite_loss: null`` turns it off)."""
        from wsvol.engine.hooks import FiniteLossHook

        hooks = dict(hooks or {})
        if "finite_loss" in hooks and hooks["finite_loss"] is None:
            hooks.pop("finite_loss")
        else:
            hooks.setdefault("finite_loss", FiniteLossHook())
        super().register_default_hooks(hooks)

    def call_hook(self, fn_name: str, **kwargs) -> None:
        super().call_hook(fn_name, **kwargs)
        if fn_name == "before_save_checkpoint":  # after every hook added its part: only safe types
            checkpoint = kwargs["checkpoint"]
            checkpoint.update(to_safe(dict(checkpoint)))

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs) -> None:
        partial = f".{filename}.partial"
        super().save_checkpoint(out_dir, partial, *args, **kwargs)
        os.replace(osp.join(out_dir, partial), osp.join(out_dir, filename))

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        # mmengine looks collate functions up in its root registry only; resolve ours first.
        if isinstance(dataloader, dict) and isinstance(dataloader.get("collate_fn"), dict):
            collate = dict(dataloader["collate_fn"])
            if isinstance(collate.get("type"), str) and FUNCTIONS.get(collate["type"]) is not None:
                collate["type"] = FUNCTIONS.get(collate["type"])
            dataloader = {**dataloader, "collate_fn": collate}
        return Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)

    def load_checkpoint(self, filename: str, map_location="cpu", strict: bool = True,
                        revise_keys: list = [(r"^module\.", "")]):  # noqa: B006 (mmengine's signature)
        """Load ``filename`` safely (weights only) into the model, strictly: a checkpoint of another
        model stops the run with every missing, unexpected and mis-shaped key listed."""
        import re

        import torch

        checkpoint = from_safe(load_checkpoint_file(filename, map_location="cpu" if map_location == "default"
                                                    else map_location))
        if not isinstance(checkpoint, dict):
            raise WeightsError(f"{filename}: holds a {type(checkpoint).__name__}, not a checkpoint or state dict")
        meta = checkpoint.get("meta")
        if isinstance(meta, dict) and "config" in meta:  # mmengine's resume runs it as a Python config
            raise WeightsError(f"{filename}: refused, its meta.config holds a Python config, which mmengine's "
                               "resume would execute; wsvol never writes that key (its checkpoints keep the "
                               "config as text in meta.cfg)")
        if self._resuming and not (isinstance(meta, dict) and {"epoch", "iter"} <= set(meta)
                                   and "message_hub" in checkpoint):
            raise WeightsError(f"{filename}: not a training checkpoint of wsvol (no meta.epoch, meta.iter, "
                               "message_hub): --resume continues a run from its epoch_N.pth; to start from "
                               "these weights set load_from instead")
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        state = checkpoint.get("state_dict", checkpoint)
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise WeightsError(f"{filename}: its state_dict is not a mapping of names to tensors")
        for pattern, repl in revise_keys:
            state = {re.sub(pattern, repl, k): v for k, v in state.items()}
        if strict:
            load_weights(model, state, filename)
        else:
            _load_checkpoint_to_model(model, {"state_dict": state}, strict=False, revise_keys=[])
        self._has_loaded = True
        self.logger.info(f"Loaded checkpoint {filename}")
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False


def _rank_local_buffers() -> dict:
    """DDP arguments that keep buffers rank-local during training, as mmengine does on CUDA."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    # torch >= 2.14 renamed ``broadcast_buffers`` (now deprecated) to ``forward_sync_buffers``
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    return {"forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers": False}


def same_on_all_ranks(obj):
    """Rank 0's ``obj`` on every rank (``obj`` itself when not distributed)."""
    from mmengine.dist import broadcast_object_list, is_distributed

    if not is_distributed():
        return obj
    box = [obj]
    broadcast_object_list(box, src=0)
    return box[0]


def build_runner(cfg) -> WsvolRunner:
    """A :class:`WsvolRunner` for a loaded, checked config."""
    cfg.setdefault("default_scope", "wsvol")
    if cfg.get("launcher", "none") != "none":
        _distributed_defaults(cfg)
    runner = WsvolRunner.from_cfg(cfg)
    check_normalization(cfg, runner.model.module if is_model_wrapper(runner.model) else runner.model)
    return runner


def check_normalization(cfg, model) -> None:
    """A model that undoes the input normalization (``mean``/``std`` buffers, e.g. TrCAM-V for
    the CRF's colours) must undo what the data pipelines' ``normalize`` did; else raise, naming both."""
    import torch

    from wsvol.config.loader import ConfigError, provenance_of, where
    from wsvol.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    mean, std = getattr(model, "mean", None), getattr(model, "std", None)
    if not (isinstance(mean, torch.Tensor) and isinstance(std, torch.Tensor) and mean.numel() == std.numel() == 3):
        return
    ours = (mean.flatten().tolist(), std.flatten().tolist())
    for split in ("train", "val", "test"):
        steps = ((cfg.get(f"{split}_dataloader") or {}).get("dataset") or {}).get("pipeline") or []
        for i, step in enumerate(steps):
            if not isinstance(step, dict) or step.get("type") != "normalize":
                continue
            theirs = (list(step.get("mean", IMAGENET_MEAN)), list(step.get("std", IMAGENET_STD)))
            if any(abs(a - b) > 1e-4 for x, y in zip(ours, theirs) for a, b in zip(x, y)):
                key = f"{split}_dataloader.dataset.pipeline"
                fmt = lambda v: "[" + ", ".join(f"{x:.4g}" for x in v) + "]"  # noqa: E731
                raise ConfigError(
                    f"{where(provenance_of(cfg), key)}: {key}[{i}] normalizes with mean {fmt(theirs[0])}, "
                    f"std {fmt(theirs[1])}, but model ({type(model).__name__}) undoes mean {fmt(ours[0])}, "
                    f"std {fmt(ours[1])} (model.mean / model.std, by default its backbone's): set one to match"
                )


def _distributed_defaults(cfg) -> None:
    """What a distributed run needs beyond mmengine's defaults (CPU wrapper, synced buffers)."""
    import torch

    if cfg.get("model_wrapper_cfg") is None and not torch.cuda.is_available():
        # mmengine passes device_ids=[LOCAL_RANK], which DDP rejects for a CPU module
        cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=None,
                                     find_unused_parameters=cfg.get("find_unused_parameters", False),
                                     **_rank_local_buffers())
    # Ranks update BatchNorm statistics on their own batches; average them after every epoch so
    # that all ranks evaluate (and rank 0 saves) the same model.
    hooks = list(cfg.get("custom_hooks") or [])
    if not any(h.get("type") in ("SyncBuffersHook", "mmengine.SyncBuffersHook") for h in hooks):
        cfg.custom_hooks = [*hooks, dict(type="SyncBuffersHook")]
