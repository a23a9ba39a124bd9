"""Named weights: what each component needs, where a user gets it, and where wsvol finds it.

A weights argument of a component config (``pretrained``, ``checkpoint``, or the ``arg`` of a
:class:`~wsvol.pseudo_labels.base.WeightsFile`) holds either

- a **file path** (the explicit path: used as it is; a bare file name is also looked up in the
  weights folder), or
- a **weights name** (``clip_vit_b16_openai``, ``dino_vits16`` ... see ``wsvol weights list``),
  resolved by the first plugin whose ``wsvol_resolve_weights`` hook knows it, else found as
  ``<weights folder>/<file name>``.

The weights folder is ``$WSVOL_WEIGHTS``, else ``$XDG_CACHE_HOME/wsvol/weights``, else
``~/.cache/wsvol/weights``. Names are declared by the components themselves (a
``weights_files()`` classmethod on a registered class, plugins included) and, for timm
backbones, by :data:`TIMM_WEIGHTS`. :func:`check_weights` resolves every weights argument of a
config before any work and raises one :class:`WeightsError` naming each missing file, the folder
to put it in and where to get it. External files load with ``weights_only=True`` (safetensors
where the file is one): :func:`load_state_dict`.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import warnings
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsvol.pseudo_labels.base import WeightsFile

ENV = "WSVOL_WEIGHTS"
#: Config keys that hold a weights file (path or name) in any component config.
WEIGHT_KEYS = frozenset({"pretrained", "checkpoint"})

_DEIT = "https://dl.fbaipublicfiles.com/deit"
_DINO = "https://dl.fbaipublicfiles.com/dino"
_HF = "https://huggingface.co/timm"
#: timm architectures (name without/with pretrained tag) → the weights wsvol knows for them.
TIMM_WEIGHTS: dict[str, WeightsFile] = {
    "deit_small_patch16_224": WeightsFile(
        "deit_s16_in1k", "deit_small_patch16_224-cd65a155.pth",
        f"DeiT-S/16, ImageNet-1k (Touvron et al.): {_DEIT}/deit_small_patch16_224-cd65a155.pth ; "
        f"or model.safetensors of {_HF}/deit_small_patch16_224.fb_in1k (give its path in the config)"),
    "vit_small_patch16_224.dino": WeightsFile(
        "dino_vits16", "dino_deitsmall16_pretrain.pth",
        f"DINO ViT-S/16 (Caron et al.): {_DINO}/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth ; "
        f"or model.safetensors of {_HF}/vit_small_patch16_224.dino (give its path in the config)"),
    "deit_base_patch16_224": WeightsFile(
        "deit_b16_in1k", "deit_base_patch16_224-b5f2ef4d.pth",
        f"DeiT-B/16, ImageNet-1k: {_DEIT}/deit_base_patch16_224-b5f2ef4d.pth ; "
        f"or model.safetensors of {_HF}/deit_base_patch16_224.fb_in1k (give its path in the config)"),
    "vit_base_patch16_224.dino": WeightsFile(
        "dino_vitb16", "dino_vitbase16_pretrain.pth",
        f"DINO ViT-B/16: {_DINO}/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth ; "
        f"or model.safetensors of {_HF}/vit_base_patch16_224.dino (give its path in the config)"),
    "resnet50": WeightsFile(
        "resnet50_in1k", "resnet50-0676ba61.pth",
        "torchvision ResNet-50 ImageNet-1k V1 (what wsolevaluation/TCAM start from): "
        "https://download.pytorch.org/models/resnet50-0676ba61.pth"),
}  # fmt: skip


class WeightsError(FileNotFoundError):
    """Weights that cannot be found or loaded; the message says what to put where."""


@dataclass(frozen=True)
class KnownWeights:
    """A named weights file and the components that use it."""

    file: WeightsFile
    used_by: tuple[str, ...]


@dataclass(frozen=True)
class Resolution:
    """Where one weights argument of a config points."""

    key: str  #: dotted config key, e.g. ``pseudo_labels.source.pretrained``
    value: str  #: what the config says (a path or a name)
    path: Path  #: the file (or folder) found
    how: str  #: ``explicit path``, ``plugin`` or ``weights folder``


def weights_dir() -> Path:
    """The weights folder: ``$WSVOL_WEIGHTS``, else ``<user cache dir>/wsvol/weights``."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "wsvol" / "weights"


def known_weights() -> dict[str, KnownWeights]:
    """Every named weights file that registered components (plugins included) or timm backbones know."""
    from wsvol.registry import Registries

    found: dict[str, tuple[WeightsFile, list[str]]] = {}

    def add(wf: WeightsFile, user: str) -> None:
        file, users = found.setdefault(wf.name, (wf, []))
        if file.filename != wf.filename:  # a plugin's clash must not hide every other weights
            warnings.warn(f"weights name {wf.name!r} is declared with file {file.filename!r} by "
                          f"{', '.join(users)} and with {wf.filename!r} by {user}; keeping the first",
                          stacklevel=3)
            return
        users.append(user)

    for registry in Registries.all().values():
        for name in registry.entries():
            cls = registry.get(name)
            files = getattr(cls, "weights_files", None)
            if callable(files):
                for wf in files():
                    add(wf, f"{registry.kind} {name}")
    for arch, wf in TIMM_WEIGHTS.items():
        add(wf, f"model resnet50_cam (backbone: {arch})" if arch.startswith("resnet") else
            f"backbone timm_vit (arch: {arch}), model vit_classifier (backbone: {arch.split('.')[0]})")
    return {n: KnownWeights(wf, tuple(users)) for n, (wf, users) in sorted(found.items())}


