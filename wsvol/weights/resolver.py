"""Where a weights argument of a config points: a file path, or a name of the catalogue.

A weights argument of a component config (``pretrained``, ``checkpoint``, or the ``arg`` of a
:class:`~wsvol.weights.WeightsFile`) holds either

- a **file path** (the explicit path: used as it is; a bare file name is also looked up in the
  weights folder), or
- a **weights name** (``clip_vit_b16_openai``, ``dino_vits16`` ... see ``wsvol weights list``),
  resolved by the first plugin whose ``wsvol_resolve_weights`` hook knows it, else found as
  ``<weights folder>/<file name>`` (or one of the entry's ``also`` paths in that folder).

The weights folder is ``$WSVOL_WEIGHTS``, else ``$XDG_CACHE_HOME/wsvol/weights``, else
``~/.cache/wsvol/weights``. :func:`check_weights` resolves every weights argument of a config
before any work and raises one :class:`WeightsError` naming each missing file, the folder to
put it in and where to get it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsvol.config.placeholders import PLACEHOLDER
from wsvol.utils.messages import suggestion
from wsvol.weights.catalogue import KnownWeights, WeightsError, WeightsFile, known_weights

ENV = "WSVOL_WEIGHTS"
#: Config keys that hold a weights file (path or name) in any component config.
WEIGHT_KEYS = frozenset({"pretrained", "checkpoint"})


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
    wf = known[name].file
    for rel in (wf.filename, *wf.also):
        path = weights_dir() / rel
        if path.exists():
            return path, "weights folder"
    return None, ""


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
            also = "".join(f" or {a}" for a in wf.also)
            raise WeightsError(
                f"weights {value!r} (config key {key}) not found: put {wf.filename}{also} in "
                f"{folder} (the weights folder: ${ENV}, else <user cache dir>/wsvol/weights), or give "
                f"its path in {key}. Get it from: {wf.source}")
        return Resolution(key, value, path, how)
    if not _is_path_like(value):
        close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.5)
        raise WeightsError(suggestion(f"{key}: {value!r} is neither a weights file nor a known weights name", close,
                                      f"known names: {', '.join(known) or 'none'} (see `wsvol weights list`)"))
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
    config dict with a ``type`` is resolved, unless it holds a placeholder that ``wsvol run``
    fills (``{baseline_best_cl}``, see :mod:`wsvol.config.placeholders`); all failures are raised together as one
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
        if isinstance(value, str) and PLACEHOLDER.search(value):
            continue  # filled by `wsvol run` (its baseline stage or work dir); the config check vets it
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
