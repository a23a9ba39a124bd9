"""Discovers plugins (entry-point group ``wsvol.plugins``) and calls their hooks.

The built-in plugin (``wsvol.builtin_plugin``) is registered first and goes through the same
hooks as third-party ones. A plugin that fails to import, to validate against the hook specs
or to register is reported (plugin, distribution, short reason), rolled back, and all other
plugins still load. ``WSVOL_DISABLE_PLUGINS=a,b`` blocks plugins by entry-point name.
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


class PluginWarning(UserWarning):
    """A plugin could not be loaded or could not register its components."""


@dataclass
class PluginRecord:
    """What we know about one plugin."""

    name: str
    distribution: str
    version: str
    status: str = "ok"  # ok | disabled | failed
    reason: str = ""
    components: dict[str, list[str]] = field(default_factory=dict)  # registry kind → names


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
            if ep.name in self.records:
                self._fail(PluginRecord(ep.name, dist, version),
                           f"plugin name {ep.name!r} is already taken by distribution "
                           f"{self.records[ep.name].distribution!r}")
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
        self.records[record.name] = record
        if self.pm.has_plugin(record.name):
            self.pm.unregister(name=record.name)
        warnings.warn(f"wsvol plugin {record.name!r} (distribution {record.distribution} "
                      f"{record.version}) was not loaded: {reason}", PluginWarning, stacklevel=3)

    # -- registration ----------------------------------------------------------------------
    def register_all(self) -> None:
        if self.registered:
            return
        self.registered = True  # set first: registering imports modules that use registries
        from wsvol.registry import Registries, current_provider

        regs = Registries.all()
        builtin = {name for name, _ in DEFAULT_PLUGINS}
        impls = sorted(self.pm.hook.wsvol_register.get_hookimpls(), key=lambda i: i.plugin_name not in builtin)
        for impl in impls:  # built-ins first, so a clash is always blamed on the newcomer
            record = self.records[impl.plugin_name]
            before = {k: set(r.module_dict) for k, r in regs.items()}
            token = current_provider.set(impl.plugin_name)
            try:
                impl.function(registries=Registries)
            except Exception as exc:
                for k, reg in regs.items():  # roll back what this plugin registered
                    for name in set(reg.module_dict) - before[k]:
                        reg.unregister(name)
                self._fail(record, f"registration failed: {type(exc).__name__}: {exc}")
                continue
            finally:
                current_provider.reset(token)
            for k, reg in regs.items():
                added = sorted(set(reg.module_dict) - before[k])
                if added:
                    record.components[reg.kind] = added


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
    return get_manager().pm.hook.wsvol_resolve_weights(name=name)


def add_cli_commands(subparsers) -> None:
    """Let every plugin add its CLI sub-commands."""
    get_manager().pm.hook.wsvol_add_cli_commands(subparsers=subparsers)


def plugin_module(name: str) -> ModuleType | None:
    """The loaded plugin object registered under ``name``."""
    return get_manager().pm.get_plugin(name)
