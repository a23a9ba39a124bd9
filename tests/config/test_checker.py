"""Configs are checked before any work: types, keys, values — each error names file and key."""

from __future__ import annotations

import textwrap
from typing import Literal

import pytest

from wsvol.config import ConfigError, check_config, component, load_config
from wsvol.registry import LOSSES, MODELS


@MODELS.register_module(name="toy_checked_model")
class ToyModel:
    """A model whose constructor documents its keys."""

    def __init__(self, num_classes: int, loss: component("loss"), mode: Literal["a", "b"] = "a",
                 widths: tuple[int, ...] = (4, 8), dropout: float = 0.0, name: str | None = None):
        pass


@LOSSES.register_module(name="toy_checked_loss")
class ToyLoss:
    def __init__(self, weight: float = 1.0):
        pass


def check(tmp_path, text, options=None):
    path = tmp_path / "exp.yaml"
    path.write_text(textwrap.dedent(text))
    cfg = load_config(path, options)
    check_config(cfg)
    return path


def problems(tmp_path, text, options=None) -> str:
    """The checker's message for a config that must fail."""
    with pytest.raises(ConfigError) as err:
        check(tmp_path, text, options)
    return str(err.value)


GOOD = """
    model:
      type: toy_checked_model
      num_classes: 10
      loss: {type: toy_checked_loss, weight: 2}
    custom_hooks:
      - {type: epoch_seed, seed: 3}
"""


def test_a_good_config_passes(tmp_path):
    check(tmp_path, GOOD)


def test_unknown_type_lists_names_with_plugins_and_suggests(tmp_path):
    msg = problems(tmp_path, GOOD.replace("type: toy_checked_loss", "type: toy_checked_los"))
    assert f"{tmp_path / 'exp.yaml'}:5" in msg and "model.loss.type" in msg
    assert "did you mean 'toy_checked_loss'" in msg
    assert "toy_checked_loss (test_checker)" in msg  # registered names with their providing plugin


def test_unknown_key_names_file_line_key_and_accepted_keys(tmp_path):
    msg = problems(tmp_path, GOOD.replace("weight: 2", "wieght: 2"))
    assert f"{tmp_path / 'exp.yaml'}:5: model.loss.wieght: unknown key 'wieght'; did you mean 'weight'?" in msg
    assert "Accepted keys of loss 'toy_checked_loss': weight" in msg


def test_missing_key_and_bad_values(tmp_path):
    text = GOOD.replace("num_classes: 10", "mode: c\n      widths: [4, x]\n      dropout: high")
    msg = problems(tmp_path, text)
    assert "4 problems" in msg
    assert "model.num_classes: missing required key" in msg
    assert "model.mode: expected one of 'a', 'b', got str 'c'" in msg
    assert "model.widths: expected" in msg and "'x'" in msg
    assert "model.dropout: expected a number, got str 'high'" in msg


def test_unknown_top_level_key_and_hook_type(tmp_path):
    msg = problems(tmp_path, GOOD + "    trian_cfg: {max_epochs: 2}\n", ["custom_hooks.0.type=epoch_sed"])
    assert "trian_cfg: unknown key 'trian_cfg'; did you mean 'train_cfg'?" in msg
    assert "custom_hooks.0.type: unknown hook type 'epoch_sed'; did you mean 'epoch_seed'?" in msg
    assert "--cfg-options" in msg  # the override is named as the origin


def test_mmengine_components_are_checked_too(tmp_path):
    text = GOOD + """
    optim_wrapper: {optimizer: {type: SGD, lr: 0.1, momentun: 0.9}}
    train_cfg: {by_epoch: true, max_epochs: two}
    """
    msg = problems(tmp_path, text)
    assert "optim_wrapper.optimizer.momentun: unknown key 'momentun'; did you mean 'momentum'?" in msg
    assert "train_cfg.max_epochs: expected an integer" in msg


def test_a_yaml_boolean_where_a_word_is_expected_says_to_quote_it(tmp_path):
    text = """
    model: {type: resnet50_cam, backbone: resnet18, cam_target: true}
    """
    check(tmp_path, text.replace("true}", '"true"}'))
    with pytest.raises(ConfigError) as err:
        check(tmp_path, text)
    assert ("model.cam_target: expected one of 'true', 'predicted', got bool True (YAML reads an unquoted true "
            'as True: write "true" for the word)') in str(err.value)


def test_paramwise_cfg_is_the_optimizer_constructors_and_is_checked(tmp_path):
    text = GOOD + """
    optim_wrapper:
      optimizer: {type: SGD, lr: 0.1}
      paramwise_cfg: {custom_keys: {backbone.layer4: {lr_mult: 10}, head: {lr_mul: 10, decay_mult: -1}}, bias_lr: 2}
    """
    check(tmp_path, text.replace("{lr_mul: 10, decay_mult: -1}}, bias_lr: 2", "{lr_mult: 10}}"))  # mmengine's keys pass
    msg = problems(tmp_path, text)
    assert "3 problems" in msg
    assert "optim_wrapper.paramwise_cfg.custom_keys.head.lr_mul: unknown key 'lr_mul'; did you mean 'lr_mult'?" in msg
    assert "optim_wrapper.paramwise_cfg.custom_keys.head.decay_mult: must be a number >= 0, got -1" in msg
    assert "optim_wrapper.paramwise_cfg.bias_lr: unknown key 'bias_lr'; did you mean 'bias_lr_mult'?" in msg


