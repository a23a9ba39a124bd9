"""The plugin hook specifications: the whole plugin API of wsvol.

A plugin is a module (or object) exposed through the ``wsvol.plugins`` entry-point group that
implements some of these hooks with ``@wsvol.hookspecs.hookimpl``. wsvol's own components
register through the very same hooks (see ``wsvol.builtin_plugin``).
"""

from __future__ import annotations

import argparse
from typing import Any

import pluggy

PROJECT = "wsvol"
ENTRY_POINT_GROUP = "wsvol.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def wsvol_register(registries: Any) -> None:
    """Register components: ``registries.losses.register_module(name="my_loss")(MyLoss)``.

    ``registries`` is ``wsvol.registry.Registries``: one attribute per kind (backbones, heads,
    pseudo_label_sources, pixel_samplers, losses, cam_methods, models, datasets, transforms,
    data_samplers, hooks, metrics, ...). Importing a module whose classes carry
    ``@LOSSES.register_module(...)`` decorators inside this hook does the same.
    """


@hookspec(firstresult=True)
def wsvol_resolve_weights(name: str) -> str | None:
    """Return a local file path for the named weights (e.g. ``"clip_vit_b16"``), or None.

    The first plugin that returns a path wins; an explicit path in the config comes before any
    plugin, and the weights directory (``$WSVOL_WEIGHTS``) after all of them.
    """


@hookspec
def wsvol_add_cli_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add sub-commands to the ``wsvol`` CLI.

    ``p = subparsers.add_parser("mycmd", help=...)``; ``p.set_defaults(func=handler)`` where
    ``handler(args) -> int | None``. Keep imports inside the handler: ``wsvol --help`` must stay fast.
    """
