"""Discovers plugins (entry-point group ``wsvol.plugins``) and calls their hooks.

The built-in plugin (``wsvol.builtin_plugin``) is registered first and goes through the same
hooks as third-party ones. Every hook is called through pluggy one plugin at a time, so that a
fault is contained: a plugin that fails to import or to validate against the hook specs is not
loaded; one whose hook raises (or registers a name, or adds a command, that is taken) is
reported by name (plugin, distribution, short reason), rolled back and skipped for that hook,
and every other plugin works. ``WSVOL_DISABLE_PLUGINS=a,b`` blocks plugins by entry-point name.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import warnings
from dataclasses import dataclass, field
from types import ModuleType

import pluggy

from wsvol import hookspecs

#: (plugin name, module) of the built-in plugins, registered before any entry point.
DEFAULT_PLUGINS = (("wsvol", "wsvol.builtin_plugin"),)
DISABLE_ENV = "WSVOL_DISABLE_PLUGINS"


@dataclass(frozen=True)
class KnownPlugin:
    """A plugin of wsvol's own repository (``plugins/``) and what it registers, known whether or not
    it is installed, so that a config naming one of its components says which plugin to install."""

    name: str  #: its entry-point name (what ``WSVOL_DISABLE_PLUGINS`` lists)
    distribution: str
    source: str  #: its source tree in wsvol's repository
    components: dict[str, tuple[str, ...]]  #: registry kind → the names it registers

    @property
    def install(self) -> str:
        """The command that installs it from a checkout of wsvol's repository."""
        return f"pip install -e {self.source}"


#: The plugins under ``plugins/`` of wsvol's repository and their components (as their
#: ``wsvol_register`` hooks register them; tests/config/test_plugin_hints.py loads each source
#: tree and fails when this differs).
FIRST_PARTY_PLUGINS: tuple[KnownPlugin, ...] = (
    KnownPlugin("clipseg", "wsvol-clipseg", "plugins/wsvol-clipseg", {"pseudo_label_source": ("clipseg",)}),
    KnownPlugin("example", "wsvol-example", "plugins/wsvol-example",
                {"pseudo_label_source": ("dino_attention",), "loss": ("entropy_min",)}),
)


class PluginWarning(UserWarning):
    """A plugin could not be loaded or could not register its components."""


@dataclass
class PluginRecord:
    """What we know about one plugin."""

    name: str
    distribution: str
    version: str
    status: str = "ok"  # ok | disabled | failed (not loaded) | partial (a hook failed)
    reason: str = ""
    components: dict[str, list[str]] = field(default_factory=dict)  # registry kind → names
    hook_failures: dict[str, str] = field(default_factory=dict)  # hook → reason


