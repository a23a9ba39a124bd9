"""Reading weights files safely: other projects' weights, and checkpoints.

Nothing is unpickled beyond tensors and plain containers: external files load with
``torch.load(weights_only=True)`` (or safetensors), and :func:`load_weights` puts a state dict
into a module strictly, listing every mismatch key by key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wsvol.weights.catalogue import WeightsError

_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's content (of every file, by relative path, for a folder); memoized per
    (path, size, mtime) within a process."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        memo = (str(f.resolve()), st.st_size, st.st_mtime_ns)
        if memo not in _DIGESTS:
            fh = hashlib.sha256()
            with open(f, "rb") as stream:
                for chunk in iter(lambda: stream.read(1 << 22), b""):
                    fh.update(chunk)
            _DIGESTS[memo] = fh.hexdigest()
        h.update(f"{f.relative_to(path) if path.is_dir() else ''}\0{_DIGESTS[memo]}\n".encode())
    return h.hexdigest()


def load_state_dict(path: str | Path) -> dict:
    """Tensors of an external weights file: safetensors, or ``torch.load(weights_only=True)``.

    A file that holds pickled objects (anything but tensors and plain containers) is refused with
    a :class:`WeightsError` naming it; ``state_dict``/``model`` wrappers are unwrapped.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as err:
        raise WeightsError(
            f"{path}: refused, it cannot be loaded with weights_only=True ({_reason(err)}). External weights "
            f"must be tensors only: save model.state_dict() with torch.save, or use safetensors") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: does not hold a state dict of tensors")
    return dict(state)


def load_weights(module, state: Mapping[str, Any], source: str, ignore: Sequence[str] = ()) -> None:
    """Strictly load ``state`` into ``module``; keys under an ``ignore`` prefix are dropped.

    Any missing key, unexpected key or shape mismatch raises one error that lists them key by key.
    """
    state = {k: v for k, v in state.items() if not any(k == p or k.startswith(p + ".") for p in ignore)}
    own = module.state_dict()
    problems = [f"  missing:    {k} {tuple(v.shape)}" for k, v in own.items() if k not in state]
    problems += [f"  unexpected: {k} {tuple(v.shape)}" for k, v in state.items() if k not in own]
    problems += [f"  shape:      {k} file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                 for k, v in state.items() if k in own and v.shape != own[k].shape]
    if problems:
        raise ValueError(f"weights {source} do not match {type(module).__name__} "
                         f"({len(problems)} problem(s)):\n" + "\n".join(problems))
    module.load_state_dict(state, strict=True)


def load_checkpoint_file(path: str | Path, map_location: Any = "cpu") -> dict:
    """A checkpoint, loaded with ``weights_only=True`` whoever wrote it; a clear error if refused."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, EOFError, ValueError) as exc:
        raise WeightsError(
            f"{path}: refused, it cannot be loaded with weights_only=True ({_reason(exc)}). wsvol never unpickles "
            "code, not even from its own work dirs; for external weights save a plain state dict "
            "(torch.save(model.state_dict(), f)) or safetensors.") from None


def _reason(exc: BaseException) -> str:
    """The line of a ``torch.load`` error that says what was refused (torch's advice around it is long)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if "Unsupported global" in ln or "WeightsUnpickler error" in ln or "Unsupported operand" in ln:
            return ln.removeprefix("WeightsUnpickler error:").strip()
    return lines[0] if lines else type(exc).__name__
