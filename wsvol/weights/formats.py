"""The weight files users bring, in the containers and key layouts their projects publish.

:func:`read_weights` is the one reader: it detects a file's format, reads it safely and hands
back the state dict in the key layout of the library wsvol builds the model with.

==============  ==========================================  ======================================
format          as published                                becomes
==============  ==========================================  ======================================
openai_clip     ``ViT-B-16.pt``: a TorchScript archive       open_clip ``CLIP`` keys (the archive's
                (fp16 linear weights, fp32 the rest)          3 int buffers dropped), fp32
open_clip       ``open_clip_model.safetensors`` /            the same keys (``state_dict`` wrapper
                ``open_clip_pytorch_model.bin``               and ``module.`` prefix removed), fp32
dino            ``dino_deitsmall16_pretrain.pth``: a plain   timm ``VisionTransformer`` keys (the
                state dict; or a full training checkpoint     same names); from a training
                (``teacher``)                                 checkpoint: the teacher backbone
deit            ``deit_small_patch16_224-cd65a155.pth``:     timm keys, the ImageNet ``head`` kept
                ``{"model": state dict}``                     (a model without a head drops it)
dinov2          ``dinov2_vits14_pretrain.pth``: a plain      timm keys without ``mask_token``
                state dict with ``mask_token``, LayerScale    (with registers: timm's ``reg_token``)
clipseg         a Hugging Face folder: ``config.json`` +     transformers ``CLIPSeg`` keys, legacy
                ``model.safetensors`` or ``pytorch_model.bin``  ``position_ids`` dropped
                (or their ``.index.json`` shards)
state_dict      any other state dict (safetensors, or a      as it is (``state_dict``/``model``
                torch file), e.g. timm's or torchvision's     wrapper removed)
==============  ==========================================  ======================================

Nothing here runs code from a file: torch files load with ``torch.load(weights_only=True)``,
safetensors with safetensors, TorchScript archives with :mod:`wsvol.weights.torchscript` (never
``torch.jit.load``), and ``config.json`` with ``json``. A file is recognised by its content
(a TorchScript archive, ``mask_token``, ``teacher``, CLIP's ``visual.*`` keys, a CLIPSeg folder);
ViT state dicts that look alike (DINO, DeiT, timm) by their published file name.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from wsvol.weights.catalogue import WEIGHTS, WeightsError
from wsvol.weights.torchscript import (
    TorchScriptArchiveError,
    is_torchscript_archive,
    read_torchscript_state_dict,
)


@dataclass(frozen=True)
class WeightsFormat:
    """What one published layout is, and how its original model resizes position embeddings."""

    name: str
    title: str  #: what it holds, e.g. "DINOv2 ViT"
    container: str  #: how it is stored, as published
    becomes: str  #: the model it loads into
    pos_embed_resize: str | None = None  #: preset (``RESIZE_PRESETS``) of the original model
    folder: bool = False  #: published as a folder, not a file


FORMATS: dict[str, WeightsFormat] = {f.name: f for f in (
    WeightsFormat("openai_clip", "OpenAI CLIP", "TorchScript archive (read without running it)",
                  "open_clip CLIP (QuickGELU)", "clip_es"),
    WeightsFormat("open_clip", "open_clip CLIP", "safetensors or torch file, open_clip's keys",
                  "open_clip CLIP", "clip_es"),
    WeightsFormat("dino", "DINO ViT", "torch file, plain state dict (or a training checkpoint)",
                  "timm VisionTransformer", "dino"),
    WeightsFormat("deit", "DeiT ViT", 'torch file, {"model": state dict} with the ImageNet head',
                  "timm VisionTransformer", "deit"),
    WeightsFormat("dinov2", "DINOv2 ViT", "torch file, plain state dict with mask_token",
                  "timm VisionTransformer (LayerScale)", "dinov2"),
    WeightsFormat("clipseg", "CLIPSeg", "Hugging Face folder: config.json + safetensors or torch file",
                  "transformers CLIPSegForImageSegmentation", folder=True),
    WeightsFormat("state_dict", "state dict", "safetensors or torch file, the model's own keys",
                  "the model it is given to"),
)}  # fmt: skip

CLIP_FORMATS = ("openai_clip", "open_clip")
#: keys OpenAI's archive holds besides the model's parameters (clip.build_model deletes them)
OPENAI_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")
#: a CLIPSeg folder's weights, in transformers' order of preference (each also as shards)
CLIPSEG_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_SAFETENSORS_MAX_HEADER = 100 << 20


@dataclass
class Weights:
    """A weights file read: its format and its state dict in the target library's key layout."""

    path: Path
    format: str  #: a key of :data:`FORMATS`
    state: dict[str, torch.Tensor]
    config: dict[str, Any] | None = field(default=None, repr=False)  #: a folder's config.json
    #: how the model these weights come from resizes its position embeddings (a ``RESIZE_PRESETS``
    #: name), where the file says: DINO, DeiT, DINOv2 (with registers: ``dinov2_reg``)
    pos_embed_resize: str | None = None

    def __post_init__(self) -> None:
        if self.pos_embed_resize is None and self.format in ("dino", "deit", "dinov2"):
            self.pos_embed_resize = FORMATS[self.format].pos_embed_resize

    @property
    def title(self) -> str:
        """What the file holds, in words."""
        return FORMATS[self.format].title