class _Manager:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.registered = False
        self._load()

    # -- discovery -------------------------------------------------------------------------
    def _load(self) -> None:
        from wsvol import __version__

        for name, modname in DEFAULT_PLUGINS:
            self._add(name, "wsvol", __version__, lambda m=modname: importlib.import_module(m))
        disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
        for ep in sorted(md.entry_points(group=hookspecs.ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            if ep.name in self.records:  # the first one keeps the name; only the newcomer is refused
                taken = self.records[ep.name]
                record = PluginRecord(f"{ep.name} ({dist})", dist, version)
                self.records[record.name] = record
                self._fail(record, f"plugin name {ep.name!r} is already taken by distribution "
                                   f"{taken.distribution!r} (kept)")
                continue
            if ep.name in disabled:
                self.records[ep.name] = PluginRecord(ep.name, dist, version, "disabled", f"listed in ${DISABLE_ENV}")
                continue
            self._add(ep.name, dist, version, ep.load)

    def _add(self, name: str, dist: str, version: str, load) -> None:
        record = PluginRecord(name, dist, version)
        self.records[name] = record
        try:
            plugin = load()
        except Exception as exc:  # a broken plugin must not take the others down
            self._fail(record, f"import failed: {type(exc).__name__}: {exc}")
            return
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            self._fail(record, f"invalid hook: {exc}")
            return
        unknown = [c.name for c in self.pm.get_hookcallers(plugin) or [] if not c.has_spec()]
        if unknown:
            self.pm.unregister(plugin)
            known = ", ".join(n for n in dir(hookspecs) if n.startswith("wsvol_"))
            self._fail(record, f"unknown hook(s) {', '.join(unknown)}; known hooks: {known}")

    def _fail(self, record: PluginRecord, reason: str) -> None:
        record.status, record.reason = "failed", reason
        if self.pm.has_plugin(record.name):
            self.pm.unregister(name=record.name)
        warnings.warn(f"wsvol plugin {record.name!r} (distribution {record.distribution} "
                      f"{record.version}) was not loaded: {reason}", PluginWarning, stacklevel=3)

    def _hook_failed(self, name: str, hook: str, reason: str) -> None:
        """Plugin ``name`` stays loaded but is skipped for ``hook``, whose call failed."""
        record = self.records.setdefault(name, PluginRecord(name, "?", "?"))
        if hook not in record.hook_failures:
            record.hook_failures[hook] = reason
            record.status = "partial" if record.status == "ok" else record.status
            record.reason = "; ".join(f"{h}: {r}" for h, r in record.hook_failures.items())
            warnings.warn(f"wsvol plugin {name!r} (distribution {record.distribution} {record.version}) is "
                          f"skipped for {hook}: {reason}", PluginWarning, stacklevel=4)

    def each(self, hook: str):
        """(plugin name, hook caller of that plugin alone) for every plugin implementing ``hook``,
        in pluggy's call order, skipping plugins whose ``hook`` failed before."""
        caller = getattr(self.pm.hook, hook)
        everyone = self.pm.get_plugins()
        for impl in reversed(caller.get_hookimpls()):
            record = self.records.get(impl.plugin_name)  # None: registered by hand (pm.register)
            if record is not None and hook in record.hook_failures:
                continue
            yield impl.plugin_name, self.pm.subset_hook_caller(hook, [p for p in everyone if p is not impl.plugin])

    # -- registration ----------------------------------------------------------------------
    def register_all(self) -> None:
        if self.registered:
            return
        self.registered = True  # set first: registering imports modules that use registries
        from wsvol.registry import Registries, current_provider

        regs = Registries.all()
        builtin = {name for name, _ in DEFAULT_PLUGINS}
        plugins = sorted(self.each("wsvol_register"), key=lambda item: item[0] not in builtin)
        for name, call in plugins:  # built-ins first, so a clash is always blamed on the newcomer
            before = {k: set(r.module_dict) for k, r in regs.items()}
            token = current_provider.set(name)
            try:
                call(registries=Registries)
            except Exception as exc:
                for k, reg in regs.items():  # roll back what this plugin registered
                    for added in set(reg.module_dict) - before[k]:
                        reg.unregister(added)
                self._hook_failed(name, "wsvol_register", f"registration failed: {type(exc).__name__}: {exc}")
                continue
            finally:
                current_provider.reset(token)
            for k, reg in regs.items():
                added = sorted(set(reg.module_dict) - before[k])
                if added:
                    self.records.setdefault(name, PluginRecord(name, "?", "?")).components[reg.kind] = added

    def resolve_weights(self, name: str) -> str | None:
        """The first plugin answer to ``wsvol_resolve_weights(name)``; a plugin that raises is named and skipped."""
        for plugin, call in self.each("wsvol_resolve_weights"):
            try:
                answer = call(name=name)
            except Exception as exc:
                self._hook_failed(plugin, "wsvol_resolve_weights", f"{type(exc).__name__}: {exc}")
                continue
            if answer is not None:
                return answer
        return None

    def add_cli_commands(self, subparsers) -> None:
        """Every plugin's sub-commands; a plugin that raises or takes an existing command name adds none."""
        for plugin, call in self.each("wsvol_add_cli_commands"):
            guarded = _GuardedSubparsers(subparsers, plugin)
            try:
                call(subparsers=guarded)
            except Exception as exc:
                guarded.roll_back()
                self._hook_failed(plugin, "wsvol_add_cli_commands", f"{type(exc).__name__}: {exc}")


class _GuardedSubparsers:
    """argparse's sub-parsers as one plugin sees them: a taken command name is refused before
    anything changes, and what the plugin added can be taken back."""

    def __init__(self, subparsers, plugin: str) -> None:
        self._subparsers, self._plugin, self._added = subparsers, plugin, []

    def add_parser(self, name: str, **kwargs):
        taken = self._subparsers._name_parser_map
        for n in (name, *kwargs.get("aliases", ())):
            if n in taken:
                raise ValueError(f"command {n!r} is taken (by wsvol or another plugin)")
        parser = self._subparsers.add_parser(name, **kwargs)
        self._added.append((name, *kwargs.get("aliases", ())))
        return parser

    def roll_back(self) -> None:
        names = {n for group in self._added for n in group}
        for n in names:
            self._subparsers._name_parser_map.pop(n, None)
        self._subparsers._choices_actions[:] = [a for a in self._subparsers._choices_actions
                                               if a.dest not in names]

    def __getattr__(self, attr):
        return getattr(self._subparsers, attr)


_MANAGER: _Manager | None = None


def get_manager() -> _Manager:
    """The process-wide plugin manager (plugins are loaded on first call)."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = _Manager()
    return _MANAGER


def register_all() -> None:
    """Call ``wsvol_register`` on every plugin, once per process."""
    get_manager().register_all()


def plugin_records() -> list[PluginRecord]:
    """Every plugin seen, with its status and registered components."""
    m = get_manager()
    m.register_all()
    return list(m.records.values())


def resolve_weights(name: str) -> str | None:
    """First plugin answer to ``wsvol_resolve_weights(name)``."""
    return get_manager().resolve_weights(name)


def add_cli_commands(subparsers) -> None:
    """Let every plugin add its CLI sub-commands."""
    get_manager().add_cli_commands(subparsers)


def absent_plugin_note(kind: str, name: str) -> str | None:
    """Why ``name`` is not in the registry of ``kind`` when a first-party plugin provides it: that
    plugin is not installed, disabled by ``WSVOL_DISABLE_PLUGINS``, failed or out of date; else None."""
    m = get_manager()
    m.register_all()
    for known in FIRST_PARTY_PLUGINS:
        if name not in known.components.get(kind, ()):
            continue
        record = m.records.get(known.name)
        if record is None or record.distribution != known.distribution:
            record = next((r for r in m.records.values() if r.distribution == known.distribution), record)
        which = f"it is provided by the {known.distribution} plugin (entry point {known.name!r})"
        if record is None:
            return f"{which}, which is not installed: {known.install}"
        if record.status == "disabled":
            return (f"{which}, which is disabled by the environment variable "
                    f"{DISABLE_ENV}={os.environ.get(DISABLE_ENV, '')}: take {known.name!r} out of it to use it")
        if record.status == "failed" or "wsvol_register" in record.hook_failures:
            return f"{which}, which failed to load: {record.hook_failures.get('wsvol_register') or record.reason}"
        return f"{which}, but its installed version {record.version} does not register it: {known.install}"
    return None


def inactive_plugins_note() -> str | None:
    """The plugins disabled by ``WSVOL_DISABLE_PLUGINS`` or failed here (one of them may provide
    a name no registry has), as a sentence; None when every plugin is loaded."""
    m = get_manager()
    m.register_all()
    disabled = [r for r in m.records.values() if r.status == "disabled"]
    failed = [r for r in m.records.values() if r.status == "failed" or "wsvol_register" in r.hook_failures]
    notes = []
    if disabled:
        notes.append(f"plugin(s) {', '.join(f'{r.name!r} ({r.distribution})' for r in disabled)} disabled by the "
                     f"environment variable {DISABLE_ENV}={os.environ.get(DISABLE_ENV, '')} may provide it")
    if failed:
        notes.append(f"plugin(s) {', '.join(f'{r.name!r} ({r.distribution})' for r in failed)} failed to load "
                     "(`wsvol plugins list` says why) and may provide it")
    return "; ".join(notes) or None


def plugin_module(name: str) -> ModuleType | None:
    """The loaded plugin object registered under ``name``."""
    return get_manager().pm.get_plugin(name)
