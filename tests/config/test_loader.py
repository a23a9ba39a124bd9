"""Safe YAML loading, _base_ inheritance, _delete_, --cfg-options and provenance."""

from __future__ import annotations

import textwrap

import pytest

from wsvol.config import ConfigError, load_config, provenance_of
from wsvol.config.loader import parse_cfg_options


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_bases_are_relative_ordered_and_child_wins(tmp_path):
    write(tmp_path / "_base_/a.yaml", """
        model: {type: m, depth: 2, width: 8}
        opt: {lr: 0.1}
    """)
    write(tmp_path / "_base_/b.yaml", """
        opt: {lr: 0.2, momentum: 0.9}
    """)
    cfg = load_config(write(tmp_path / "exp.yaml", """
        _base_: [_base_/a.yaml, _base_/b.yaml]
        model: {depth: 4}
    """))
    assert cfg.model.to_dict() == {"type": "m", "depth": 4, "width": 8}
    assert cfg.opt.to_dict() == {"lr": 0.2, "momentum": 0.9}  # the later base overrides the earlier
    assert "_base_" not in cfg


def test_nested_bases_and_delete(tmp_path):
    write(tmp_path / "base/root.yaml", "model: {type: m, backbone: {type: r50, stride: 8}}\n")
    write(tmp_path / "base/mid.yaml", "_base_: root.yaml\nextra: 1\n")
    cfg = load_config(write(tmp_path / "exp.yaml", """
        _base_: base/mid.yaml
        model:
          backbone: {_delete_: true, type: vit, patch: 16}
    """))
    assert cfg.model.backbone.to_dict() == {"type": "vit", "patch": 16}
    assert cfg.extra == 1


def test_provenance_names_file_and_line(tmp_path):
    base = write(tmp_path / "base.yaml", "a:\n  b: 1\n  c: 2\n")
    exp = write(tmp_path / "exp.yaml", "_base_: base.yaml\na:\n  c: 3\n")
    prov = provenance_of(load_config(exp, ["a.d=4"]))
    assert prov["a.b"] == f"{base}:2"
    assert prov["a.c"] == f"{exp}:3"
    assert prov["a.d"] == "--cfg-options"


def test_cfg_options_parse_yaml_values_and_index_lists(tmp_path):
    exp = write(tmp_path / "exp.yaml", "hooks: [{type: a}, {type: b}]\nx: {y: 1}\n")
    cfg = load_config(exp, ["x.y=0.5", "x.z=[1, 2]", "hooks.1.type=c", "flag=true"])
    assert cfg.x.y == 0.5 and cfg.x.z == [1, 2] and cfg.flag is True
    assert cfg.hooks[1]["type"] == "c"
    with pytest.raises(ConfigError, match="index '5'"):
        load_config(exp, ["hooks.5.type=c"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_cfg_options(["novalue"])


def test_python_tags_are_refused_with_file_and_line(tmp_path):
    marker = tmp_path / "pwned"
    exp = write(tmp_path / "evil.yaml", f"""
        model: {{type: m}}
        x: !!python/object/apply:os.system ["touch {marker}"]
    """)
    with pytest.raises(ConfigError) as err:
        load_config(exp)
    assert f"{exp}:3" in str(err.value) and "cannot run code" in str(err.value)
    assert not marker.exists()


def test_cycles_missing_bases_and_non_mapping(tmp_path):
    write(tmp_path / "a.yaml", "_base_: b.yaml\n")
    write(tmp_path / "b.yaml", "_base_: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(write(tmp_path / "c.yaml", "_base_: nope.yaml\n"))
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(write(tmp_path / "d.yaml", "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
