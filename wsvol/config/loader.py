"""Safe YAML configs with ``_base_`` inheritance, ``_delete_`` and ``--cfg-options``.

mmengine's own file loading can execute code (Python configs, and YAML through its loader), so
configs are read here with ``yaml.safe_load`` semantics only and then handed to mmengine as a
plain dict. Every key remembers the file and line that last set it, for error messages.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

BASE_KEY = "_base_"
DELETE_KEY = "_delete_"


class ConfigError(ValueError):
    """A config problem, with the file, line and dotted key at fault."""


#: dotted key → "file:line" of the YAML node that set it (or "--cfg-options").
Provenance = dict[str, str]


def load_config(path: str | Path, cfg_options: list[str] | dict | None = None):
    """Read ``path`` (and its bases), apply overrides, return an ``mmengine.Config``.

    The returned config carries ``cfg.provenance`` (dotted key → ``file:line``) through
    :func:`provenance_of`.
    """
    from mmengine.config import Config

    data, prov = _load_with_bases(Path(path).resolve(), ())
    if cfg_options:
        options = parse_cfg_options(cfg_options) if isinstance(cfg_options, list) else dict(cfg_options)
        for key, value in options.items():
            _set_dotted(data, key, value)
            _record(prov, key, value, "--cfg-options")
    resolve_config_paths(data, prov)
    cfg = Config(data, filename=str(Path(path)))
    object.__setattr__(cfg, "_wsvol_provenance", prov)
    return cfg


#: Keys whose value is the path of another config: relative to the file that sets the key (the
#: current directory for ``--cfg-options``), like ``_base_``. Data, weights and work-dir paths
#: stay relative to the current directory, as in mmengine.
CONFIG_PATH_KEYS = ("baseline.config",)


def resolve_config_paths(data: dict, prov: Provenance) -> None:
    """Make every :data:`CONFIG_PATH_KEYS` value of ``data`` absolute, from the file that set it."""
    for key in CONFIG_PATH_KEYS:
        *parents, last = key.split(".")
        node: Any = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or not isinstance(node.get(last), str):
            continue
        origin = prov.get(key, "--cfg-options")
        folder = Path.cwd() if origin == "--cfg-options" else Path(origin.rsplit(":", 1)[0]).parent
        node[last] = str((folder / Path(node[last]).expanduser()).resolve())


def provenance_of(cfg) -> Provenance:
    """Where each dotted key of a config loaded by :func:`load_config` was set."""
    return getattr(cfg, "_wsvol_provenance", {})


def where(prov: Provenance, key: str) -> str:
    """``file:line`` for ``key`` or its nearest parent that has one."""
    parts = key.split(".")
    while parts:
        hit = prov.get(".".join(parts))
        if hit:
            return hit
        parts.pop()
    return "<config>"


def dump_yaml(cfg) -> str:
    """A (merged) config as YAML text."""
    data = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def parse_cfg_options(options: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=[x, y]"]`` → ``{"a.b": 1, "c": ["x", "y"]}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in options:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--cfg-options: expected KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_yaml(raw, f"--cfg-options {key.strip()}")[0] if raw.strip() else ""
    return out


#: Limits on a YAML document: nodes after alias expansion (a config has a few thousand) and nesting.
MAX_NODES = 100_000
MAX_DEPTH = 64


def read_yaml(path: Path) -> tuple[Any, Provenance]:
    """Safely parse one YAML file; return its data and the line of every dotted key.

    Refused with the file and line: text that is not UTF-8, Python tags, a key given twice in one
    mapping, aliases that expand beyond :data:`MAX_NODES` nodes, nesting deeper than :data:`MAX_DEPTH`.
    """
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    data, prov = parse_yaml(decode_utf8(path.read_bytes(), str(path)), str(path))
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: a config must be a mapping at the top level, got {type(data).__name__}")
    return data, prov


def decode_utf8(raw: bytes, name: str) -> str:
    """``raw`` as UTF-8 text, else a :class:`ConfigError` naming ``name``, the line and the byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{name}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                          "save the file as UTF-8") from None


