"""Configs that compose: dropping an inherited section, config paths relative to the file that
holds them, `config check` following the configs a config names and listing missing weights,
`custom_imports`, and the hint to `_delete_` when a child changes an inherited type."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wsvol.config import ConfigError, check_config, load_config

ROOT = Path(__file__).parents[2]
CLASSIFIER = """\
model: {type: resnet50_cam, backbone: resnet18, num_classes: 10, cam: {type: gradcam}}
"""
WITH_BASELINE = """\
model: {type: resnet50_cam, backbone: resnet18, num_classes: 10}
baseline: {config: classifier.yaml}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def wsvol(*args, cwd, env=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "250", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "wsvol", *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.parametrize("drop", ["baseline: null", "baseline: {_delete_: true}"])
def test_a_child_drops_an_inherited_stage(tmp_path, drop):
    write(tmp_path / "classifier.yaml", CLASSIFIER)
    write(tmp_path / "parent.yaml", WITH_BASELINE)
    child = write(tmp_path / "child.yaml", f"_base_: parent.yaml\n{drop}\npseudo_labels: null\n")
    cfg = load_config(child)
    check_config(cfg)
    assert not cfg.get("baseline") and not cfg.get("pseudo_labels")  # the pipeline skips falsy stages


def test_the_readme_job_without_its_baseline_is_a_valid_config(tmp_path):
    child = write(tmp_path / "no_baseline.yaml", f"""\
        _base_: {ROOT / 'configs/trcamv_synthetic.yaml'}
        baseline: null
        pseudo_labels: {{source: {{checkpoint: my_classifier.pth}}}}
        """)
    cfg = load_config(child)
    check_config(cfg)
    assert cfg.baseline is None and cfg.pseudo_labels.source.checkpoint == "my_classifier.pth"


def test_baseline_config_is_relative_to_the_file_that_names_it(tmp_path):
    write(tmp_path / "lib" / "classifier.yaml", CLASSIFIER)
    write(tmp_path / "lib" / "parent.yaml", WITH_BASELINE)
    child = write(tmp_path / "experiments" / "deep" / "child.yaml", "_base_: ../../lib/parent.yaml\n")
    cfg = load_config(child)
    assert cfg.baseline.config == str(tmp_path / "lib" / "classifier.yaml")
    check_config(cfg)
    # set by the child itself: relative to the child
    write(tmp_path / "experiments" / "deep" / "mine.yaml", CLASSIFIER)
    write(child, "_base_: ../../lib/parent.yaml\nbaseline: {config: mine.yaml}\n")
    assert load_config(child).baseline.config == str(tmp_path / "experiments" / "deep" / "mine.yaml")


def test_baseline_config_from_the_command_line_is_relative_to_the_current_folder(tmp_path, monkeypatch):
    write(tmp_path / "lib" / "classifier.yaml", CLASSIFIER)
    write(tmp_path / "lib" / "parent.yaml", WITH_BASELINE)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(tmp_path / "lib" / "parent.yaml", ["baseline.config=lib/classifier.yaml"])
    assert cfg.baseline.config == str(tmp_path / "lib" / "classifier.yaml")


def test_check_follows_the_named_config(tmp_path):
    write(tmp_path / "classifier.yaml", CLASSIFIER + "train_cfg: {max_epoch: 2}\n")  # a typo in the baseline
    parent = write(tmp_path / "parent.yaml", WITH_BASELINE)
    with pytest.raises(ConfigError) as err:
        check_config(load_config(parent))
    text = str(err.value)
    assert f"{parent}:2: baseline.config: the config it names has problems" in text
    assert f"{tmp_path / 'classifier.yaml'}:2: train_cfg.max_epoch: unknown key 'max_epoch'; did you mean 'max_epochs'?" in text


def test_check_names_a_missing_or_circular_config(tmp_path):
    parent = write(tmp_path / "parent.yaml", WITH_BASELINE)
    with pytest.raises(ConfigError, match=rf"{parent}:2: baseline.config: no such config file: .*classifier.yaml"):
        check_config(load_config(parent))
    write(tmp_path / "classifier.yaml", CLASSIFIER + "baseline: {config: parent.yaml}\n")
    with pytest.raises(ConfigError, match="configs name each other in a cycle: .*parent.yaml -> .*classifier.yaml -> .*parent.yaml"):
        check_config(load_config(parent))


def test_config_check_warns_about_missing_weights_and_fails_with_strict(tmp_path, monkeypatch, capsys):
    from wsvol.cli.main import main

    write(tmp_path / "classifier.yaml", CLASSIFIER.replace("num_classes: 10", "num_classes: 10, pretrained: nowhere/r18.pth"))
    write(tmp_path / "parent.yaml", WITH_BASELINE)
    monkeypatch.chdir(tmp_path)
    assert main(["config", "check", "parent.yaml"]) == 0
    err = capsys.readouterr().err
    assert "ok   parent.yaml (warning: weights missing" in err
    assert "model.pretrained" in err and "nowhere/r18.pth" in err  # found in the baseline's config
    assert main(["config", "check", "parent.yaml", "--strict"]) == 1
    assert "FAIL parent.yaml: weights missing (--strict)" in capsys.readouterr().err


MODULE = '''\
from wsvol.registry import HOOKS


@HOOKS.register_module(name="custom_import_probe")
class Probe:
    """A hook from a module next to the config."""

    def __init__(self, every: int = 1):
        self.every = every
'''


def test_custom_imports_registers_a_local_module(tmp_path):
    write(tmp_path / "exp" / "probe_hooks.py", MODULE)
    write(tmp_path / "exp" / "cfg.yaml", CLASSIFIER + "custom_imports: {imports: [probe_hooks], allow_failed_imports: false}\n"
          "custom_hooks: [{type: custom_import_probe, every: 2}]\n")
    (tmp_path / "elsewhere").mkdir()
    out = wsvol("config", "check", "../exp/cfg.yaml", cwd=tmp_path / "elsewhere")  # found beside the config
    assert out.returncode == 0, out.stderr
    write(tmp_path / "exp" / "bad.yaml", "_base_: cfg.yaml\ncustom_hooks: [{type: custom_import_probe, evry: 2}]\n")
    out = wsvol("config", "check", "exp/bad.yaml", cwd=tmp_path)  # its keys are checked like any component's
    assert out.returncode == 1 and "unknown key 'evry'; did you mean 'every'?" in out.stderr
    out = wsvol("config", "check", "exp/cfg.yaml", cwd=tmp_path, env={"WSVOL_NO_CUSTOM_IMPORTS": "1"})
    assert out.returncode == 1
    assert "custom_imports would import (run the code of) probe_hooks, and $WSVOL_NO_CUSTOM_IMPORTS refuses" in out.stderr


def test_custom_imports_failures(tmp_path):
    write(tmp_path / "cfg.yaml", CLASSIFIER + "custom_imports: {imports: [no_such_module_here]}\n")
    out = wsvol("config", "check", "cfg.yaml", cwd=tmp_path)
    assert out.returncode == 1
    assert f"{tmp_path / 'cfg.yaml'}:2: custom_imports: cannot import 'no_such_module_here': ModuleNotFoundError" in out.stderr
    write(tmp_path / "cfg.yaml", CLASSIFIER + "custom_imports: {imports: [no_such_module_here], allow_failed_imports: true}\n")
    out = wsvol("config", "check", "cfg.yaml", cwd=tmp_path)
    assert out.returncode == 0 and "skipped: allow_failed_imports is true" in out.stderr
    write(tmp_path / "cfg.yaml", CLASSIFIER + "custom_imports: [probe]\n")
    with pytest.raises(ConfigError, match="custom_imports: expected a mapping with 'imports'"):
        check_config(load_config(tmp_path / "cfg.yaml"))


def test_changing_an_inherited_type_says_to_delete(tmp_path):
    base = write(tmp_path / "base.yaml", CLASSIFIER + "optim_wrapper:\n"
                 "  optimizer: {type: SGD, lr: 0.05, momentum: 0.9, nesterov: true}\n")
    child = write(tmp_path / "child.yaml", "_base_: base.yaml\noptim_wrapper: {optimizer: {type: Adam, lr: 1.0e-3}}\n")
    with pytest.raises(ConfigError) as err:
        check_config(load_config(child))
    text = str(err.value)
    assert "optim_wrapper.optimizer.momentum: unknown key 'momentum'" in text
    assert f"It is inherited from {base}:3, while the type is set at {child}:2" in text
    assert "add `_delete_: true` beside the new type" in text
    write(child, "_base_: base.yaml\noptim_wrapper: {optimizer: {_delete_: true, type: Adam, lr: 1.0e-3}}\n")
    check_config(load_config(child))
    # a child's own typo under an inherited type is a plain mistake: no advice to delete the base's keys
    write(child, "_base_: base.yaml\noptim_wrapper: {optimizer: {lrr: 1.0e-3}}\n")
    with pytest.raises(ConfigError) as err:
        check_config(load_config(child))
    assert "optim_wrapper.optimizer.lrr: unknown key 'lrr'; did you mean 'lr'?" in str(err.value)
    assert "_delete_" not in str(err.value) and "It is inherited" not in str(err.value)
