"""docs/reference.md is generated from the registries and must never go stale; docs/weights.md
names every weights file."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from wsvol.config import component
from wsvol.config.reference import (
    arg_docs,
    components,
    constructor_keys,
    format_hint,
    format_value,
    plugin_distributions,
    render_component,
)

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference.md"
PLUGIN_DIRS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
REGENERATE = "python -m wsvol.config.reference " + " ".join(
    f"--plugin-dir {p.relative_to(ROOT)}" for p in PLUGIN_DIRS) + " > docs/reference.md"


def _repo_plugin_names() -> set[str]:
    import tomllib

    names = set()
    for folder in PLUGIN_DIRS:
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        names |= set(project.get("entry-points", {}).get("wsvol.plugins", {}))
    return names


def test_committed_reference_is_what_the_generator_writes():
    env = {k: v for k, v in os.environ.items() if k != "WSVOL_DISABLE_PLUGINS"}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "wsvol.config.reference", *(f"--plugin-dir={p}" for p in PLUGIN_DIRS)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    committed = REFERENCE.read_text(encoding="utf-8")
    if done.stdout != committed:
        diff = "".join(list(difflib.unified_diff(
            committed.splitlines(True), done.stdout.splitlines(True), "docs/reference.md", "generated"))[:60])
        pytest.fail(f"docs/reference.md is stale; regenerate it with\n    {REGENERATE}\n{diff}")


def test_every_registered_component_is_documented_as_registered():
    """Each component of wsvol and of this repository's plugins loaded here has its entry, verbatim."""
    committed = REFERENCE.read_text(encoding="utf-8")
    ours = {"wsvol"} | _repo_plugin_names()
    comps = [c for c in components() if c.provider in ours]
    assert {c.kind for c in comps} >= {"pseudo_label_source", "loss", "cam_method", "model", "metric"}
    dists = plugin_distributions()
    for c in comps:
        assert f'<a id="{c.anchor}"></a>' in committed, (
            f"{c.kind} {c.name!r} ({c.provider}) is missing from docs/reference.md; regenerate it with\n"
            f"    {REGENERATE}")
        assert render_component(c, dists) in committed, (
            f"the entry of {c.kind} {c.name!r} in docs/reference.md is stale; regenerate it with\n"
            f"    {REGENERATE}")


def test_sections_are_documented_with_every_key():
    import dataclasses

    from wsvol.config.sections import SECTIONS

    committed = REFERENCE.read_text(encoding="utf-8")
    for name, section in SECTIONS.items():
        start = committed.index(f'<a id="section-{name}"></a>')
        entry = committed[start:committed.index("<a id=", start + 1)]
        for field in dataclasses.fields(section):
            assert f"- `{field.name}`" in entry, f"section {name}: key {field.name} not documented"


# -- the pieces of the generator, against hand-worked cases ----------------------------------------
def test_format_hint_reads_like_the_source():
    assert format_hint(int) == "int"
    assert format_hint(int | None) == "int | None"
    assert format_hint(component("backbone") | None) == 'component("backbone") | None'
    assert format_hint(dict[str, component("loss") | None] | None) == 'dict[str, component("loss") | None] | None'
    assert format_hint(Literal["tiny", "small"]) == "'tiny' | 'small'"
    assert format_hint(tuple[float, ...]) == "tuple[float, ...]"
    assert format_hint(Any) == "Any"


@pytest.mark.parametrize("value", [None, True, False, 0, -255, 0.5, 2e-9, 1e20, 33554432,
                                   "a clean origami {}.", 'say "hi"', "{}", "null", [192, 96, 48],
                                   (0.05, 0.25), [], {"dist_cfg": {"backend": "nccl"}}])
def test_defaults_are_written_as_yaml_a_config_reads_back(value):
    def plain(v):
        return [plain(x) for x in v] if isinstance(v, (list, tuple)) else (
            {k: plain(x) for k, x in v.items()} if isinstance(v, dict) else v)

    assert yaml.safe_load(format_value(value)) == plain(value)


def test_arg_docs_reads_google_style_args():
    doc = """Summary line.

    Args:
        alpha: first line
            continued here.
        mean, std: shared text.
        beta (int, optional): typed entry.
        **extra: passed on.

    Returns:
        gamma: not an argument.
    """
    assert arg_docs(doc) == {"alpha": "first line continued here.", "mean": "shared text.",
                             "std": "shared text.", "beta": "typed entry.", "extra": "passed on."}


def test_constructor_keys_follow_kwargs_up_to_the_base():
    class Base:
        """Base.

        Args:
            a: the a.
        """

        def __init__(self, a: int, b: str = "x", **rest: Any) -> None: ...

    class Child(Base):
        """Child."""

        def __init__(self, c: float = 1.0, **kwargs: Any) -> None:
            super().__init__(**kwargs)

    keys, open_keys = constructor_keys(Child, injected={"b"})
    assert [(k.name, k.hint, k.default, k.injected) for k in keys] == [
        ("c", "float", "1.0", False), ("a", "int", None, False), ("b", "str", '"x"', True)]
    assert keys[1].doc == "the a."
    assert open_keys is not None and open_keys.name == "rest"

    class Closed(Base):
        """Closed: no **kwargs, so the base's keys are not reachable from a config."""

        def __init__(self, c: float = 1.0) -> None:
            super().__init__(a=1)

    keys, open_keys = constructor_keys(Closed)
    assert [k.name for k in keys] == ["c"] and open_keys is None


def test_weights_doc_names_every_known_weights_file():
    from wsvol.weights import known_weights

    text = (ROOT / "docs" / "weights.md").read_text(encoding="utf-8")
    for name, known in known_weights().items():
        assert f"`{name}`" in text, f"docs/weights.md does not list the weights name {name!r}"
        assert f"`{known.file.filename}`" in text, f"docs/weights.md does not name {known.file.filename!r}"
