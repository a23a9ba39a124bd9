"""A config naming a component of a plugin that is not loaded says which plugin, and why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wsvol import plugin_manager
from wsvol.config import ConfigError, check_config, load_config
from wsvol.plugin_manager import FIRST_PARTY_PLUGINS, KnownPlugin, PluginRecord

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_DIRS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
CLIPSEG_CONFIG = ROOT / "configs" / "trcamv_ytov1_clipseg.yaml"
TOY = KnownPlugin("toyplugin", "wsvol-toyplugin", "plugins/wsvol-toyplugin", {"loss": ("toy_plugin_loss",)})
CONFIG = """\
model:
  type: trcamv
  losses: {mine: {type: toy_plugin_loss}}
"""


def wsvol_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter with this repository's plugin source trees discoverable (not installed)."""
    prelude = textwrap.dedent(f"""\
        import tempfile
        from pathlib import Path
        from wsvol.config.reference import add_plugin_sources
        add_plugin_sources({[str(p) for p in PLUGIN_DIRS]!r}, Path(tempfile.mkdtemp()) / "dist")
        """)
    environ = {k: v for k, v in os.environ.items() if k != plugin_manager.DISABLE_ENV}
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**environ, "OMP_NUM_THREADS": "1", **env})


def loss_problem(tmp_path: Path, name: str = "toy_plugin_loss") -> str:
    """The checker's message for the loss ``name`` of a TrCAM-V config."""
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(CONFIG.replace("toy_plugin_loss", name))
    with pytest.raises(ConfigError) as err:
        check_config(load_config(cfg))
    [line] = [line for line in str(err.value).splitlines() if "model.losses.mine.type" in line]
    return line.split("model.losses.mine.type: ", 1)[1]


def registered_losses() -> str:
    from wsvol.registry import LOSSES

    return ", ".join(f"{n} ({p})" for n, p in LOSSES.entries().items())


def test_the_catalogue_is_what_the_plugins_register():
    """FIRST_PARTY_PLUGINS names every plugin under plugins/ with what its hook registers, loaded from source."""
    done = wsvol_python("""
        import json
        from wsvol.plugin_manager import plugin_records
        print(json.dumps({r.name: [r.distribution, r.status, r.components] for r in plugin_records() if r.name != "wsvol"}))
        """, {})
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.splitlines()[-1])
    for known in FIRST_PARTY_PLUGINS:  # (an installed copy loads first; the source tree's is then refused)
        distribution, status, components = loaded[known.name]
        assert (distribution, status) == (known.distribution, "ok")
        assert {k: tuple(v) for k, v in components.items()} == known.components
    assert sorted(ROOT / p.source for p in FIRST_PARTY_PLUGINS) == PLUGIN_DIRS


def test_a_type_of_a_first_party_plugin_that_is_not_installed_names_it(tmp_path, monkeypatch):
    monkeypatch.setattr(plugin_manager, "FIRST_PARTY_PLUGINS", (*FIRST_PARTY_PLUGINS, TOY))
    assert loss_problem(tmp_path) == (
        "unknown loss type 'toy_plugin_loss': it is provided by the wsvol-toyplugin plugin (entry point 'toyplugin'), "
        f"which is not installed: pip install -e plugins/wsvol-toyplugin. Registered: {registered_losses()}")


def test_the_shipped_clipseg_config_without_the_plugin_says_to_install_it():
    from wsvol.registry import PSEUDO_LABEL_SOURCES

    if "clipseg" in PSEUDO_LABEL_SOURCES.entries():
        pytest.skip("the wsvol-clipseg plugin is installed here")
    with pytest.raises(ConfigError) as err:
        check_config(load_config(CLIPSEG_CONFIG))
    ours = ", ".join(f"{n} ({p})" for n, p in PSEUDO_LABEL_SOURCES.entries().items())
    assert str(err.value) == (
        f"1 problem in config {CLIPSEG_CONFIG}:\n"
        f"  {CLIPSEG_CONFIG}:4: pseudo_labels.source.type: unknown pseudo_label_source type 'clipseg': it is "
        "provided by the wsvol-clipseg plugin (entry point 'clipseg'), which is not installed: "
        f"pip install -e plugins/wsvol-clipseg. Registered: {ours}")
    assert "did you mean" not in str(err.value)


def test_a_type_of_a_disabled_first_party_plugin_names_the_variable():
    """The real plugin, discoverable but listed in WSVOL_DISABLE_PLUGINS (a fresh interpreter: entry points)."""
    done = wsvol_python(f"""
        from wsvol.config import ConfigError, check_config, load_config
        try:
            check_config(load_config({str(CLIPSEG_CONFIG)!r}))
        except ConfigError as exc:
            print(exc)
        """, {plugin_manager.DISABLE_ENV: "example,clipseg"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (f"{CLIPSEG_CONFIG}:4: pseudo_labels.source.type: unknown pseudo_label_source type 'clipseg': it is "
            "provided by the wsvol-clipseg plugin (entry point 'clipseg'), which is disabled by the environment "
            "variable WSVOL_DISABLE_PLUGINS=example,clipseg: take 'clipseg' out of it to use it. Registered: "
            "cam (wsvol), clip_es (wsvol)\n") in done.stdout


def test_a_disabled_or_failed_first_party_plugin_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(plugin_manager, "FIRST_PARTY_PLUGINS", (*FIRST_PARTY_PLUGINS, TOY))
    records = plugin_manager.get_manager().records
    monkeypatch.setenv(plugin_manager.DISABLE_ENV, "toyplugin")
    monkeypatch.setitem(records, "toyplugin", PluginRecord("toyplugin", "wsvol-toyplugin", "0.1", "disabled",
                                                           "listed in $WSVOL_DISABLE_PLUGINS"))
    assert loss_problem(tmp_path).startswith(
        "unknown loss type 'toy_plugin_loss': it is provided by the wsvol-toyplugin plugin (entry point 'toyplugin'), "
        "which is disabled by the environment variable WSVOL_DISABLE_PLUGINS=toyplugin: take 'toyplugin' out of it "
        "to use it. Registered: ")
    monkeypatch.setitem(records, "toyplugin", PluginRecord("toyplugin", "wsvol-toyplugin", "0.1", "failed",
                                                           "import failed: ModuleNotFoundError: No module named 'x'"))
    assert loss_problem(tmp_path).startswith(
        "unknown loss type 'toy_plugin_loss': it is provided by the wsvol-toyplugin plugin (entry point 'toyplugin'), "
        "which failed to load: import failed: ModuleNotFoundError: No module named 'x'. Registered: ")


def test_an_unknown_type_names_the_plugins_disabled_here(tmp_path, monkeypatch):
    """A third-party plugin's components are unknown while it is disabled: the message names it."""
    monkeypatch.setenv(plugin_manager.DISABLE_ENV, "thirdparty")
    monkeypatch.setitem(plugin_manager.get_manager().records, "thirdparty",
                        PluginRecord("thirdparty", "wsvol-thirdparty", "1.0", "disabled", "listed in $WSVOL_DISABLE_PLUGINS"))
    assert loss_problem(tmp_path, "zq") == (  # (no name registered by any test is close to "zq")
        f"unknown loss type 'zq'; registered: {registered_losses()}. Plugin(s) 'thirdparty' "
        "(wsvol-thirdparty) disabled by the environment variable WSVOL_DISABLE_PLUGINS=thirdparty may provide it")
