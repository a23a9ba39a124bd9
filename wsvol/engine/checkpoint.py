"""wsvol's own checkpoints: atomic writes, found by epoch, and held in types that load safely.

Every checkpoint loads with ``torch.load(weights_only=True)`` (:func:`wsvol.weights.load_checkpoint_file`),
ours included: nothing next to a file proves who wrote it. mmengine puts a few runtime objects
into a checkpoint (the message hub's ``HistoryBuffer``, numpy arrays and scalars, ``Counter`` of
multi-step schedulers); :func:`to_safe` turns them into tensors and plain containers before the
file is written and :func:`from_safe` turns them back after it is read.
"""

from __future__ import annotations

import json
import re
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsvol.utils.files import atomic_open, atomic_write_text

RUN_MARKER = "wsvol-run.json"
_TAG = "__wsvol_type__"


def mark_work_dir(work_dir: str | Path, info: dict[str, Any]) -> None:
    """Write the marker that makes ``work_dir`` a wsvol work dir (atomically)."""
    atomic_write_text(Path(work_dir) / RUN_MARKER, json.dumps(info, indent=2, default=str))


def to_safe(obj: Any, key: str = "checkpoint") -> Any:
    """``obj`` with mmengine's runtime objects replaced by tagged dicts of tensors and plain values.

    Raises a ``TypeError`` naming the key of anything else that ``weights_only`` would refuse, so
    that a checkpoint wsvol cannot read back is never written.
    """
    from mmengine.logging import HistoryBuffer

    if isinstance(obj, np.generic):  # before float: np.float64 is a float
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, torch.Tensor, torch.device,
                                       torch.dtype, torch.Size)):
        return obj
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {_TAG: "HistoryBuffer", "max_length": int(obj.max_length),
                "log": torch.from_numpy(np.asarray(log).copy()), "count": torch.from_numpy(np.asarray(count).copy())}
    if isinstance(obj, np.ndarray):
        return {_TAG: "ndarray", "data": torch.from_numpy(obj.copy())}
    if isinstance(obj, Counter):
        return {_TAG: "Counter", "items": [[to_safe(k, key), int(v)] for k, v in obj.items()]}
    if isinstance(obj, dict):
        out = type(obj)() if type(obj) in (dict, OrderedDict) else {}
        for k, v in obj.items():
            out[k] = to_safe(v, f"{key}.{k}")
        return out
    if isinstance(obj, (list, tuple)):
        items = [to_safe(v, f"{key}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    if isinstance(obj, (set, frozenset)):
        return {_TAG: "set", "items": [to_safe(v, key) for v in sorted(obj, key=repr)]}
    raise TypeError(f"{key}: a {type(obj).__module__}.{type(obj).__qualname__} cannot be stored in a "
                    "checkpoint that loads with weights_only=True")


def from_safe(obj: Any) -> Any:
    """Undo :func:`to_safe`."""
    if isinstance(obj, dict):
        tag = obj.get(_TAG)
        if tag == "HistoryBuffer":
            from mmengine.logging import HistoryBuffer

            return HistoryBuffer(obj["log"].numpy().tolist(), obj["count"].numpy().tolist(), obj["max_length"])
        if tag == "ndarray":
            return obj["data"].numpy()
        if tag == "Counter":
            return Counter({from_safe(k): v for k, v in obj["items"]})
        if tag == "set":
            return {from_safe(v) for v in obj["items"]}
        out = type(obj)()
        for k, v in obj.items():
            out[k] = from_safe(v)
        return out
    if isinstance(obj, list):
        return [from_safe(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(from_safe(v) for v in obj)
    return obj


def read_checkpoint(path: str | Path, map_location: Any = "cpu", for_resume: bool = False) -> dict:
    """A checkpoint to load into a runner: read weights-only (:func:`wsvol.weights.load_checkpoint_file`),
    runtime objects restored (:func:`from_safe`), and refused with a :class:`~wsvol.weights.WeightsError`
    naming the file when it is no checkpoint, when its ``meta.config`` holds a Python config (mmengine's
    resume would execute it; wsvol never writes that key), or, ``for_resume``, when it lacks the
    training state a resume needs."""
    from wsvol.weights import WeightsError, load_checkpoint_file

    checkpoint = from_safe(load_checkpoint_file(path, map_location=map_location))
    if not isinstance(checkpoint, dict):
        raise WeightsError(f"{path}: holds a {type(checkpoint).__name__}, not a checkpoint or state dict")
    meta = checkpoint.get("meta")
    if isinstance(meta, dict) and "config" in meta:
        raise WeightsError(f"{path}: refused, its meta.config holds a Python config, which mmengine's resume "
                           "would execute; wsvol never writes that key (its checkpoints keep the config as "
                           "text in meta.cfg)")
    if for_resume and not (isinstance(meta, dict) and {"epoch", "iter"} <= set(meta) and "message_hub" in checkpoint):
        raise WeightsError(f"{path}: not a training checkpoint of wsvol (no meta.epoch, meta.iter, message_hub): "
                           "--resume continues a run from its epoch_N.pth; to start from these weights set "
                           "load_from instead")
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: its state_dict is not a mapping of names to tensors")
    return checkpoint


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` through a temporary file and a rename: a kill never leaves half a file."""
    with atomic_open(path) as f:
        torch.save(obj, f)


def latest_checkpoint(work_dir: str | Path) -> Path | None:
    """The checkpoint of the furthest epoch/iteration in ``work_dir`` (None if there is none)."""
    best: tuple[int, Path] | None = None
    for p in Path(work_dir).glob("*.pth"):
        m = re.fullmatch(r"(?:epoch|iter)_(\d+)\.pth", p.name)
        if m and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), p)
    return best[1] if best else None


def best_checkpoints(work_dir: str | Path, cfg) -> dict[str, Path]:
    """Metric → the best checkpoint on it in ``work_dir``, for each metric of ``cfg``'s checkpoint
    hook ``save_best``, in its order (the first is the one a run tests); metrics without a file yet
    are left out."""
    from wsvol.config.placeholders import best_file_stem, saved_best_metrics

    out = {}
    for metric in saved_best_metrics(cfg):
        # "auto": mmengine names the file after the first metric of the validation
        stem = r"best_.+" if metric == "auto" else re.escape(best_file_stem(metric))
        found = sorted((int(m.group(1)), p) for p in Path(work_dir).glob("best_*.pth")
                       if (m := re.fullmatch(rf"{stem}_(?:epoch|iter)_(\d+)\.pth", p.name)))
        if found:
            out[metric] = found[-1][1]
    return out
