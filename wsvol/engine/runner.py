"""The mmengine runner as wsvol uses it: work dirs, atomic checkpoints, safe resume.

mmengine's own resume breaks on current torch (``torch.load`` defaults to ``weights_only=True``
and mmengine's checkpoints hold its runtime objects), and it writes checkpoints in place.
``WsvolRunner`` loads through :mod:`wsvol.engine.checkpoint` and writes through a rename.

An epoch's (or iteration's) checkpoint is written once that step is complete, its validation
included: mmengine's checkpoint hook saves before the validation that follows, so a run killed
during validation resumed after it, without the validation's result (the best checkpoint, the
best score in the message hub). Here the save waits for the validation: ``epoch_N.pth`` on disk
means epoch N and everything it decides are done, and a run killed before that redoes epoch N.
"""

from __future__ import annotations

import contextlib
import logging
import os
import os.path as osp
import signal
from pathlib import Path

from mmengine.dist import master_only
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from wsvol.engine.checkpoint import read_checkpoint, to_safe
from wsvol.engine.hooks import CheckpointMetaHook
from wsvol.registry import FUNCTIONS, RUNNERS
from wsvol.utils.files import commit_temp, temp_path
from wsvol.weights import load_weights


def _same_model_type(checkpoint: dict, cfg, filename: str) -> None:
    """A checkpoint whose stored config builds another model type is refused by name, before the
    key-by-key mismatch would list hundreds of keys."""
    import yaml

    from wsvol.engine.predict import META_KEY

    stored = ((checkpoint.get("meta") or {}).get(META_KEY) or {}).get("config")
    try:
        theirs = (yaml.safe_load(stored) or {}).get("model", {}).get("type") if isinstance(stored, str) else None
    except (yaml.YAMLError, AttributeError):
        theirs = None
    ours = (cfg.get("model") or {}).get("type") if cfg is not None else None
    if isinstance(theirs, str) and isinstance(ours, str) and theirs != ours:
        raise ValueError(f"{filename}: a checkpoint of a {theirs!r} model, but this config builds {ours!r}: "
                         "use the config it was trained with (config.yaml in its work dir)")


class _InternalNotices(logging.Filter):
    """Drops mmengine's notices about its own deprecated internals, which its ``CheckpointHook``
    uses on every run: nothing a user can act on, printed before every training."""

    PHRASES = ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias of "LocalBackend"')

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(phrase in message for phrase in self.PHRASES)


@RUNNERS.register_module(name="wsvol_runner")
class WsvolRunner(Runner):
    """mmengine ``Runner``: safe, strict, atomic checkpoints written after their step's validation.

    Also adds the ``finite_loss`` default hook.
    """

    on_start = None  #: called once, when the first loop starts (its checkpoint loaded): see ``Job.keep``
    _resuming = False
    _deferred: tuple | None = None  # (args, kwargs) of the step's checkpoint, waiting for its validation
    _removals: list | None = None  # checkpoints the checkpoint hook retired meanwhile (removed after the write)
    _running_hook: str | None = None

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
        _kill_point(fn_name)
        if fn_name in ("before_train", "before_val", "before_test") and self.on_start is not None:
            self.on_start, started = None, self.on_start
            started()
        if fn_name in ("before_train_epoch", "before_train_iter", "after_train"):  # no validation came
            self._write_deferred()
        outer, self._running_hook = self._running_hook, fn_name
        try:
            if fn_name in ("after_train_epoch", "after_train_iter"):
                with _removals_after_the_write(self):
                    super().call_hook(fn_name, **kwargs)
            else:
                super().call_hook(fn_name, **kwargs)
        finally:
            self._running_hook = outer
        if fn_name == "before_save_checkpoint":  # after every hook added its part: only safe types
            checkpoint = kwargs["checkpoint"]
            checkpoint.update(to_safe(dict(checkpoint)))
        elif fn_name == "after_val":  # the validation of the step is done (its best checkpoint saved)
            self._write_deferred()

    def build_logger(self, log_level: int | str = "INFO", log_file: str | None = None, **kwargs):
        """mmengine's logger, its ``.log`` file at INFO at least (the loss and learning-rate lines
        of the ``LoggerHook``, the environment, the config), the console at ``log_level``."""
        level = logging._nameToLevel[log_level] if isinstance(log_level, str) else int(log_level)
        logger = super().build_logger(log_level=min(level, logging.INFO), log_file=log_file, **kwargs)
        for handler in logger.handlers:
            if not isinstance(handler, logging.FileHandler):
                handler.setLevel(max(level, handler.level))
        if not any(isinstance(f, _InternalNotices) for f in logger.filters):
            logger.addFilter(_InternalNotices())
        return logger

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs) -> None:
        if self._running_hook in ("after_train_epoch", "after_train_iter"):  # the step's own checkpoint
            self._deferred = ((out_dir, filename, *args), kwargs)
            return
        tmp = temp_path(osp.join(out_dir, filename))
        super().save_checkpoint(out_dir, tmp.name, *args, **kwargs)
        commit_temp(tmp, osp.join(out_dir, filename))
        if self._deferred is not None and self._deferred[0][:2] == (out_dir, filename):
            # mmengine's CheckpointHook saves the step's checkpoint again after a new best (so that
            # it holds the best's record): that write is the step's, whether or not a kill follows
            self._deferred = None

    def _write_deferred(self) -> None:
        """Write the step's checkpoint that waited for validation, then retire the old ones."""
        deferred, self._deferred = self._deferred, None
        if deferred is not None:
            self.save_checkpoint(*deferred[0], **deferred[1])
        removals, self._removals = self._removals or [], None
        for path in removals:
            if osp.isfile(path):
                os.remove(path)

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

        checkpoint = read_checkpoint(filename, "cpu" if map_location == "default" else map_location,
                                     for_resume=self._resuming)
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        if strict:
            _same_model_type(checkpoint, self.cfg, filename)
        state = checkpoint.get("state_dict", checkpoint)
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
        """mmengine's resume; the checkpoint must hold wsvol's training state (see :meth:`load_checkpoint`)."""
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False