def test_keys_a_kwargs_constructor_forwards_are_checked_along_the_mro(tmp_path):
    """resnet50_cam takes ``**kwargs`` and forwards them to its base (whose constructor takes no
    more): a misspelt key is refused, the base's keys are accepted."""
    text = """
    model: {type: resnet50_cam, backbone: resnet18, num_clases: 3, init_cfg: null}
    """
    msg = problems(tmp_path, text)
    assert "1 problem " in msg
    assert "model.num_clases: unknown key 'num_clases'; did you mean 'num_classes'?" in msg
    assert "data_preprocessor" in msg and "init_cfg" in msg  # the base's keys are listed as accepted
    # a scheduler whose mixin passes its base's argument itself: not reported missing
    check(tmp_path, GOOD + "    param_scheduler: [{type: MultiStepLR, milestones: [2], by_epoch: true}]\n")


BOUNDS = """
    model: {type: resnet50_cam, backbone: resnet18}
    train_dataloader:
      batch_size: -2
      num_workers: 0
      dataset:
        type: youtube_objects
        data_root: d
        folds_root: f
        split: train
        pipeline: [{type: resize, size: big}, {type: random_crop, size: [100000, 100000]}]
    train_cfg: {by_epoch: true, max_epochs: -1}
    optim_wrapper: {optimizer: {type: SGD, lr: .nan, momentum: 99999999999999999999999}}
    pseudo_labels: {source: {type: cam, checkpoint: c.pth}, cache_dir: c, shard_size: 0}
"""


def test_values_no_run_could_use_are_refused_each_named(tmp_path):
    msg = problems(tmp_path, BOUNDS)
    path = tmp_path / "exp.yaml"
    assert "7 problems" in msg, msg
    assert f"{path}:4: train_dataloader.batch_size: expected an integer >= 1, got int -2" in msg
    assert (f"{path}:11: train_dataloader.dataset.pipeline.0.size: expected an integer in [1, 16384] or a list, "
            "each an integer in [1, 16384], got str 'big'") in msg
    assert "train_dataloader.dataset.pipeline.1.size: expected" in msg and "got list [100000, 100000]" in msg
    assert f"{path}:12: train_cfg.max_epochs: expected an integer >= 1, got int -1" in msg
    assert f"{path}:13: optim_wrapper.optimizer.lr: nan is not a usable number" in msg
    assert "optim_wrapper.optimizer.momentum: 99999999999999999999999 does not fit in 64 bits" in msg
    assert "pseudo_labels.shard_size: expected an integer >= 1, got int 0" in msg


def test_mistakes_that_used_to_surface_only_after_training_are_caught_first(tmp_path):
    """Each of these passed the check and failed after an epoch, a baseline or the pseudo-labels
    (an audit's list); each is now one problem naming its key."""
    from pathlib import Path

    configs = Path(__file__).parents[2] / "configs"
    cam = f"""
    _base_: {configs / 'cam' / 'layercam_synthetic.yaml'}
    default_hooks:
      checkpoint: {{save_best: [corlocmean, cl, corloc/car], intervall: 1, rule: bigger}}
      logger: {{interval: 0}}
    train_dataloader: {{batch_size: 2.5, num_workers: many}}
    optim_wrapper: {{optimizer: {{lr: fast}}}}
    randomness: {{seed: abc, deterministc: true}}
    log_level: VERBOSE
    model: {{num_classes: 0, backbone: resnet19}}
    """
    msg = problems(tmp_path, cam)
    for line in ["default_hooks.checkpoint.save_best.0: validation gives no metric 'corlocmean'; did you mean "
                 "'corloc_mean'?",
                 "default_hooks.checkpoint.intervall: unknown key 'intervall'; did you mean 'interval'?",
                 "default_hooks.checkpoint.rule: expected one of 'greater', 'less'",
                 "default_hooks.logger.interval: expected an integer >= 1, got int 0",
                 "train_dataloader.batch_size: expected an integer >= 1, got float 2.5",
                 "train_dataloader.num_workers: expected an integer >= 0, got str 'many'",
                 "optim_wrapper.optimizer.lr: expected a number or Tensor >= 0, got str 'fast'",
                 "randomness.seed: expected an integer or null, got str 'abc'",
                 "randomness.deterministc: unknown key 'deterministc'; did you mean 'deterministic'?",
                 "log_level: expected a logging level",
                 "model.num_classes: expected an integer >= 1, got int 0",
                 "model.backbone: expected a string naming a timm model"]:
        assert line in msg, line
    assert "12 problems" in msg and "corloc/car" not in msg  # a class's CorLoc is a metric the validation gives
    trcamv = f"""
    _base_: {configs / 'trcamv_synthetic.yaml'}
    model: {{backbone: {{arch: vit_tiny_r_s16_p9_224}}, losses: {{crf: {{method: gird}}}}}}
    pseudo_labels: {{splits: [trian, test], size: [0, 96]}}
    report: {{size_bins: [0.5, 0.2]}}
    """
    msg = problems(tmp_path, trcamv)
    for line in ["model.backbone.arch: expected a string naming a timm model",
                 "model.losses.crf.method: expected one of 'dense', 'grid', got str 'gird'",
                 "pseudo_labels.splits: expected a list, each one of 'train', 'val', 'test'",
                 "pseudo_labels.size: expected a list, each an integer in [1, 16384]",
                 "report.size_bins: the two bounds (small | medium | large) must increase, got [0.5, 0.2]"]:
        assert line in msg, line
    assert "5 problems" in msg


