"""Every `--help` page says what the command does, what each option is for, and shows examples;
options a command would ignore are not offered."""

from __future__ import annotations

import argparse

import pytest

from wsvol.cli.main import build_parser

#: commands whose page is another's: bench (arguments go to python -m benchmarks)
NO_EXAMPLES = {"bench"}


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every (sub-)command parser by its full name, e.g. ``config check``."""
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix}{name}"
                nested = commands(sub, full + " ")
                out.update(nested or {full: sub})
    return out


ALL = commands(build_parser())


def test_the_core_commands_are_all_there():
    assert {"run", "train", "test", "visualize", "pseudo-labels", "config check", "config show", "data synth",
            "data check", "data import", "weights list", "plugins list"} <= set(ALL)


@pytest.mark.parametrize("name", sorted(set(ALL) - NO_EXAMPLES))
def test_help_page_has_a_description_option_help_and_examples(name):
    parser = ALL[name]
    assert parser.description and len(parser.description) > 30, name
    helpless = [a.option_strings or a.dest for a in parser._actions if not a.help]
    assert not helpless, f"{name}: options without help: {helpless}"
    page = parser.format_help()
    assert "\nexample" in page, name
    examples = page[page.index("\nexample"):]
    assert f"wsvol {name}" in examples or f"-m wsvol {name.split()[0]}" in examples, name


def test_test_and_visualize_do_not_offer_training_flags():
    parser = build_parser()
    for command in ("test", "visualize"):
        for flag in ("--resume", "--amp"):
            with pytest.raises(SystemExit):
                parser.parse_args([command, "c.yaml", "--checkpoint", "x.pth", flag])
        args = parser.parse_args([command, "c.yaml", "--checkpoint", "x.pth", "--launcher", "slurm"])
        assert args.launcher == "slurm"  # evaluation runs distributed too
    args = parser.parse_args(["run", "c.yaml", "--resume", "--amp", "--launcher", "mpi"])
    assert (args.resume, args.amp, args.launcher) == ("auto", True, "mpi")
