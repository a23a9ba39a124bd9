"""Checkpoint files: atomic writes, and loading that never unpickles foreign code.

A checkpoint the project wrote in one of its own work dirs (a directory holding
``wsvol-run.json``) may contain mmengine's runtime objects and is loaded with
``weights_only=False``; every other file is loaded with ``weights_only=True``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from wsvol.utils.files import atomic_open, atomic_write_text

RUN_MARKER = "wsvol-run.json"


def mark_work_dir(work_dir: str | Path, info: dict[str, Any]) -> None:
    """Write the marker that makes ``work_dir`` a wsvol work dir (atomically)."""
    atomic_write_text(Path(work_dir) / RUN_MARKER, json.dumps(info, indent=2, default=str))


def is_own_checkpoint(path: str | Path) -> bool:
    """True if ``path`` lies in a wsvol work dir (its folder or the folder above is marked)."""
    p = Path(path).resolve()
    return any((d / RUN_MARKER).is_file() for d in (p.parent, p.parent.parent))


def load_checkpoint_file(path: str | Path, map_location: Any = "cpu") -> dict:
    """Load a checkpoint; foreign files with ``weights_only=True``, with a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if is_own_checkpoint(path):
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise RuntimeError(
            f"{path}: cannot be loaded with weights_only=True ({str(exc).splitlines()[0]}). wsvol only "
            f"unpickles full checkpoints that it wrote in its own work dirs (next to {RUN_MARKER}); "
            "for external weights save a plain state dict (torch.save(model.state_dict(), f)) or safetensors."
        ) from None


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