_KILL_CALLS: dict[str, int] = {}


def _kill_point(fn_name: str) -> None:
    """For the kill-and-resume tests: ``WSVOL_KILL_AT=<hook>:<n>`` SIGKILLs this process as it reaches
    the n-th call (counted over the process) of the runner hook ``<hook>``, before that call's hooks
    run: a kill at a named point of a run instead of after a guessed delay."""
    point = os.environ.get("WSVOL_KILL_AT")
    if point and point.partition(":")[0] == fn_name:
        _KILL_CALLS[fn_name] = _KILL_CALLS.get(fn_name, 0) + 1
        if _KILL_CALLS[fn_name] == int(point.partition(":")[2] or 1):
            os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def _removals_after_the_write(runner: WsvolRunner):
    """While the step's hooks run, a checkpoint hook's removal of an old checkpoint (``max_keep_ckpts``)
    is noted on ``runner`` and done after the step's own checkpoint is written, not before."""
    from mmengine.hooks import CheckpointHook

    hooks = [h for h in runner.hooks if isinstance(h, CheckpointHook) and hasattr(h, "file_backend")]
    backends = [h.file_backend for h in hooks]
    for hook, backend in zip(hooks, backends):
        hook.file_backend = _LaterRemovals(backend, runner)
    try:
        yield
    finally:
        for hook, backend in zip(hooks, backends):
            hook.file_backend = backend


class _LaterRemovals:
    """A file backend whose ``remove`` only notes the path on the runner (see :func:`_removals_after_the_write`)."""

    def __init__(self, backend, runner: WsvolRunner) -> None:
        self._backend, self._runner = backend, runner

    def remove(self, path: str) -> None:
        self._runner._removals = [*(self._runner._removals or []), str(path)]

    def __getattr__(self, name: str):
        return getattr(self._backend, name)


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


def build_runner(cfg, on_start=None) -> WsvolRunner:
    """A :class:`WsvolRunner` for a loaded, checked config; ``on_start`` is called when its first loop starts."""
    cfg.setdefault("default_scope", "wsvol")
    if cfg.get("launcher", "none") != "none":
        _distributed_defaults(cfg)
    if not cfg.get("experiment_name"):
        # mmengine names its logger, message hub and visualizer instances by experiment and keeps
        # them per process: two runners started in the same second (a baseline and its TrCAM-V,
        # a retry) would share them without a name of their own
        import secrets

        stem = Path(cfg.filename).stem if getattr(cfg, "filename", None) else "wsvol"
        cfg.experiment_name = f"{stem}-{same_on_all_ranks(secrets.token_hex(3))}"
    runner = WsvolRunner.from_cfg(cfg)
    if not any(isinstance(h, CheckpointMetaHook) for h in runner.hooks):  # what predict reads
        runner.register_hook(CheckpointMetaHook())
    check_normalization(cfg, runner.model.module if is_model_wrapper(runner.model) else runner.model)
    runner.on_start = on_start
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