def parse_yaml(text: str, name: str) -> tuple[Any, Provenance]:
    """Parse YAML ``text`` (from ``name``, for messages) with safe semantics and the limits of :func:`read_yaml`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_nodes(node, name)
        prov: Provenance = {}
        _walk_nodes(node, "", name, prov)  # before construction: it flattens merge keys in place
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or str(exc)
        if "could not determine a constructor" in problem:
            problem += " (tags that construct Python objects are refused: configs cannot run code)"
        raise ConfigError(f"{name}{line}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{name}: nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    return data, prov


def _check_nodes(root: yaml.Node, name: str) -> None:
    """Refuse duplicate keys, alias bombs, recursive aliases and deep nesting, before construction."""
    sizes: dict[int, int] = {}  # expanded node count of each node (an alias counts its whole target)
    active: set[int] = set()

    def visit(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ConfigError(f"{name}:{node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise ConfigError(f"{name}:{node.start_mark.line + 1}: an alias refers to a node that contains it")
        active.add(id(node))
        size = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if (key.tag, key.value) in seen:
                        raise ConfigError(f"{name}:{line}: key {key.value!r} appears twice in one mapping "
                                          f"(first on line {seen[key.tag, key.value]}); keep one")
                    seen[key.tag, key.value] = line
                size += visit(key, depth + 1) + visit(value, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            size += sum(visit(item, depth + 1) for item in node.value)
        active.discard(id(node))
        sizes[id(node)] = size
        if size > MAX_NODES:
            raise ConfigError(f"{name}:{node.start_mark.line + 1}: the aliases here expand to more than "
                              f"{MAX_NODES} values (an alias bomb?); write the values out or use fewer aliases")
        return size

    visit(root, 0)


def _walk_nodes(node, prefix: str, path: str, prov: Provenance) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            prov[key] = f"{path}:{key_node.start_mark.line + 1}"
            _walk_nodes(value_node, key, path, prov)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = f"{prefix}.{i}"
            prov[key] = f"{path}:{item.start_mark.line + 1}"
            _walk_nodes(item, key, path, prov)


def _load_with_bases(path: Path, chain: tuple[Path, ...]) -> tuple[dict, Provenance]:
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ConfigError(f"{chain[-1]}: _base_ inheritance cycle: {cycle}")
    data, prov = read_yaml(path)
    bases = data.pop(BASE_KEY, [])
    bases = [bases] if isinstance(bases, str) else bases
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(f"{prov.get(BASE_KEY, path)}: {BASE_KEY} must be a path or a list of paths")
    merged: dict = {}
    merged_prov: Provenance = {}
    for base in bases:
        base_path = (path.parent / base).resolve()
        if not base_path.is_file():
            raise ConfigError(f"{prov.get(BASE_KEY, path)}: base config {base!r} not found (looked at {base_path})")
        base_data, base_prov = _load_with_bases(base_path, (*chain, path))
        merged = merge(merged, base_data)  # later bases override earlier ones
        merged_prov.update(base_prov)
    prov = {k: v for k, v in prov.items() if not k.startswith(BASE_KEY)}
    _drop_deleted(merged_prov, data, "")
    merged_prov.update(prov)
    return merge(merged, data), merged_prov


def merge(base: dict, child: dict) -> dict:
    """Child values override base values recursively; ``_delete_: true`` replaces a mapping."""
    out = copy.deepcopy(base)
    for key, value in child.items():
        if isinstance(value, dict):
            value = dict(value)
            delete = value.pop(DELETE_KEY, False)
            if not delete and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = merge({}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _drop_deleted(prov: Provenance, child: dict, prefix: str) -> None:
    """Forget base provenance under mappings the child replaces."""
    for key, value in child.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            if value.get(DELETE_KEY):
                for k in [k for k in prov if k.startswith(dotted + ".")]:
                    del prov[k]
            _drop_deleted(prov, value, dotted + ".")
        else:  # a list, a scalar or null replaces whatever the bases had below this key
            for k in [k for k in prov if k.startswith(dotted + ".")]:
                del prov[k]


def _set_dotted(data: dict, key: str, value: Any) -> None:
    node: Any = data
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, parts[: i + 1])]
        else:
            node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"--cfg-options {key}: {'.'.join(parts[: i + 1])} is not a mapping")
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, parts)] = value
    else:
        node[last] = value


def _list_index(node: list, part: str, parts: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--cfg-options: {'.'.join(parts)}: index {part!r} is not in a list of {len(node)}")
    return int(part)


def _record(prov: Provenance, key: str, value: Any, origin: str) -> None:
    prov[key] = origin
    if isinstance(value, dict):
        for k, v in value.items():
            _record(prov, f"{key}.{k}", v, origin)
