"""Every `--help` page says what the command does, what each option is for, and shows examples;
options a command would ignore are not offered."""

from __future__ import annotations

import argparse

import pytest

from wsvol.cli.main import build_parser

#: commands whose page is another's: bench (arguments go to python -m benchmarks)
NO_EXAMPLES = {"bench"}  # its page, python -m benchmarks --help, has them: tests/benchmarks/test_main.py


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


def pages(parser: argparse.ArgumentParser, name: str = "wsvol") -> dict[str, argparse.ArgumentParser]:
    """Every help page, ``wsvol`` and the commands that only group others (``wsvol data``) included."""
    out = {name: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                out.update(pages(sub, f"{name} {sub_name}"))
    return out


ALL = commands(build_parser())
PAGES = pages(build_parser())


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


def test_the_groups_are_pages_too():
    assert {"wsvol", "wsvol data", "wsvol data prepare", "wsvol weights", "wsvol config", "wsvol plugins"} <= set(PAGES)
    assert {f"wsvol {name}" for name in ALL} <= set(PAGES)


@pytest.mark.parametrize("name", sorted(set(PAGES) - {f"wsvol {c}" for c in NO_EXAMPLES}))
def test_every_help_page_ends_with_examples_of_its_command(name):
    parser = PAGES[name]
    assert parser.description and len(parser.description) > 30, name
    sections = parser.format_help().rstrip("\n").split("\n\n")
    last = sections[-1].splitlines()
    assert last[0] in ("example:", "examples:"), f"{name}: the page ends with {sections[-1]!r}"
    text = "\n".join(line.strip() for line in last[1:] if line.startswith("  ")).replace("\\\n", " ")
    commands = [line.split(" # ")[0].strip() for line in text.splitlines()]  # the commands, not their comments
    assert commands and all(f"{name} " in f"{c} " for c in commands), f"{name}: {commands}"


def test_export_help_names_the_files_export_writes():
    from wsvol.engine.export import SUFFIX

    page = " ".join(PAGES["wsvol export"].format_help().split())
    for suffix in SUFFIX.values():
        assert f"best_corloc_epoch_6{suffix}" in page or f" {suffix} " in page, suffix
    assert ".ts.pt" not in page


def test_frame_folders_take_the_suffixes_the_help_names():
    from wsvol.data.video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    videos = ", ".join(e.lstrip(".") for e in VIDEO_EXTENSIONS)
    frames = ", ".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
    for name, dest in (("wsvol predict", "video"), ("wsvol data import", "src")):
        text = " ".join(next(a for a in PAGES[name]._actions if a.dest == dest).help.split())
        assert f"({videos})" in text and f"frame folders ({frames}" in text.replace("folder of frames", "frame folders")


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
