"""Placeholders a config leaves for ``wsvol run`` to fill: ``{work_dir}`` and the baseline's checkpoints.

- ``{work_dir}``: the run's work dir;
- ``{baseline_checkpoint}``: the baseline's best checkpoint on its first ``save_best`` metric
  (the one its test loads);
- ``{baseline_best_<metric>}``: its best checkpoint on any ``save_best`` metric, e.g.
  ``{baseline_best_cl}`` (classification accuracy) or ``{baseline_best_corloc_mean}``.

They may stand in any string value of a config (the ``model`` section included). Only names of
this form are placeholders; other braces are left alone. :func:`placeholder_problems` checks them
with the config (a baseline placeholder needs a ``baseline`` section whose checkpoint hook keeps
that best); :func:`fill_placeholders` replaces them once their values are known, and
:func:`require_filled` stops a command that cannot fill them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, MutableMapping, MutableSequence
from typing import Any

#: ``{work_dir}``, ``{baseline_checkpoint}``, ``{baseline_best_<metric>}`` (the name in group 1)
PLACEHOLDER = re.compile(r"\{(work_dir|baseline_checkpoint|baseline_best_[A-Za-z0-9_]+)\}")
BEST_PREFIX = "baseline_best_"


def find_placeholders(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, placeholder name) of every placeholder in the strings of ``node``."""
    if isinstance(node, Mapping) or hasattr(node, "_cfg_dict"):
        for k, v in node.items():
            yield from find_placeholders(v, f"{key}.{k}" if key else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from find_placeholders(v, f"{key}.{i}")
    elif isinstance(node, str):
        for m in PLACEHOLDER.finditer(node):
            yield key, m.group(1)


def fill_placeholders(node: Any, values: Mapping[str, str]) -> None:
    """Replace, in place, the placeholders named in ``values`` in every string under ``node``."""

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text)

    if isinstance(node, MutableMapping) or hasattr(node, "_cfg_dict"):
        for k, v in list(node.items()):
            if isinstance(v, str):
                node[k] = fill(v)
            else:
                fill_placeholders(v, values)
    elif isinstance(node, MutableSequence):
        for i, v in enumerate(node):
            if isinstance(v, str):
                node[i] = fill(v)
            else:
                fill_placeholders(v, values)
    elif isinstance(node, tuple):
        for v in node:
            fill_placeholders(v, values)


def saved_best_metrics(cfg: Mapping) -> list[str]:
    """The metrics whose best checkpoint a config's ``CheckpointHook`` keeps (``save_best``), in order."""
    hook = ((cfg.get("default_hooks") or {}).get("checkpoint")) or {}
    best = hook.get("save_best") if isinstance(hook, Mapping) else None
    if best is None:
        return []
    return [str(best)] if isinstance(best, str) else [str(b) for b in best]


def best_file_stem(metric: str) -> str:
    """What mmengine's ``CheckpointHook`` names the best checkpoint of ``metric`` (before ``_epoch_N``)."""
    return f"best_{metric}".replace("/", "_")


def best_placeholder(metric: str) -> str:
    """The placeholder name of the baseline's best checkpoint on ``metric``: ``baseline_best_<metric>``."""
    return BEST_PREFIX + metric.replace("/", "_")


def placeholder_problems(data: Mapping, baseline: Mapping | None) -> list[tuple[str, str]]:
    """(dotted key, problem) for every placeholder of ``data`` that ``wsvol run`` could not fill:
    a baseline placeholder without a ``baseline`` section, or a best checkpoint the baseline's
    checkpoint hook does not keep. ``baseline`` is the loaded baseline config (None: none)."""
    problems = []
    kept = saved_best_metrics(baseline) if baseline is not None else []
    for key, name in find_placeholders({k: v for k, v in data.items() if k != "baseline"}):
        if not name.startswith("baseline_"):
            continue
        if baseline is None:
            problems.append((key, f"{{{name}}} names a checkpoint of the baseline stage, and this config has no "
                                  "`baseline` section (baseline: {config: <classifier config>})"))
        elif name.startswith(BEST_PREFIX) and name not in {best_placeholder(m) for m in kept}:
            problems.append((key, f"{{{name}}}: the baseline config keeps no best checkpoint on "
                                  f"{name[len(BEST_PREFIX):]!r}; its default_hooks.checkpoint.save_best is "
                                  f"{kept or 'unset'} (placeholders: "
                                  + ", ".join(f"{{{best_placeholder(m)}}}" for m in kept) + ")"))
    return problems


def require_filled(cfg: Any, command: str, skip: tuple[str, ...] = ()) -> None:
    """Raise naming every placeholder left in ``cfg`` outside ``baseline`` and the top-level keys
    ``skip`` (what ``command`` does not use): ``command`` cannot fill them."""
    from wsvol.config.loader import ConfigError

    ignored = ("baseline", *skip)
    left = [(k, n) for k, n in find_placeholders(cfg) if k.split(".", 1)[0] not in ignored]
    if left:
        lines = [f"  {key}: {{{name}}}" for key, name in left]
        raise ConfigError(f"{getattr(cfg, 'filename', '<config>')}: `{command}` cannot fill these placeholders "
                          "(`wsvol run` fills them from its work dir and its baseline stage); run the config with "
                          "`wsvol run`, or give the values with --cfg-options KEY=PATH:\n" + "\n".join(lines))
