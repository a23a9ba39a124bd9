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


def test_a_key_given_twice_names_both_lines(tmp_path):
    exp = write(tmp_path / "dup.yaml", """
        model: {type: m}
        optim: {lr: 0.1}
        optim: {lr: 0.2}
    """)
    with pytest.raises(ConfigError, match=rf"{exp}:4: key 'optim' appears twice in one mapping \(first on line 3\)"):
        load_config(exp)
    # merge keys (<<) are not duplicates, and a key may override what a merge brought in
    ok = write(tmp_path / "merge.yaml", "a: &x {p: 1, q: 2}\nb: {<<: *x, q: 3}\n")
    assert load_config(ok).b.to_dict() == {"p": 1, "q": 3}


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    """Nine levels of ten aliases each would be 10^9 values; parsing stops at once."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    exp = write(tmp_path / "bomb.yaml", "\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=rf"{exp}:\d+: the aliases here expand to more than 100000 values"):
        load_config(exp)
    # a few aliases of a small node are fine
    fine = write(tmp_path / "fine.yaml", "a: &a [1, 2]\nb: [*a, *a, *a]\n")
    assert load_config(fine).b == [[1, 2]] * 3


def test_deep_nesting_and_recursive_aliases_are_one_clear_error(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 20000 + "]" * 20000 + "\n")
    with pytest.raises(ConfigError, match=rf"^{deep}: nested deeper than 64 levels$"):
        load_config(deep)
    nested = tmp_path / "nested.yaml"
    nested.write_text("a: " + "[" * 100 + "]" * 100 + "\n")
    with pytest.raises(ConfigError, match=rf"^{nested}:1: nested deeper than 64 levels$"):
        load_config(nested)
    loop = write(tmp_path / "loop.yaml", "a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match=rf"{loop}:1: an alias refers to a node that contains it"):
        load_config(loop)


def test_non_utf8_config_names_file_line_and_byte(tmp_path):
    exp = tmp_path / "latin1.yaml"
    exp.write_bytes("model: {type: m}\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"^{exp}:2: not UTF-8 text \(byte 0xe9 at offset 22\)"):
        load_config(exp)


def test_cfg_options_values_get_the_same_limits(tmp_path):
    exp = write(tmp_path / "exp.yaml", "model: {type: m}\n")
    with pytest.raises(ConfigError, match=r"--cfg-options x:1: key 'a' appears twice"):
        load_config(exp, ["x={a: 1, a: 2}"])
    assert load_config(exp, ["x=", "y=null"]).x == "" and load_config(exp, ["y=null"]).y is None
