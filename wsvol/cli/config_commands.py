"""``wsvol config check`` and ``config show``."""

from __future__ import annotations

import argparse

from wsvol.cli.help import ExamplesFormatter


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add config (check, show)."""
    cfg = sub.add_parser("config", help="check or show configs",
                         description="Check configs (types, keys, values, the configs and weights they name) before "
                                     "any work, or print one merged (docs/configs.md).",
                         epilog="examples:\n"
                                "  wsvol config check configs/trcamv_synthetic.yaml\n"
                                "  wsvol config show configs/trcamv_synthetic.yaml\n"
                                "  wsvol config ACTION --help   # an action's options and examples",
                         formatter_class=ExamplesFormatter)
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION")
    cfg.set_defaults(_parser=cfg)
    p = cfg_sub.add_parser(
        "check", help="check configs before any work: types, keys, values, the configs they name, weights",
        description="Check each config as a run would, before any work: every type, key and value (file, line, "
                    "dotted key), the configs it names (baseline.config) checked the same way, and the weights "
                    "files it names (missing ones are a warning, an error with --strict).",
        epilog="examples:\n"
               "  wsvol config check configs/trcamv_synthetic.yaml\n"
               "  wsvol config check configs/cam/*.yaml --cfg-options train_cfg.max_epochs=2\n"
               "  wsvol config check configs/trcamv_ytov1.yaml --strict   # also fail on missing weights",
        formatter_class=ExamplesFormatter)
    p.add_argument("configs", nargs="+", metavar="CONFIG", help="YAML config files")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config keys before checking (values are YAML)")
    p.add_argument("--strict", action="store_true", help="a missing weights file fails the check")
    p.set_defaults(func=_config_check)
    p = cfg_sub.add_parser("show", help="print the merged config as YAML",
                           description="Print a config with its _base_ files merged and --cfg-options applied, "
                                       "as YAML (what a run saves as config.yaml in its work dir).",
                           epilog="example:\n  wsvol config show configs/trcamv_synthetic.yaml --cfg-options "
                                  "train_cfg.max_epochs=2",
                           formatter_class=ExamplesFormatter)
    p.add_argument("config", help="YAML config file")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override config keys (values are YAML)")
    p.set_defaults(func=_config_show)


def _config_check(args: argparse.Namespace) -> int:
    from wsvol.config import ConfigError, check_config, load_config
    from wsvol.engine.job import missing_weights
    from wsvol.utils.terminal import make_console

    console = make_console(stderr=True)
    console.soft_wrap = True  # the terminal wraps: `path:line` stays whole, to copy or click
    failed = 0
    for path in args.configs:
        try:
            cfg = load_config(path, args.cfg_options)
            check_config(cfg)
        except ConfigError as exc:
            failed += 1
            console.print("[red]FAIL[/red] ", end="")
            console.print(str(exc), markup=False, highlight=False)
            continue
        missing = [m for c in _named_configs(cfg) if (m := missing_weights(c))]
        if missing and args.strict:
            failed += 1
            console.print(f"[red]FAIL[/red] {path}: weights missing (--strict):", highlight=False)
        elif missing:
            console.print(f"[green]ok[/green]   {path} [yellow](warning: weights missing; a run stops at "
                          f"once until they are in place)[/yellow]", highlight=False)
        else:
            console.print(f"[green]ok[/green]   {path}", highlight=False)
        for message in missing:
            console.print("     " + message.replace("\n", "\n     "), markup=False, highlight=False)
    return 1 if failed else 0


def _named_configs(cfg) -> list:
    """``cfg`` and the configs it names (``baseline.config``), recursively (cycles are refused by the check)."""
    from wsvol.config import load_config
    from wsvol.config.checker import referenced_configs

    out = [cfg]
    for path in referenced_configs(cfg).values():
        out += _named_configs(load_config(path))
    return out


def _config_show(args: argparse.Namespace) -> int:
    from wsvol.config import load_config
    from wsvol.config.loader import dump_yaml

    print(dump_yaml(load_config(args.config, args.cfg_options)), end="")
    return 0