def read_weights(path: str | Path, expect: Collection[str] | None = None, user: str = "") -> Weights:
    """Read a weights file (or CLIPSeg folder) safely, in whatever published format it is.

    ``expect`` lists the formats the caller can use: another one is refused with a message
    naming the file, what it holds and, with ``user``, who needed something else.
    """
    path = Path(path).expanduser()
    if expect and all(FORMATS[f].folder for f in expect) and not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "not found"
        sources = [wf.source for wf in WEIGHTS.values() if wf.format in expect]
        raise WeightsError(f"weights folder {path} {what}" + (f". Get it: {sources[0]}" if sources else ""))
    if path.is_dir():
        weights = _read_clipseg_folder(path)
    elif not path.is_file():
        raise WeightsError(f"weights file {path} not found")
    elif is_torchscript_archive(path):
        weights = _read_openai_archive(path)
    else:
        weights = _from_content(path, _read_container(path))
    if expect is not None and weights.format not in expect:
        raise WeightsError(_unexpected(weights, expect, user))
    return weights


def file_format(path: str | Path) -> str | None:
    """The catalogue's format of a file under a published name (``dino_deitsmall16_pretrain.pth``
    → ``dino``), else None."""
    parts = Path(path).parts
    for wf in WEIGHTS.values():
        for name in (wf.filename, *wf.also):
            tail = Path(name).parts
            if tail and parts[-len(tail):] == tail:
                return wf.format
    return None


