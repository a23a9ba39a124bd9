"""``wsvol plugins list`` and ``wsvol bench``."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add plugins (list) and bench."""
    plugins = sub.add_parser("plugins", help="list plugins and their components")
    plugins.set_defaults(_parser=plugins)
    plugins_sub = plugins.add_subparsers(dest="plugins_command", metavar="ACTION")
    plugins_sub.add_parser("list", help="plugins, distributions, components").set_defaults(func=_plugins_list)

    p = sub.add_parser("bench", help="run the benchmarks of a source checkout (python -m benchmarks): one table of ratios",
                       description="run benchmarks/ of a wsvol source checkout; arguments go to python -m benchmarks",
                       add_help=False)
    p.set_defaults(func=_bench, pass_through=True)  # every argument goes on, e.g. --only bench_crf, --help


def _plugins_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from wsvol.plugin_manager import plugin_records

    table = Table(title="wsvol plugins")
    for col in ("plugin", "distribution", "version", "status", "kind", "names"):
        table.add_column(col)
    for rec in plugin_records():
        rows = list(rec.components.items()) or [("", [])]
        for i, (kind, names) in enumerate(rows):
            first = i == 0
            status = rec.status if not rec.reason else f"{rec.status}: {rec.reason}"
            table.add_row(rec.name if first else "", rec.distribution if first else "",
                          rec.version if first else "", status if first else "", kind, ", ".join(names))
    Console().print(table)
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
