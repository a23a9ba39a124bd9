"""Plugin faults are contained: a plugin whose CLI hook raises or takes a command name, whose
weights resolver raises, or whose entry-point name another distribution already uses, is named
and skipped for that hook, and everything else works (``--help``, ``plugins list``, commands,
weights, the first distribution of a name)."""

from __future__ import annotations

import pytest
from test_plugin_discovery import (  # a sibling module (pytest puts this folder on sys.path)
    install,
    make_dist,
    run,
)

pytestmark = pytest.mark.plugins

CLI_BOOM = '''
from wsvol.hookspecs import hookimpl


@hookimpl
def wsvol_register(registries):
    class BoomLoss:
        pass
    registries.losses.register_module(name="cliboom_loss")(BoomLoss)


@hookimpl
def wsvol_add_cli_commands(subparsers):
    subparsers.add_parser("half-added", help="added before the failure")
    raise RuntimeError("the CLI hook fails on purpose")
'''

CLI_TAKEN = '''
from wsvol.hookspecs import hookimpl


@hookimpl
def wsvol_add_cli_commands(subparsers):
    subparsers.add_parser("run", help="an impostor of wsvol run")
'''

WEIGHTS_BOOM = '''
from wsvol.hookspecs import hookimpl


@hookimpl
def wsvol_resolve_weights(name):
    raise OSError("the weights resolver fails on purpose")
'''


def same_name(tag: str) -> str:
    return f'''
from wsvol.hookspecs import hookimpl


@hookimpl
def wsvol_register(registries):
    class Loss:
        pass
    registries.losses.register_module(name="dup_{tag}_loss")(Loss)
'''


@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> dict[str, str]:
    """The environment in which the faulty plugins are installed."""
    root = tmp_path_factory.mktemp("faulty")
    dists = [make_dist(root, "cliboom", CLI_BOOM), make_dist(root, "clitaken", CLI_TAKEN),
             make_dist(root, "weightsboom", WEIGHTS_BOOM)]
    for tag in ("first", "second"):  # two distributions, one entry-point name "dup"
        d = make_dist(root / tag, f"dup{tag}", same_name(tag))
        toml = d / "pyproject.toml"
        toml.write_text(toml.read_text().replace(f"dup{tag} = ", "dup = "))
        dists.append(d)
    return install(dists, root / "site")


def test_help_and_commands_survive_a_failing_cli_hook(faulty):
    help_ = run(["-m", "wsvol", "--help"], faulty)
    assert help_.returncode == 0 and "run" in help_.stdout
    assert "half-added" not in help_.stdout  # what the failing hook added is taken back
    assert "'cliboom'" in help_.stderr and "fails on purpose" in help_.stderr
    assert "'clitaken'" in help_.stderr and "'run' is taken" in help_.stderr
    run_help = run(["-m", "wsvol", "run", "--help"], faulty)
    assert run_help.returncode == 0, run_help.stderr
    assert "the whole job of a config" in " ".join(run_help.stdout.split()).lower()  # wsvol's own, not the impostor


def test_plugins_list_names_each_fault(faulty):
    out = run(["-m", "wsvol", "plugins", "list"], faulty)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "cliboom" in text and "partial" in text and "fails on purpose" in text
    assert "cliboom_loss" in text  # its other hook still registered its component


def test_a_failing_weights_resolver_is_skipped(faulty, tmp_path):
    probe = ("import warnings; warnings.simplefilter('ignore');"
             "from wsvol.weights import resolve_weights;"
             f"print(resolve_weights('{tmp_path}/w.pt').path)")
    (tmp_path / "w.pt").write_bytes(b"x")
    out = run(["-c", probe], faulty)
    assert out.returncode == 0, out.stderr
    named = run(["-c", "from wsvol.plugin_manager import resolve_weights; print(resolve_weights('dino_vits16'))"],
                faulty)
    assert named.returncode == 0 and named.stdout.strip() == "None", named.stderr
    assert "'weightsboom'" in named.stderr and "skipped for wsvol_resolve_weights" in named.stderr


def test_two_distributions_one_name_keep_the_first(faulty):
    probe = ("import json, warnings; warnings.simplefilter('ignore');"
             "from wsvol.plugin_manager import plugin_records; from wsvol.registry import LOSSES;"
             "recs = [r for r in plugin_records() if r.name.startswith('dup')];"
             "print(json.dumps([[r.name, r.distribution, r.status, r.reason] for r in recs]));"
             "print(json.dumps(sorted(n for n in LOSSES.module_dict if n.startswith('dup_'))))")
    out = run(["-c", probe], faulty)
    assert out.returncode == 0, out.stderr
    import json

    recs, losses = (json.loads(line) for line in out.stdout.strip().splitlines()[-2:])
    kept = [r for r in recs if r[0] == "dup"]
    refused = [r for r in recs if r[0] != "dup"]
    assert len(kept) == 1 and kept[0][2] == "ok" and len(refused) == 1 and refused[0][2] == "failed"
    assert kept[0][1] in refused[0][3] and "already taken" in refused[0][3]
    tag = kept[0][1].removeprefix("wsvol-dup").removesuffix("plugin")
    assert losses == [f"dup_{tag}_loss"]  # the healthy first one still works
