"""wsvol's own components and commands, registered through the public plugin hooks."""

from __future__ import annotations

import importlib

from wsvol.hookspecs import hookimpl


@hookimpl
def wsvol_register(registries) -> None:
    """Import every built-in module; their decorators register the components."""
    for registry in registries.all().values():
        for module in registry.builtin_modules:
            importlib.import_module(module)


@hookimpl(tryfirst=True)
def wsvol_add_cli_commands(subparsers) -> None:
    """The core sub-commands (run, train, test, data, plugins, config, ...)."""
    from wsvol.cli.commands import add_core_commands

    add_core_commands(subparsers)
