"""The example plugin installed with pip, as a user installs it: discovered, listed, built from a config.

Each check runs wsvol in a fresh interpreter: entry points are read when Python starts.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.plugins

TINY_BACKBONE = ("{type: timm_vit, arch: vit_small_patch16_224.dino, img_size: 32, patch_size: 8, "
                 "depth: 1, embed_dim: 32, num_heads: 2, num_last_blocks: 1}")
CONFIG = f"""
model: {{type: vit_classifier, num_classes: 10}}
pseudo_labels:
  cache_dir: pseudo_label_cache
  source:
    type: dino_attention
    keep_mass: 0.6
    backbone: {TINY_BACKBONE}
"""

BUILD = textwrap.dedent("""
    import json, sys, torch
    from wsvol.config import load_config
    from wsvol.registry import LOSSES, PSEUDO_LABEL_SOURCES
    cfg = load_config(sys.argv[1])
    source = PSEUDO_LABEL_SOURCES.build(cfg.pseudo_labels.source)
    maps = source(torch.randn(2, 3, 32, 32), torch.tensor([0, 3]))
    loss = LOSSES.build({"type": "entropy_min", "loss_weight": 0.5})
    print(json.dumps({"class": type(source).__name__, "provider": PSEUDO_LABEL_SOURCES.provider("dino_attention"),
                      "keep_mass": source.keep_mass, "shape": list(maps.shape),
                      "min": maps.min().item(), "max": maps.max().item(), "loss_weight": loss.loss_weight}))
""")


def wsvol(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "250", "OMP_NUM_THREADS": "1", **env})


def test_listed_by_wsvol_plugins_list(installed):
    out = wsvol("-m", "wsvol", "plugins", "list", env=installed)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "wsvol-example" in line)
    assert "example" in row and "0.1.0" in row and "ok" in row
    assert "dino_attention" in out.stdout and "entropy_min" in out.stdout


def test_config_builds_the_source(installed, tmp_path):
    cfg = tmp_path / "dino.yaml"
    cfg.write_text(CONFIG)
    out = wsvol("-c", BUILD, str(cfg), env=installed)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["class"] == "DinoAttention" and res["provider"] == "example"
    assert res["keep_mass"] == 0.6 and res["loss_weight"] == 0.5
    assert res["shape"] == [2, 32, 32] and res["min"] == 0.0 and res["max"] == 1.0


def test_config_check_validates_the_source_keys(installed, tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(CONFIG)
    bad.write_text(CONFIG.replace("keep_mass: 0.6", "keep_mas: 0.6\n    head: first"))
    out = wsvol("-m", "wsvol", "config", "check", str(good), str(bad), env=installed)
    assert out.returncode == 1  # one of the two failed
    assert f"ok   {good}" in out.stderr
    assert "pseudo_labels.source.keep_mas: unknown key 'keep_mas'; did you mean 'keep_mass'?" in out.stderr
    assert "pseudo_labels.source.head: expected an integer or null, got str 'first'" in out.stderr


def test_disabled_by_environment(installed):
    out = wsvol("-m", "wsvol", "plugins", "list", env={**installed, "WSVOL_DISABLE_PLUGINS": "example"})
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "wsvol-example" in line)
    assert "disabled" in row and "dino_attention" not in out.stdout
