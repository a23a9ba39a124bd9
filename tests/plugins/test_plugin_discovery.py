"""Real plugin distributions, pip-installed into a folder of their own, discovered by entry point.

One good plugin (components, weights resolver, CLI command) and three broken ones (raises on
import, name clash with a built-in, hook with a wrong signature): the good one works, each
broken one is reported with its distribution and reason, and never takes the others down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.plugins

GOOD = '''
from wsvol.hookspecs import hookimpl


class ToyPluginLoss:
    """A loss from a third-party plugin."""

    def __init__(self, weight: float = 1.0):
        self.weight = weight


class ToyPluginModel:
    def __init__(self, num_classes: int):
        self.num_classes = num_classes


@hookimpl
def wsvol_register(registries):
    registries.losses.register_module(name="toy_plugin_loss")(ToyPluginLoss)
    registries.models.register_module(name="toy_plugin_model")(ToyPluginModel)


@hookimpl
def wsvol_resolve_weights(name):
    return "/weights/from/toy.pt" if name == "toy_weights" else None


@hookimpl
def wsvol_add_cli_commands(subparsers):
    p = subparsers.add_parser("toy-hello", help="say hello from a plugin")
    p.set_defaults(func=lambda args: print("hello from toy") or 0)
'''

BROKEN = "raise ImportError('this plugin is broken on purpose')\n"

CLASH = '''
from wsvol.hookspecs import hookimpl


class Impostor:
    pass


@hookimpl
def wsvol_register(registries):
    registries.losses.register_module(name="clash_only_loss")(Impostor)
    registries.losses.register_module(name="partial_ce")(Impostor)
'''

BADHOOK = '''
from wsvol.hookspecs import hookimpl


@hookimpl
def wsvol_register(registries, not_a_hook_argument):
    pass
'''

PLUGINS = {"toy": GOOD, "broken": BROKEN, "clash": CLASH, "badhook": BADHOOK}


def make_dist(root: Path, name: str, source: str) -> Path:
    d = root / f"wsvol-{name}plugin"
    (d / f"wsvol_{name}plugin").mkdir(parents=True)
    (d / f"wsvol_{name}plugin" / "__init__.py").write_text(textwrap.dedent(source))
    (d / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "wsvol-{name}plugin"
        version = "1.2.3"

        [project.entry-points."wsvol.plugins"]
        {name} = "wsvol_{name}plugin"
    """))
    return d


def install(dists: list[Path], site: Path) -> dict[str, str]:
    """pip-install ``dists`` into their own folder ``site``, not into this environment (tests in
    other processes never see them); returns the environment under which Python finds them."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", "--target", str(site),
                    *map(str, dists)], check=True)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The environment in which the toy plugins are installed."""
    root = tmp_path_factory.mktemp("dists")
    return install([make_dist(root, n, s) for n, s in PLUGINS.items()], root / "site")


def run(args, env):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "250", **env})


PROBE = """
import json, warnings
warnings.simplefilter("ignore")
from wsvol.plugin_manager import plugin_records, resolve_weights
from wsvol.registry import LOSSES
recs = {r.name: [r.distribution, r.version, r.status, r.reason, r.components] for r in plugin_records()}
loss = LOSSES.build({"type": "toy_plugin_loss", "weight": 2.5}) if "toy_plugin_loss" in LOSSES.module_dict else None
print(json.dumps({"records": recs, "weights": resolve_weights("toy_weights"),
                  "loss_weight": getattr(loss, "weight", None),
                  "partial_ce": LOSSES.get("partial_ce").__module__, "provider": LOSSES.provider("toy_plugin_loss"),
                  "clash_only": "clash_only_loss" in LOSSES.module_dict}))
"""


def probe(env) -> dict:
    out = run(["-c", PROBE], env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_good_plugin_registers_resolves_and_builds(installed):
    res = probe(installed)
    rec = res["records"]["toy"]
    assert rec[:3] == ["wsvol-toyplugin", "1.2.3", "ok"]
    assert rec[4] == {"loss": ["toy_plugin_loss"], "model": ["toy_plugin_model"]}
    assert res["loss_weight"] == 2.5 and res["provider"] == "toy"
    assert res["weights"] == "/weights/from/toy.pt"
    assert res["records"]["wsvol"][2] == "ok"  # built-ins come through the same hook


def test_broken_plugins_are_reported_and_isolated(installed):
    recs = probe(installed)["records"]
    assert recs["broken"][2] == "failed" and "broken on purpose" in recs["broken"][3]
    assert recs["badhook"][2] == "failed" and "not_a_hook_argument" in recs["badhook"][3]
    clash = recs["clash"]
    assert clash[2] == "partial"  # loaded, skipped for the hook that failed
    assert "wsvol_register" in clash[3]
    assert "'partial_ce' is registered twice" in clash[3] and "'wsvol'" in clash[3] and "'clash'" in clash[3]
    res = probe(installed)
    assert res["partial_ce"].startswith("wsvol.")  # the built-in survives the clash
    assert res["clash_only"] is False  # the failed plugin is rolled back entirely


def test_disable_env_blocks_named_plugins(installed):
    recs = probe({**installed, "WSVOL_DISABLE_PLUGINS": "toy, clash"})["records"]
    assert recs["toy"][2] == "disabled" and recs["clash"][2] == "disabled"
    assert recs["broken"][2] == "failed"


def test_cli_lists_plugins_and_runs_plugin_command(installed):
    out = run(["-m", "wsvol", "plugins", "list"], installed)
    assert out.returncode == 0, out.stderr
    assert "wsvol-toyplugin" in out.stdout and "toy_plugin_loss" in out.stdout and "1.2.3" in out.stdout
    assert "broken on purpose" in out.stdout
    assert "was not loaded" in out.stderr and "'broken'" in out.stderr  # the warning names the plugin too
    hello = run(["-m", "wsvol", "toy-hello"], installed)
    assert hello.returncode == 0 and "hello from toy" in hello.stdout


def test_config_using_plugin_component_is_checked(installed, tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("model: {type: toy_plugin_model, num_classes: 3}\ncustom_hooks: []\n")
    ok = run(["-m", "wsvol", "config", "check", str(cfg)], installed)
    assert ok.returncode == 0, ok.stderr
    cfg.write_text("model: {type: toy_plugin_model, num_clases: 3}\n")
    bad = run(["-m", "wsvol", "config", "check", str(cfg)], installed)
    assert bad.returncode == 1 and "did you mean 'num_classes'" in bad.stderr
