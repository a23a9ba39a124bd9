"""Placeholders `wsvol run` fills: found and filled anywhere in a config, checked with the config."""

from __future__ import annotations

import textwrap

import pytest

from wsvol.config import ConfigError, check_config, load_config
from wsvol.config.placeholders import (
    fill_placeholders,
    find_placeholders,
    placeholder_problems,
    require_filled,
)


def test_fill_replaces_the_named_placeholders_only_in_dicts_and_lists():
    cfg = {"model": {"backbone": {"pretrained": "{baseline_best_cl}"}, "x": ["a/{work_dir}/b", {"y": "{0} {other}"}]},
           "n": 3}
    fill_placeholders(cfg, {"baseline_best_cl": "/r/best_cl_epoch_3.pth", "work_dir": "/w"})
    assert cfg == {"model": {"backbone": {"pretrained": "/r/best_cl_epoch_3.pth"},
                             "x": ["a//w/b", {"y": "{0} {other}"}]}, "n": 3}


def test_find_lists_every_placeholder_with_its_dotted_key():
    cfg = {"a": {"b": ["{work_dir}/x", "{baseline_checkpoint} {baseline_best_corloc_mean}"]}, "c": "{nope}"}
    assert list(find_placeholders(cfg)) == [("a.b.0", "work_dir"), ("a.b.1", "baseline_checkpoint"),
                                            ("a.b.1", "baseline_best_corloc_mean")]


def test_problems_name_the_key_and_what_the_baseline_keeps():
    data = {"model": {"backbone": {"pretrained": "{baseline_best_cl}"}}}
    [(key, msg)] = placeholder_problems(data, None)
    assert key == "model.backbone.pretrained" and "no `baseline` section" in msg
    base = {"default_hooks": {"checkpoint": {"type": "CheckpointHook", "save_best": "corloc_mean"}}}
    [(key, msg)] = placeholder_problems(data, base)
    assert "'cl'" in msg and "{baseline_best_corloc_mean}" in msg
    base["default_hooks"]["checkpoint"]["save_best"] = ["corloc_mean", "cl"]
    assert placeholder_problems(data, base) == []


def test_config_check_refuses_a_best_the_baseline_does_not_keep(tmp_path):
    (tmp_path / "base.yaml").write_text(textwrap.dedent("""
        model: {type: resnet50_cam, backbone: resnet18}
        default_hooks: {checkpoint: {type: CheckpointHook, save_best: corloc_mean, rule: greater}}
    """))
    (tmp_path / "top.yaml").write_text(textwrap.dedent("""
        baseline: {config: base.yaml}
        model: {type: resnet50_cam, backbone: resnet18, pretrained: "{baseline_best_cl}"}
    """))
    with pytest.raises(ConfigError, match=r"top.yaml:3: model.pretrained: \{baseline_best_cl\}: the baseline config"):
        check_config(load_config(tmp_path / "top.yaml"))
    (tmp_path / "top.yaml").write_text('baseline: {config: base.yaml}\n'
                                       'model: {type: resnet50_cam, pretrained: "{baseline_best_corloc_mean}"}\n')
    check_config(load_config(tmp_path / "top.yaml"))


def test_require_filled_names_each_key_left():
    cfg = {"model": {"pretrained": "{baseline_best_cl}"}, "pseudo_labels": {"cache_dir": "{work_dir}/p"},
           "baseline": {"config": "x.yaml"}}
    with pytest.raises(ConfigError, match=r"`wsvol test` cannot fill[\s\S]*model.pretrained: \{baseline_best_cl\}"):
        require_filled(cfg, "wsvol test", skip=("pseudo_labels",))
    require_filled({"pseudo_labels": cfg["pseudo_labels"]}, "wsvol test", skip=("pseudo_labels",))


def test_weights_check_leaves_placeholders_to_the_run():
    from wsvol.weights import check_weights

    assert check_weights({"model": {"type": "resnet50_cam", "pretrained": "{baseline_best_cl}"}}) == []


def test_a_network_loading_the_baseline_is_built_as_dilated_as_the_baseline(tmp_path):
    """Dilation changes no weight's shape: a TCAM encoder or a classifier built otherwise than the
    baseline's network would load its checkpoint silently and compute other features."""
    (tmp_path / "base.yaml").write_text(textwrap.dedent("""
        model: {type: resnet50_cam, backbone: resnet18, dilated: true}
        default_hooks: {checkpoint: {type: CheckpointHook, save_best: [corloc, cl], rule: greater}}
    """))
    (tmp_path / "tcam.yaml").write_text(textwrap.dedent("""
        baseline: {config: base.yaml}
        model: {type: tcam, num_classes: 10, backbone: {arch: resnet18, pretrained: "{baseline_best_cl}"}}
    """))
    (tmp_path / "cam.yaml").write_text(textwrap.dedent("""
        baseline: {config: base.yaml}
        model: {type: resnet50_cam, backbone: resnet18, pretrained: "{baseline_checkpoint}"}
    """))
    with pytest.raises(ConfigError) as tcam:
        check_config(load_config(tmp_path / "tcam.yaml"))
    assert ("tcam.yaml:3: model.backbone.dilated: false (the default: the config does not set it), but the "
            f"baseline's network ({tmp_path / 'base.yaml'}) has model.dilated true") in str(tcam.value)
    assert "set model.backbone.dilated: true" in str(tcam.value)
    with pytest.raises(ConfigError, match=r"model.dilated: false \(the default.*set model.dilated: true"):
        check_config(load_config(tmp_path / "cam.yaml"))
    for name, key in (("tcam.yaml", "backbone: {arch: resnet18, dilated: true,"), ("cam.yaml", "resnet18, dilated: true,")):
        text = (tmp_path / name).read_text()
        (tmp_path / name).write_text(text.replace(key.replace(" dilated: true,", ""), key))
        check_config(load_config(tmp_path / name))  # the same layout: clean
    # both defaults agree
    (tmp_path / "base.yaml").write_text((tmp_path / "base.yaml").read_text().replace(", dilated: true", ""))
    (tmp_path / "tcam.yaml").write_text((tmp_path / "tcam.yaml").read_text().replace(" dilated: true,", ""))
    check_config(load_config(tmp_path / "tcam.yaml"))