# -- messages read as sentences, with and without a suggestion ---------------------------------
def test_unknown_key_without_a_suggestion_reads_as_a_sentence(tmp_path):
    import torch

    from wsvol.config.checker import constructor_params

    accepted = ", ".join(sorted(set(constructor_params(torch.optim.AdamW).params) - {"params"}))  # torch's version's
    msg = problems(tmp_path, GOOD + "    optim_wrapper: {optimizer: {type: AdamW, lr: 0.1, momentum: 0.9}}\n")
    assert (f"{tmp_path / 'exp.yaml'}:8: optim_wrapper.optimizer.momentum: unknown key 'momentum'; accepted keys of "
            f"optimizer 'AdamW': {accepted}\n") in msg + "\n"
    msg = problems(tmp_path, GOOD.replace("weight: 2", "wieght: 2"))  # with a suggestion: unchanged
    assert ("model.loss.wieght: unknown key 'wieght'; did you mean 'weight'? Accepted keys of loss "
            "'toy_checked_loss': weight") in msg


def test_unknown_type_without_a_suggestion_reads_as_a_sentence(tmp_path):
    from wsvol.registry import LOSSES

    ours = ", ".join(f"{n} ({p})" for n, p in LOSSES.entries().items())
    msg = problems(tmp_path, GOOD.replace("type: toy_checked_loss", "type: zzz"))
    assert f"{tmp_path / 'exp.yaml'}:5: model.loss.type: unknown loss type 'zzz'; registered: {ours}\n" in msg + "\n"
    msg = problems(tmp_path, GOOD.replace("type: toy_checked_loss", "type: toy_checked_los"))
    assert f"model.loss.type: unknown loss type 'toy_checked_los'; did you mean 'toy_checked_loss'? Registered: {ours}" in msg


def test_save_best_without_a_suggestion_reads_as_a_sentence(tmp_path):
    from pathlib import Path

    base = Path(__file__).parents[2] / "configs" / "cam" / "layercam_synthetic.yaml"
    msg = problems(tmp_path, f"_base_: {base}\ndefault_hooks: {{checkpoint: {{save_best: xyz}}}}\n")
    assert "default_hooks.checkpoint.save_best: validation gives no metric 'xyz'; it gives: corloc, " in msg


def test_an_optimizer_typo_lists_mmengines_optimizers_and_suggests(tmp_path):
    """wsvol registers no optimizer: the message lists what mmengine's registry holds (torch's)."""
    from mmengine.registry import OPTIMIZERS

    theirs = ", ".join(sorted(OPTIMIZERS.module_dict))
    assert {"SGD", "AdamW"} <= set(OPTIMIZERS.module_dict)
    msg = problems(tmp_path, GOOD + "    optim_wrapper: {optimizer: {type: SDG, lr: 0.1}}\n")
    assert (f"{tmp_path / 'exp.yaml'}:8: optim_wrapper.optimizer.type: unknown optimizer type 'SDG'; did you mean "
            f"'SGD'? Registered, all from mmengine: {theirs}\n") in msg + "\n"
    assert "none" not in msg
    msg = problems(tmp_path, GOOD + "    optim_wrapper: {optimizer: {type: Zzz, lr: 0.1}}\n")
    assert f"unknown optimizer type 'Zzz'; registered, all from mmengine: {theirs}\n" in msg + "\n"


def test_a_kind_of_both_lists_wsvols_names_then_mmengines(tmp_path):
    from mmengine.registry import HOOKS as MM_HOOKS

    from wsvol.registry import HOOKS

    ours = ", ".join(f"{n} ({p})" for n, p in HOOKS.entries().items())
    theirs = ", ".join(sorted(set(MM_HOOKS.module_dict) - set(HOOKS.entries())))
    msg = problems(tmp_path, GOOD.replace("type: epoch_seed", "type: zzz"))
    assert f"custom_hooks.0.type: unknown hook type 'zzz'; registered: {ours}; from mmengine: {theirs}\n" in msg + "\n"
