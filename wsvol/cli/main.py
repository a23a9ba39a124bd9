"""The ``wsvol`` command line. Sub-commands come from plugins (built-ins included) via a hook."""

from __future__ import annotations

import argparse
import os
import sys

from wsvol import __version__
from wsvol.cli.help import ExamplesFormatter


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global flags plus every plugin's sub-commands."""
    from wsvol.plugin_manager import add_cli_commands

    parser = argparse.ArgumentParser(
        prog="wsvol",
        description="Weakly supervised object localization in videos: TrCAM-V, CAM baselines, CorLoc.",
        epilog="examples:\n"
               "  wsvol run configs/trcamv_synthetic.yaml        # TrCAM-V end to end on synthetic videos\n"
               "  wsvol config check configs/trcamv_ytov1.yaml   # check a config before any work\n"
               "  wsvol weights list                             # the weights files configs name\n"
               "  wsvol COMMAND --help                           # a command's options and examples\n"
               "docs: docs/quickstart.md",
        formatter_class=ExamplesFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wsvol {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_cli_commands(sub)
    return parser


def end_distributed() -> None:
    """After a distributed command: every rank waits for the others (rank 0 writes the report),
    then the process group is closed; left open, gloo's threads raced the interpreter's exit and
    a rank now and then aborted ("terminate called without an active exception")."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv or os.environ.get("WSVOL_DEBUG") == "1"
    args = None
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "pass_through", False):
            parser.parse_args(argv)  # the usual "unrecognized arguments" error
        args.extra_args = extra
        if not getattr(args, "func", None):
            target = getattr(args, "_parser", parser)
            target.print_help()
            return 0 if args.command is None else 2
        code = int(args.func(args) or 0)
        end_distributed()
        return code
    except KeyboardInterrupt:
        hint = ""
        if getattr(args, "command", None) in ("run", "train") and getattr(args, "config", None):
            where = f" --work-dir {args.work_dir}" if getattr(args, "work_dir", None) else ""
            hint = f"; `wsvol {args.command} {args.config}{where} --resume` continues it"
        print(f"wsvol: interrupted{hint}", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except BaseException as exc:  # one clear line (or block) unless --debug
        if debug:
            raise
        print(f"wsvol: error: {_message(exc)}", file=sys.stderr)
        print("(run with --debug for the full traceback)", file=sys.stderr)
        return 1


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    known = ("ConfigError", "DataError", "RegistryError", "WeightsError", "FileNotFoundError", "NotImplementedError", "CacheError", "ComparisonError",
             "FolderBusy")
    return text if type(exc).__name__ in known else f"{type(exc).__name__}: {text}"


if __name__ == "__main__":
    raise SystemExit(main())
