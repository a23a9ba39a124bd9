"""``wsvol plugins list`` and ``wsvol bench``."""

from __future__ import annotations

import argparse
from pathlib import Path

from wsvol.cli.help import ExamplesFormatter


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add plugins (list) and bench."""
    plugins = sub.add_parser("plugins", help="list plugins and their components",
                             description="The installed plugins (docs/plugins.md) and the components each registers.",
                             epilog="examples:\n"
                                    "  wsvol plugins list\n"
                                    "  wsvol plugins list --long   # each component with its description",
                             formatter_class=ExamplesFormatter)
    plugins.set_defaults(_parser=plugins)
    plugins_sub = plugins.add_subparsers(dest="plugins_command", metavar="ACTION")
    p = plugins_sub.add_parser("list", help="plugins, distributions, components",
                               description="Every plugin (wsvol's built-ins are the plugin 'wsvol'): its distribution, "
                               "version, status (ok, disabled, failed and why) and the components it registers, by kind.",
                               epilog="examples:\n  wsvol plugins list\n  wsvol plugins list --long   "
                               "# each component with its description",
                               formatter_class=ExamplesFormatter)
    p.add_argument("--long", "-l", action="store_true",
                   help="one line per component, with the first line of its docstring")
    p.set_defaults(func=_plugins_list)

    p = sub.add_parser("bench", help="run the benchmarks of a source checkout (python -m benchmarks): one table of ratios",
                       description="run benchmarks/ of a wsvol source checkout; arguments go to python -m benchmarks",
                       add_help=False)
    p.set_defaults(func=_bench, pass_through=True)  # every argument goes on, e.g. --only bench_crf, --help


def _plugins_list(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.padding import Padding
    from rich.table import Table

    from wsvol.plugin_manager import plugin_records
    from wsvol.registry import registry_for_kind
    from wsvol.utils.terminal import make_console

    console = make_console()
    for rec in plugin_records():  # one block per plugin: readable at 80 columns
        status = rec.status if not rec.reason else f"{rec.status}: {rec.reason}"
        colour = "green" if rec.status == "ok" else "red"
        console.print(f"[bold]{escape(rec.name)}[/bold]  (distribution {escape(rec.distribution)} "
                      f"{escape(rec.version)})  [{colour}]{escape(status)}[/{colour}]")
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True, style="cyan")
        if args.long:
            grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        if args.long:
            from wsvol.config.reference import summary_of

            for kind, names in rec.components.items():
                registry = registry_for_kind(kind)
                for name in names:
                    cls = registry.get(name)
                    grid.add_row(kind, name, escape(summary_of(cls) if cls is not None else ""))
        else:
            for kind, names in rec.components.items():
                grid.add_row(kind, ", ".join(names))
        console.print(Padding(grid, (0, 0, 1, 2), expand=False))
    return 0


def _bench(args: argparse.Namespace) -> int:
    import importlib
    import sys

    import wsvol

    # benchmarks/ sits beside wsvol/ in a checkout (editable install), or in the current folder
    roots = [Path(wsvol.__file__).resolve().parents[1], Path.cwd()]
    root = next((r for r in roots if (r / "benchmarks" / "__main__.py").is_file()), None)
    if root is None:
        raise FileNotFoundError(
            "wsvol bench runs the benchmarks/ folder of a wsvol source checkout, and none was found in "
            + " or ".join(str(r) for r in dict.fromkeys(roots))
            + ": clone the repository and run it from its root"
        )
    sys.path.insert(0, str(root))
    return int(importlib.import_module("benchmarks.__main__").main(args.extra_args) or 0)
