"""Putting weights into models, strictly; reading checkpoints safely.

Files are read by :func:`wsvol.weights.formats.read_weights` (never anything but tensors and
plain containers); :func:`load_weights` puts a state dict into a module strictly, listing every
mismatch key by key; :func:`load_timm_weights` is the one way a file goes into a timm model
(backbones and classifiers), with the position embeddings resized as the original model does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsvol.weights.catalogue import WeightsError, timm_weights_format

if TYPE_CHECKING:
    from torch import nn

    from wsvol.weights.formats import Weights

_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's content (for a folder: of every file by relative path, but those under a
    dot-name, bookkeeping that ``hf download`` and ``git`` rewrite, e.g. ``.cache/``, ``.git/``);
    memoized per (path, size, mtime) within a process."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
    else:
        files = [path]
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
    """The tensors of a weights file in any published format (see :mod:`wsvol.weights.formats`),
    in the target library's key layout; a file holding anything but tensors is refused."""
    from wsvol.weights.formats import read_weights

    return read_weights(path).state


#: Keys of each kind (missing, unexpected, mis-shaped) a mismatch lists; the rest are counted.
LISTED_KEYS = 12


def load_weights(module, state: Mapping[str, Any], source: str, ignore: Sequence[str] = ()) -> None:
    """Strictly load ``state`` into ``module``; keys under an ``ignore`` prefix are dropped.

    Any missing key, unexpected key or shape mismatch raises one error that lists them key by key,
    the first :data:`LISTED_KEYS` of each kind
    (a BatchNorm's missing ``num_batches_tracked``, which files older than the counter lack, is left
    to ``load_state_dict``, which keeps the module's own).
    """
    from torch.nn.modules.batchnorm import _BatchNorm

    state = {k: v for k, v in state.items() if not any(k == p or k.startswith(p + ".") for p in ignore)}
    own = module.state_dict()
    # Files saved before torch 0.4.1 (torchvision's ResNet-50, re-saved unchanged) have no BatchNorm
    # step counters; BatchNorm's own loading fills them in, as torchvision and timm load them.
    counters = {f"{name}.num_batches_tracked".lstrip(".") for name, m in module.named_modules()
                if isinstance(m, _BatchNorm) and m.track_running_stats}
    kinds = {
        "missing": [f"  missing:    {k} {tuple(v.shape)}" for k, v in own.items() if k not in state and k not in counters],
        "unexpected": [f"  unexpected: {k} {tuple(v.shape)}" for k, v in state.items() if k not in own],
        "mis-shaped": [f"  shape:      {k} file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                       for k, v in state.items() if k in own and v.shape != own[k].shape],
    }
    count = sum(map(len, kinds.values()))
    if count:
        lines = []
        for kind, found in kinds.items():  # a checkpoint of another model has hundreds: the first of each kind
            lines += found[:LISTED_KEYS] + ([f"  ... and {len(found) - LISTED_KEYS} more {kind} keys"]
                                           if len(found) > LISTED_KEYS else [])
        raise ValueError(f"weights {source} do not match {type(module).__name__} "
                         f"({count} problem(s)):\n" + "\n".join(lines))
    module.load_state_dict(state, strict=True)


def default_pos_embed_resize(weights: Weights, arch: str) -> str:
    """The resize preset of the model the weights come from: what the file says (DINO, DeiT,
    DINOv2), else that of the weights catalogued for ``arch``, else timm's default."""
    from wsvol.weights.formats import FORMATS

    arch_fmt = timm_weights_format(arch)
    return weights.pos_embed_resize or (arch_fmt and FORMATS[arch_fmt].pos_embed_resize) or "timm"


def load_timm_weights(model: nn.Module, weights: Weights, arch: str,
                      pos_embed_resize: str | Mapping[str, Any] | None = None,
                      where: str = "pos_embed_resize") -> None:
    """Load ``weights`` into a timm model, strictly.

    The position embeddings are first resized to the model's patch grid with
    ``pos_embed_resize`` (a preset name, a dict of mode/antialias/offset, or None for the
    original model's way, :func:`default_pos_embed_resize`); timm's checkpoint filter then does
    its other conversions but never resamples them again. A classifier the model does not have
    (DeiT's ImageNet head in a backbone) is dropped; every other mismatch is an error listing
    the keys.
    """
    import sys

    from wsvol.weights.formats import square_prefix
    from wsvol.weights.pos_embed import resize_abs_pos_embed, resize_options

    state = dict(weights.state)
    opts = resize_options(pos_embed_resize, default_pos_embed_resize(weights, arch), where)
    pos, own = state.get("pos_embed"), getattr(model, "pos_embed", None)
    if pos is not None and own is not None and pos.dim() == 3:
        prefix = square_prefix(pos.shape[1], 0 if getattr(model, "no_embed_class", False) else
                               model.num_prefix_tokens, 1, 0)
        if prefix is not None:
            pos = resize_abs_pos_embed(pos, tuple(model.patch_embed.grid_size), num_prefix_tokens=prefix, **opts)
            del state["pos_embed"]  # out of timm's reach: its filter would resample with its own default
    filter_fn = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
    if filter_fn is not None:
        state = filter_fn(state, model)
    if pos is not None and "pos_embed" not in state:
        state["pos_embed"] = pos
    own_keys = model.state_dict()
    classifier = model.pretrained_cfg.get("classifier") or ()
    classifier = [classifier] if isinstance(classifier, str) else list(classifier)
    ignore = [c for c in classifier if not any(k.startswith(c + ".") for k in own_keys)]
    load_weights(model, state, str(weights.path), ignore=ignore)


def load_checkpoint_file(path: str | Path, map_location: Any = "cpu") -> dict:
    """A checkpoint, loaded with ``weights_only=True`` whoever wrote it; a clear error if refused."""
    import torch

    from wsvol.weights.formats import LOAD_ERRORS, load_failure
    from wsvol.weights.torchscript import is_torchscript_archive

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if is_torchscript_archive(path):  # torch.load would only say that weights_only refuses it
        raise WeightsError(
            f"{path}: a TorchScript archive (a program, e.g. from `wsvol export --format torchscript`), not a "
            "checkpoint: wsvol runs no program from a file. Use the checkpoint (.pth) it was made from, or, to "
            "predict, its ONNX export (`wsvol export CKPT --format onnx`).")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except LOAD_ERRORS as exc:
        damaged, why = load_failure(path, exc)
        if damaged:
            raise WeightsError(f"{path}: cannot be read, {why} (a copy cut short, or not a checkpoint)") from None
        raise WeightsError(
            f"{path}: refused, it cannot be loaded with weights_only=True ({why}). wsvol never unpickles "
            "code, not even from its own work dirs; for external weights save a plain state dict "
            "(torch.save(model.state_dict(), f)) or safetensors.") from None
