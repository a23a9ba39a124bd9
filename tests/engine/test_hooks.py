"""Runner hooks: a non-finite loss stops training, naming the step and the loss term, before any
checkpoint holds the broken weights; the hook is on by default."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from tiny_configs import tiny_config  # beside this file (pytest puts its folder on sys.path)

from wsvol.config import load_config
from wsvol.data.synthetic import generate_synthetic
from wsvol.engine.hooks import FiniteLossHook
from wsvol.models.classifiers import ResNetCAM
from wsvol.registry import MODELS


@MODELS.register_module(name="nan_at_step_3")
class NanAtStep3(ResNetCAM):
    """A classifier whose ``loss_size`` term is NaN at its third training step (and 0 before)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.steps = 0

    def forward(self, inputs, data_samples=None, mode="tensor"):
        out = super().forward(inputs, data_samples, mode)
        if mode == "loss":
            self.steps += 1
            out["loss_size"] = out["loss_cls"] * (float("nan") if self.steps == 3 else 0.0)
        return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hooks")
    generate_synthetic(root / "data", size="tiny", progress=False)
    return root


def build(tiny: Path, work: str, overrides: str):
    from wsvol.engine.job import prepare_work_dir
    from wsvol.engine.runner import build_runner

    cfg = load_config(tiny_config(tiny, tiny / "data", overrides, name=f"{work}.yaml"))
    cfg.log_level = "ERROR"
    prepare_work_dir(cfg, tiny / f"{work}.yaml", tiny / work, None)
    return build_runner(cfg)


def test_a_nan_loss_term_stops_training_naming_step_and_term(tiny):
    runner = build(tiny, "nan", "model: {type: nan_at_step_3}\n"
                   "default_hooks: {checkpoint: {type: CheckpointHook, interval: 1, by_epoch: false}}\n"
                   "train_cfg: {_delete_: true, by_epoch: false, max_iters: 5}\n")
    assert any(isinstance(h, FiniteLossHook) for h in runner.hooks)  # on by default
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    msg = str(err.value)
    assert "non-finite loss at epoch 1, iteration 3 (batch 2 of the epoch): loss_size = nan." in msg
    assert "loss_cls" not in msg  # the finite term is not blamed
    # iterations 1 and 2 were saved; the broken weights of iteration 3 were not
    assert sorted(p.name for p in (tiny / "nan").glob("iter_*.pth")) == ["iter_1.pth", "iter_2.pth"]


def test_the_hook_can_be_turned_off_and_blames_the_sum_when_no_term_is_named(tiny):
    runner = build(tiny, "off", "default_hooks: {finite_loss: null}\n")
    assert not any(isinstance(h, FiniteLossHook) for h in runner.hooks)
    stub = Config({"epoch": 4, "iter": 41})
    with pytest.raises(FloatingPointError, match=r"epoch 5, iteration 42 \(batch 0 of the epoch\): loss = inf\."):
        FiniteLossHook().after_train_iter(stub, 0, outputs={"loss": torch.tensor(float("inf")),
                                                            "acc": torch.tensor(float("nan"))})
    FiniteLossHook().after_train_iter(stub, 0, outputs={"loss": torch.tensor(1.0), "acc": torch.tensor(float("nan"))})
