"""``wsvol config check`` and ``config show``."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add config (check, show)."""
    cfg = sub.add_parser("config", help="check or show configs")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION")
    cfg.set_defaults(_parser=cfg)
    p = cfg_sub.add_parser("check", help="check configs before any work: types, keys, values")
    p.add_argument("configs", nargs="+")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=_config_check)
    p = cfg_sub.add_parser("show", help="print the merged config as YAML")
    p.add_argument("config")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=_config_show)


def _config_check(args: argparse.Namespace) -> int:
    from wsvol.config import ConfigError, check_config, load_config
    from wsvol.utils.terminal import make_console

    console = make_console(stderr=True)
    failed = 0
    for path in args.configs:
        try:
            check_config(load_config(path, args.cfg_options))
            console.print(f"[green]ok[/green]   {path}")
        except ConfigError as exc:
            failed += 1
            console.print("[red]FAIL[/red] ", end="")
            console.print(str(exc), markup=False, highlight=False)
    return 1 if failed else 0


def _config_show(args: argparse.Namespace) -> int:
    from wsvol.config import load_config
    from wsvol.config.loader import dump_yaml

    print(dump_yaml(load_config(args.config, args.cfg_options)), end="")
    return 0