# -- containers ------------------------------------------------------------------------------
def _is_safetensors(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and 1 < int.from_bytes(head[:8], "little") <= _SAFETENSORS_MAX_HEADER and head[8:] == b"{"


def _read_container(path: Path) -> Any:
    """A safetensors file's tensors, or a torch file's content through the weights-only unpickler."""
    if _is_safetensors(path):
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as err:  # SafetensorError: truncated or malformed
            raise WeightsError(f"{path}: not a readable safetensors file ({err})") from None
    try:
        # DINO's *_full_checkpoint.pth keeps its training arguments as an argparse.Namespace: an
        # object that only holds attributes (themselves refused unless plain values).
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except LOAD_ERRORS as err:
        damaged, why = load_failure(path, err)
        if damaged:
            raise WeightsError(f"{path}: cannot be read, {why}; download it again "
                               f"(`wsvol weights list` says from where)") from None
        raise WeightsError(
            f"{path}: refused, it cannot be loaded with weights_only=True ({why}). External weights "
            f"must be tensors only: save model.state_dict() with torch.save, or use safetensors") from None


#: What ``torch.load(weights_only=True)`` raises on a damaged or refused file: besides its
#: UnpicklingError and RuntimeError, a cut archive gives OSError, struct.error, KeyError or
#: IndexError (whatever the reader hit), so everything; :func:`load_failure` says which it was.
LOAD_ERRORS = (Exception,)


def load_failure(path: Path, exc: BaseException) -> tuple[bool, str]:
    """Why ``torch.load(path, weights_only=True)`` failed: (damaged, why). Damaged: empty, a torch
    zip archive cut short, or not a torch file at all (an error page saved in its place); else the
    Python object the weights-only unpickler refused (torch's message around it is long advice)."""
    try:
        with open(path, "rb") as f:
            head = f.read(48)
    except OSError:
        head = b""
    if not head:
        return True, "the file is empty"
    refused = re.search(r"GLOBAL ([\w.]+)", str(exc))
    if refused:
        return False, f"it holds the Python object {refused.group(1)}, and wsvol unpickles only tensors and plain values"
    if head.startswith(b"PK"):  # torch.save's zip archive (PK\x03\x04), perhaps cut within its magic
        return True, "the zip archive is truncated or corrupt"
    if not head.startswith(b"\x80"):  # neither a zip nor a pickle (protocol 2+)
        start = head[:32].decode("utf-8", "replace").split("\n")[0]
        return True, f"not a torch file: it starts with {start!r}"
    if not isinstance(exc, pickle.UnpicklingError):
        return True, f"the pickle is truncated or corrupt ({type(exc).__name__}{f': {exc}' if str(exc) else ''})"
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if "WeightsUnpickler error" in ln or "Unsupported operand" in ln:
            return False, ln.removeprefix("WeightsUnpickler error:").strip()
    return False, lines[0] if lines else type(exc).__name__


def _tensors(obj: Any, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping) or not obj or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise WeightsError(f"{where}: does not hold a state dict of tensors")
    return dict(obj)


def _fp32(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def _strip(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


# -- formats ---------------------------------------------------------------------------------
def _read_openai_archive(path: Path) -> Weights:
    try:
        state = read_torchscript_state_dict(path)
    except TorchScriptArchiveError as err:
        raise WeightsError(str(err)) from None
    if "visual.class_embedding" not in state:
        raise WeightsError(f"{path}: a TorchScript archive, but not OpenAI's CLIP (no visual.class_embedding); "
                           "wsvol reads TorchScript archives only for OpenAI's CLIP weights")
    return _openai(path, state)


def _openai(path: Path, state: Mapping[str, torch.Tensor]) -> Weights:
    return Weights(path, "openai_clip", _fp32({k: v for k, v in state.items() if k not in OPENAI_EXTRA_KEYS}))


def _from_content(path: Path, obj: Any) -> Weights:
    where = str(path)
    if isinstance(obj, Mapping) and isinstance(obj.get("teacher"), Mapping):  # DINO training checkpoint
        state = _tensors(obj["teacher"], f"{path} (teacher)")
        state = {k.removeprefix("module.").removeprefix("backbone."): v for k, v in state.items()}
        return Weights(path, "dino", {k: v for k, v in state.items() if not k.startswith("head.")})
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj, where = obj[wrapper], f"{path} ({wrapper})"
    state = _tensors(obj, where)
    if "mask_token" in state:
        preset = "dinov2_reg" if "register_tokens" in state else "dinov2"
        return Weights(path, "dinov2", _dinov2_to_timm(state), pos_embed_resize=preset)
    clip = _strip(state, "module.")
    if "visual.class_embedding" in clip and "token_embedding.weight" in clip:
        if any(k in clip for k in OPENAI_EXTRA_KEYS):  # torch.save of OpenAI's own model
            return _openai(path, clip)
        return Weights(path, "open_clip", _fp32(clip))
    hint = file_format(path)
    return Weights(path, hint if hint in ("dino", "deit", "dinov2") else "state_dict", state)


def _dinov2_to_timm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """DINOv2 → timm: drop ``mask_token``; with registers, timm's ``reg_token`` and a CLS token
    that carries its own position (timm's DINOv2-reg models embed no position for prefix tokens)."""
    state = dict(state)
    state.pop("mask_token")
    if "register_tokens" in state:
        state["reg_token"] = state.pop("register_tokens")
        state["cls_token"] = state["cls_token"] + state["pos_embed"][:, :1]
        state["pos_embed"] = state["pos_embed"][:, 1:]
    return state


def _read_clipseg_folder(folder: Path) -> Weights:
    where = "Get it: " + WEIGHTS["clipseg_rd64_refined"].source
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise WeightsError(f"weights folder {folder} lacks config.json. {where}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise WeightsError(f"{config_path}: not valid JSON ({err})") from None
    if not isinstance(config, dict) or config.get("model_type") != "clipseg":
        kind = config.get("model_type") if isinstance(config, dict) else None
        raise WeightsError(f"{config_path}: model_type {kind!r}, not 'clipseg': wsvol reads CLIPSeg folders only")
    for name in CLIPSEG_WEIGHTS:
        index = folder / f"{name}.index.json"
        if (folder / name).is_file():
            files = [folder / name]
        elif index.is_file():
            files = _shards(index)
        else:
            continue
        state: dict[str, torch.Tensor] = {}
        for f in files:
            part = _tensors(_read_container(f), str(f))
            clash = sorted(set(part) & set(state))
            if clash:
                raise WeightsError(f"{f}: keys also in another shard: {', '.join(clash[:5])}")
            state.update(part)
        state = {k: v for k, v in state.items() if not k.endswith(".position_ids")}  # legacy buffers
        return Weights(folder, "clipseg", state, config)
    wanted = " or ".join(f"{n} (or {n}.index.json)" for n in CLIPSEG_WEIGHTS)
    raise WeightsError(f"weights folder {folder} lacks {wanted}. {where}")


def _shards(index: Path) -> list[Path]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as err:
        raise WeightsError(f"{index}: not a shard index with a weight_map ({err})") from None
    for name in names:
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise WeightsError(f"{index}: shard {name!r} is not a file name in {index.parent}")
        if not (index.parent / name).is_file():
            raise WeightsError(f"{index}: shard {name} not found in {index.parent}")
    return [index.parent / n for n in names]


def _unexpected(weights: Weights, expect: Collection[str], user: str) -> str:
    needs = " or ".join(FORMATS[f].title for f in expect)
    who = f"{user} needs" if user else "expected"
    msg = f"{weights.path}: holds {weights.title} weights ({weights.format}); {who} {needs} weights"
    if set(expect) <= set(CLIP_FORMATS) and "norm_pre.weight" in weights.state:
        msg += (". It looks like timm's CLIP image tower (model.safetensors of "
                "timm/vit_base_patch16_clip_224.openai): CLIP-ES needs the text tower too; take "
                "open_clip_model.safetensors or open_clip_pytorch_model.bin from the same page, or "
                "OpenAI's ViT-B-16.pt")
    return msg


def square_prefix(num_tokens: int, *candidates: int) -> int | None:
    """The first number of prefix tokens that leaves a square grid of position embeddings."""
    for p in dict.fromkeys(candidates):
        n = num_tokens - p
        if n > 0 and math.isqrt(n) ** 2 == n:
            return p
    return None
