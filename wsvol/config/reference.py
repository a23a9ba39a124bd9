"""Generate ``docs/reference.md``: every registered component and wsvol's own config sections.

Each component of each wsvol registry (built-ins and plugins, mmengine's own classes left out)
is listed with the plugin that provides it, the first line of its docstring and its config keys
(its constructor's arguments, with type hints and defaults, and the description its ``Args:``
section gives). The top-level sections come from the dataclasses of ``wsvol.config.sections``.

    python -m wsvol.config.reference > docs/reference.md          # what this environment has
    python -m wsvol.config.reference --plugin-dir plugins/wsvol-clipseg \\
        --plugin-dir plugins/wsvol-example > docs/reference.md  # wsvol + these plugins only

``--plugin-dir`` makes a plugin's source tree discoverable without installing it, and limits
the reference to wsvol and those plugins, so the output does not depend on what else is installed.
"""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import importlib
import inspect
import re
import sys
import tempfile
import types
import typing
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union

#: Registry kinds in the order a config flows through them; kinds not named here come last.
KIND_ORDER = (
    "dataset", "transform", "data_sampler", "function", "pseudo_label_source", "pseudo_label_transform", "model",
    "backbone", "head", "pixel_sampler", "loss", "cam_method", "metric", "hook", "runner",
)  # fmt: skip

#: Where a component of each kind sits in a config.
KIND_PLACES = {
    "dataset": "`train_dataloader.dataset` (and `val_`/`test_dataloader`)",
    "transform": "the items of `*_dataloader.dataset.pipeline`",
    "data_sampler": "`*_dataloader.sampler`",
    "function": "`*_dataloader.collate_fn`",
    "pseudo_label_source": "`pseudo_labels.source`",
    "pseudo_label_transform": "`train_dataloader.dataset.pseudo_label_transform`",
    "model": "`model`",
    "backbone": "`model.backbone` of `trcamv` / `tcam`",
    "head": "`model.cls_head` and `model.loc_head` of `trcamv` / `tcam`",
    "pixel_sampler": "`model.pixel_sampler` of `trcamv` / `tcam`",
    "loss": "the values of `model.losses` of `trcamv` / `tcam` (term name → loss config)",
    "cam_method": "`model.cam` of a classifier, `pseudo_labels.source.cam` of the `cam` source, "
                  "`wsvol test --cams NAME…`",
    "metric": "`val_evaluator`, `test_evaluator`",
    "hook": "the items of `custom_hooks`, the values of `default_hooks`",
    "runner": "the whole config: its top-level keys are the runner's arguments",
}  # fmt: skip

#: Constructor arguments that the caller passes in (not config keys), beyond the checker's list.
EXTRA_INJECTED: dict[str, set[str]] = {}  # beyond wsvol.config.checker.INJECTED

HEADER = ("<!-- Generated from the registries by `python -m wsvol.config.reference --plugin-dir plugins/<each>`:"
          " do not edit. tests/config/test_reference.py fails when it is stale and prints the command. -->")


@dataclasses.dataclass(frozen=True)
class Key:
    """One config key of a component or section."""

    name: str
    hint: str  #: the type, as text ('' when unannotated)
    default: str | None  #: the default, as YAML-like text; None when the key is required
    injected: bool = False  #: passed in by the caller, not written in a config
    doc: str = ""


@dataclasses.dataclass(frozen=True)
class Component:
    """A registered component, as the reference shows it."""

    kind: str
    name: str
    provider: str
    target: Any  #: the registered class (or function)
    summary: str
    keys: tuple[Key, ...]
    open_keys: Key | None  #: a ``**kwargs`` that accepts any further key, if any

    @property
    def anchor(self) -> str:
        """The HTML anchor of this component's entry: ``<kind>-<name>``."""
        return f"{self.kind}-{self.name}"


# -- text helpers ------------------------------------------------------------------------------
def md(text: str) -> str:
    """reST inline markup of docstrings → Markdown (``x`` → `x`, :role:`x` → `x`)."""
    text = re.sub(r":[\w.]+:`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``(.+?)``", r"`\1`", text)


def summary_of(target: Any) -> str:
    """First line of the object's own docstring (not an inherited one)."""
    doc = target.__doc__ if inspect.isclass(target) else inspect.getdoc(target)
    lines = inspect.cleandoc(doc).strip().splitlines() if doc else []
    return md(lines[0].strip()) if lines else ""