def find_weights(name: str, known: Mapping[str, KnownWeights] | None = None) -> tuple[Path | None, str]:
    """(path, how) of the named weights — plugin first, then the weights folder; (None, '') if absent."""
    from wsvol.plugin_manager import resolve_weights as plugin_resolve

    known = known_weights() if known is None else known
    answer = plugin_resolve(name)
    if answer is not None:
        path = Path(answer).expanduser()
        if not path.exists():
            raise WeightsError(f"a plugin resolved weights {name!r} to {path}, which does not exist")
        return path, "plugin"
    path = weights_dir() / known[name].file.filename
    return (path, "weights folder") if path.exists() else (None, "")


def _is_path_like(value: str) -> bool:
    return "/" in value or os.sep in value or value.startswith("~") or bool(Path(value).suffix)


def resolve_weights(value: str | os.PathLike, key: str = "weights",
                    known: Mapping[str, KnownWeights] | None = None) -> Resolution:
    """Resolve a weights argument (a path or a name) or raise a :class:`WeightsError` saying what to do."""
    value = os.fspath(value)
    known = known_weights() if known is None else known
    folder = weights_dir()
    if value in known:
        path, how = find_weights(value, known)
        if path is None:
            wf = known[value].file
            raise WeightsError(
                f"weights {value!r} (config key {key}) not found: put the file {wf.filename} in "
                f"{folder} (the weights folder: ${ENV}, else <user cache dir>/wsvol/weights), or give "
                f"its path in {key}. Get it from: {wf.source}")
        return Resolution(key, value, path, how)
    if not _is_path_like(value):
        close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise WeightsError(f"{key}: {value!r} is neither a weights file nor a known weights name{hint} "
                           f"Known names: {', '.join(known) or 'none'} (see `wsvol weights list`)")
    path = Path(value).expanduser()
    if path.exists():
        return Resolution(key, value, path, "explicit path")
    if path.parent == Path(".") and (folder / path.name).exists():  # a bare file name
        return Resolution(key, value, folder / path.name, "weights folder")
    by_file = [(n, k.file) for n, k in known.items() if k.file.filename == path.name]
    looked = f" (looked in the current folder and in {folder})" if path.parent == Path(".") else ""
    fix = (f"or put {path.name} in {folder} and set {key}: {by_file[0][0]}. Get it from: "
           f"{by_file[0][1].source}" if by_file else f"or put it in {folder} and give its file name")
    raise WeightsError(f"weights file {path} (config key {key}) not found{looked}: put it at that "
                       f"path, {fix}")


def _walk(node: Any, key: str) -> Iterator[tuple[MutableMapping, str, str]]:
    """(mapping, key in it, dotted key) of every component config's entries, depth first."""
    if isinstance(node, Mapping) or hasattr(node, "_cfg_dict"):  # a dict or an mmengine Config
        for k, v in list(node.items()):
            sub = f"{key}.{k}" if key else str(k)
            if isinstance(node, MutableMapping) and "type" in node:
                yield node, k, sub
            yield from _walk(v, sub)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _walk(v, f"{key}.{i}")


def check_weights(cfg: Mapping, resolve_in_place: bool = True) -> list[Resolution]:
    """Resolve every weights argument of every component in ``cfg``, before any work.

    A string under a weights key (``pretrained``, ``checkpoint``, or a declared ``arg``) of a
    config dict with a ``type`` is resolved; all failures are raised together as one
    :class:`WeightsError`. With ``resolve_in_place`` the names in ``cfg`` are replaced by the
    paths found, so that components receive files.
    """
    known = known_weights()
    keys = set(WEIGHT_KEYS) | {k.file.arg for k in known.values()}
    found, problems = [], []
    for node, k, dotted in list(_walk(cfg, "")):
        value = node[k]
        if k not in keys or not isinstance(value, (str, os.PathLike)):
            continue
        try:
            res = resolve_weights(value, dotted, known)
        except WeightsError as err:
            problems.append(str(err))
            continue
        found.append(res)
        if resolve_in_place:
            node[k] = str(res.path)
    if problems:
        raise WeightsError("\n".join(problems) if len(problems) == 1 else
                           f"{len(problems)} weights missing:\n" + "\n".join(f"  {p}" for p in problems))
    return found


def resolve_named(value: str | os.PathLike | None, files: tuple[WeightsFile, ...], key: str) -> str | None:
    """For a component's own constructor: a declared weights name → its file; anything else unchanged."""
    if value is None or os.fspath(value) not in {wf.name for wf in files}:
        return None if value is None else os.fspath(value)
    return str(resolve_weights(value, key).path)


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
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise WeightsError(
            f"{path}: refused, it cannot be loaded with weights_only=True ({first}). External weights "
            f"must be tensors only: save model.state_dict() with torch.save, or use safetensors") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: does not hold a state dict of tensors")
    return dict(state)