def arg_docs(*docs: str | None) -> dict[str, str]:
    """Descriptions from Google-style ``Args:`` sections: argument name → one-paragraph text."""
    out: dict[str, str] = {}
    for doc in docs:
        if not doc:
            continue
        lines = inspect.cleandoc(doc).splitlines()
        for i, line in enumerate(lines):
            if line.strip() != "Args:":
                continue
            base = len(line) - len(line.lstrip())
            entry_indent, names = None, []
            for item in lines[i + 1 :]:
                indent = len(item) - len(item.lstrip())
                if item.strip() and indent <= base:
                    break
                match = re.match(r"\s*\**([\w, *]+?)\s*(?:\([^)]*\))?:(?:\s|$)(.*)", item)
                if match and (entry_indent is None or indent <= entry_indent):
                    entry_indent = indent
                    names = [n.strip().lstrip("*") for n in match.group(1).split(",")]
                    text = re.sub(r"^\([^)]*\):\s*", "", match.group(2).strip())  # "name: (type): text"
                    for n in names:
                        out[n] = text
                elif item.strip() and names:
                    for n in names:
                        out[n] = f"{out[n]} {item.strip()}".strip()
    return {name: md(text) for name, text in out.items()}


def format_hint(hint: Any) -> str:
    """A type hint as a reader writes it: ``int | None``, ``component("backbone")``, ``list[str]``."""
    from wsvol.config.types import Kind, Range

    if hint is inspect.Parameter.empty:
        return ""
    if isinstance(hint, str):
        return hint
    if hint is type(None) or hint is None:
        return "None"
    if hint is Any:
        return "Any"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        kinds = [m for m in hint.__metadata__ if isinstance(m, Kind)]
        ranges = [f" ({m})" for m in hint.__metadata__ if isinstance(m, Range)]
        return f'component("{kinds[0].name}")' if kinds else format_hint(args[0]) + "".join(ranges)
    if origin in (Union, types.UnionType):
        parts = [format_hint(a) for a in args if a is not type(None)]
        return " | ".join(parts + (["None"] if type(None) in args else []))
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        if origin is collections.abc.Callable and args and isinstance(args[0], list):
            inner = f"[{', '.join(format_hint(a) for a in args[0])}], {format_hint(args[1])}"
        else:
            inner = ", ".join("..." if a is Ellipsis else format_hint(a) for a in args)
        return f"{name}[{inner}]" if args else name
    if isinstance(hint, type):
        return hint.__qualname__
    return str(hint).replace("typing.", "")


def format_value(value: Any) -> str:
    """A default as it is written in a YAML config (null, true, [1, 2], "text", 1.0e-09)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        if exponent and "." not in mantissa:  # YAML 1.1 (PyYAML) reads 2e-09 as a string
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


# -- introspection -----------------------------------------------------------------------------
def _signature(fn: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _hints(fn: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:  # an unresolvable annotation: fall back to the raw ones
        return {}


def constructor_keys(target: type, injected: Collection[str] = ()) -> tuple[tuple[Key, ...], Key | None]:
    """(keys, open ``**kwargs``) of a class's constructor, as the config checker reads it
    (:func:`wsvol.config.checker.constructor_params`: a forwarded ``**kwargs`` is followed up the
    MRO). A ``**kwargs`` still open at the end accepts any further key; it is returned as a
    :class:`Key` of its own."""
    from wsvol.config.checker import _takes_no_keys, constructor_params

    chain = [k for k in inspect.getmro(target) if not _takes_no_keys(k)]
    docs: dict[str, str] = {}
    for klass in reversed(chain):  # the most derived class's description wins
        docs.update(arg_docs(klass.__doc__, getattr(vars(klass).get("__init__"), "__doc__", None)))
    found = constructor_params(target)
    if found is None:
        return (), None
    keys = tuple(Key(name, format_hint(found.hints[name]), None if p.default is p.empty else format_value(p.default),
                     name in injected, docs.get(name, "")) for name, p in found.params.items())
    open_name = _open_kwargs_name(target, chain) if found.open else None
    extra = Key(open_name, "", "", doc=docs.get(open_name, "")) if open_name else None
    return keys, extra


def _open_kwargs_name(target: type, chain: list[type]) -> str | None:
    """The name of the ``**kwargs`` that stays open at the end of ``target``'s constructor chain."""
    name = None
    for klass in (k for k in chain if "__init__" in vars(k)):
        sig = _signature(klass.__init__)
        if sig is None:
            break
        name = next((p.name for p in sig.parameters.values() if p.kind is p.VAR_KEYWORD), None)
        if name is None:
            break
    return name


def field_comments(cls: type) -> dict[str, str]:
    """Trailing ``# comments`` of a dataclass's field lines: field name → comment."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    found = (re.match(r"\s+(\w+)\s*:[^#]*#\s*(.+)$", line) for line in source.splitlines())
    return {m.group(1): md(m.group(2).strip()) for m in found if m}


def section_keys(section: type) -> tuple[Key, ...]:
    """Keys of a top-level section dataclass: its fields, their types, defaults and comments."""
    hints = _hints(section)
    comments = field_comments(section)
    keys = []
    for f in dataclasses.fields(section):
        if f.default is not dataclasses.MISSING:
            default = format_value(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = format_value(f.default_factory())
        else:
            default = None
        keys.append(Key(f.name, format_hint(hints.get(f.name, f.type)), default, doc=comments.get(f.name, "")))
    return tuple(keys)


def components(providers: Collection[str] | None = None) -> list[Component]:
    """Every registered component (not mmengine's own) of the given providers (default: all)."""
    from wsvol.config.checker import INJECTED
    from wsvol.registry import Registries

    out = []
    for registry in Registries.all().values():
        for name, provider in registry.entries().items():
            if provider == "mmengine" or (providers is not None and provider not in providers):
                continue
            target = registry.get(name)
            injected = INJECTED.get(registry.kind, set()) | EXTRA_INJECTED.get(registry.kind, set())
            if inspect.isclass(target):
                keys, open_keys = constructor_keys(target, injected)
            else:  # functions (collate_fn) are called by the runner with their inputs
                keys, open_keys = (), None
            out.append(Component(registry.kind, name, provider, target, summary_of(target), keys, open_keys))
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return sorted(out, key=lambda c: (rank.get(c.kind, len(rank)), c.kind, c.name))


# -- rendering ---------------------------------------------------------------------------------
def _key_line(key: Key, injected_by: str) -> str:
    line = f"- `{key.name}`" + (f": `{key.hint}`" if key.hint else "")
    if key.injected:
        return line + f" — passed in by {injected_by}; not a config key"
    line += ", **required**" if key.default is None else f" = `{key.default}`"
    return line + (f" — {key.doc}" if key.doc else "")


_INJECTED_BY = {
    "head": "the model (`trcamv`, `tcam`)",
    "cam_method": "the classifier (or the `cam` source)",
    "runner": "wsvol",
    "data_sampler": "the runner",
    "optimizer": "the runner",
    "param_scheduler": "the runner",
    "loop": "the runner",
}


def render_component(c: Component, distributions: dict[str, str]) -> str:
    """The Markdown entry of one component."""
    target = f"{c.target.__module__}.{c.target.__qualname__}"
    provider = "wsvol (built-in)" if c.provider == "wsvol" else (
        f"plugin `{c.provider}` (distribution `{distributions.get(c.provider, '?')}`)")
    lines = [f'<a id="{c.anchor}"></a>', "", f"### `{c.name}`", ""]
    if c.summary:
        lines += [c.summary, ""]
    lines += [f"Provided by {provider} · `{target}`", ""]
    if not inspect.isclass(c.target):
        lines.append("A function: the runner calls it with its inputs; it takes no config keys.")
    elif not c.keys and not c.open_keys:
        lines.append("No config keys: `{type: " + c.name + "}`.")
    else:
        by = _INJECTED_BY.get(c.kind, "the caller")
        lines += [_key_line(k, by) for k in c.keys]
        if c.open_keys:
            doc = f": {c.open_keys.doc}" if c.open_keys.doc else ""
            lines.append(f"- any further key goes to `**{c.open_keys.name}`, unchecked{doc}")
    return "\n".join(lines).rstrip() + "\n"


def render_section(name: str, section: type) -> str:
    """The Markdown entry of one top-level section."""
    doc = md(inspect.cleandoc(section.__doc__ or "")).strip()
    lines = [f'<a id="section-{name}"></a>', "", f"### `{name}`", ""]
    if doc:
        lines += [doc, ""]
    lines += [f"`{section.__module__}.{section.__qualname__}`", ""]
    lines += [_key_line(k, "wsvol") for k in section_keys(section)]
    return "\n".join(lines) + "\n"


def plugin_distributions() -> dict[str, str]:
    """Plugin name → its distribution name."""
    from wsvol.plugin_manager import plugin_records

    return {r.name: r.distribution for r in plugin_records()}


def render(providers: Collection[str] | None = None) -> str:
    """The whole reference, as Markdown, for the given providers (default: every loaded plugin)."""
    from wsvol.config.sections import SECTIONS
    from wsvol.registry import Registries

    comps = components(providers)
    dists = plugin_distributions()
    shown = sorted({c.provider for c in comps}, key=lambda p: (p != "wsvol", p))
    by_kind: dict[str, list[Component]] = {}
    for c in comps:
        by_kind.setdefault(c.kind, []).append(c)
    empty = sorted(r.kind for r in Registries.all().values() if r.kind not in by_kind)
    plugins = ", ".join(f"`{p}`" + ("" if p == "wsvol" else f" (`{dists.get(p, '?')}`)") for p in shown)

    out = [
        "# Configuration reference",
        "",
        HEADER,
        "",
        f"Providers: {plugins}.",
        "",
        "Every component is chosen in a config by `type: <name>` from the registry of its kind; "
        "its other keys are its constructor's arguments, listed below as `key`: `type` = `default` "
        "(a key without a default is required). `wsvol config check CFG` checks a config against "
        "exactly these signatures and type hints, and `wsvol plugins list` shows what is "
        "installed here. A type `component(\"kind\")` is a nested config with its own `type:` "
        "from that kind's registry.",
        "",
        "Besides the components below, every registry falls back to mmengine's own classes "
        "(`SGD`, `StepLR`, `CheckpointHook`, `OptimWrapper`, ...), which mmengine documents. "
        + (f"Kinds with no wsvol component (mmengine's only): {', '.join(f'`{k}`' for k in empty)}."
           if empty else ""),
        "",
        "## Contents",
        "",
        "- [Top-level sections](#top-level-sections): "
        + ", ".join(f"[`{n}`](#section-{n})" for n in SECTIONS),
    ]
    for kind, items in by_kind.items():
        out.append(f"- [{kind}](#kind-{kind}): " + ", ".join(f"[`{c.name}`](#{c.anchor})" for c in items))
    out += [
        "",
        '<a id="top-level-sections"></a>',
        "",
        "## Top-level sections",
        "",
        "A config's top level holds mmengine `Runner` arguments (`model`, `train_dataloader`, "
        "`optim_wrapper`, `param_scheduler`, `train_cfg`, `default_hooks`, `custom_hooks`, "
        "`val_evaluator`, ...; see [`wsvol_runner`](#runner-wsvol_runner)), `custom_imports` "
        "(`{imports: [module, ...], allow_failed_imports: false}`: modules imported before the check, "
        "as in mmengine; this runs their code, see [Configs](configs.md#composition)) and these sections "
        "of wsvol's own. A child config drops an inherited section with `key: null` or "
        "`key: {_delete_: true}`.",
        "",
    ]
    out += [render_section(name, section) for name, section in SECTIONS.items()]
    for kind, items in by_kind.items():
        out += [f'<a id="kind-{kind}"></a>', "", f"## {kind}", ""]
        if kind in KIND_PLACES:
            out += [f"In a config: {KIND_PLACES[kind]}.", ""]
        out += [render_component(c, dists) for c in items]
    return "\n".join(out).rstrip() + "\n"


# -- plugin source trees -----------------------------------------------------------------------
def add_plugin_sources(dirs: Sequence[str | Path], scratch: Path) -> list[str]:
    """Make plugin source trees discoverable as if installed; return their entry-point names.

    Each folder's ``pyproject.toml`` gives the distribution name, version and ``wsvol.plugins``
    entry points; a minimal ``.dist-info`` with them is written under ``scratch`` and the folder
    (or its ``src/``) goes first on ``sys.path``. Must run before the plugin manager loads.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    from wsvol import plugin_manager
    from wsvol.hookspecs import ENTRY_POINT_GROUP

    if plugin_manager._MANAGER is not None:
        raise RuntimeError("plugin sources must be added before the plugin manager loads")
    names = []
    for folder in map(Path, dirs):
        pyproject = folder / "pyproject.toml"
        if not pyproject.is_file():
            raise FileNotFoundError(f"{folder}: no pyproject.toml (not a plugin source tree)")
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        eps = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
        if not eps or "name" not in project:
            raise ValueError(f'{pyproject}: no [project] name or [project.entry-points."{ENTRY_POINT_GROUP}"]')
        dist = re.sub(r"[-_.]+", "_", project["name"])
        info = scratch / f"{dist}-{project.get('version', '0')}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project.get('version', '0')}\n")
        (info / "entry_points.txt").write_text(
            f"[{ENTRY_POINT_GROUP}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
        sys.path.insert(0, str(folder / "src" if (folder / "src").is_dir() else folder))
        names += list(eps)
    sys.path.insert(0, str(scratch))
    importlib.invalidate_caches()
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Print the reference; with ``--plugin-dir``, for wsvol and those plugin source trees only."""
    parser = argparse.ArgumentParser(prog="python -m wsvol.config.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--plugin-dir", action="append", default=[], metavar="DIR",
                        help="a plugin's source tree (with pyproject.toml) to document; repeatable")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wsvol-docs-") as scratch:
        providers = None
        if args.plugin_dir:
            providers = {"wsvol", *add_plugin_sources(args.plugin_dir, Path(scratch))}
            from wsvol.plugin_manager import plugin_records

            failed = [r for r in plugin_records() if r.name in providers and r.status != "ok"]
            if failed:
                parser.error("; ".join(f"plugin {r.name!r}: {r.status}: {r.reason}" for r in failed))
        text = render(providers)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
