"""A model that undoes the input normalization must undo what the pipelines did."""

from __future__ import annotations

import pytest
import torch
from mmengine.config import Config

from wsvol.config.loader import ConfigError
from wsvol.engine.runner import check_normalization


class Denormalizing(torch.nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))


def config(**normalize) -> Config:
    pipeline = [{"type": "resize", "size": [8, 8]}, {"type": "normalize", **normalize}, {"type": "pack_inputs"}]
    return Config({"train_dataloader": {"dataset": {"pipeline": pipeline}},
                   "test_dataloader": {"dataset": {"pipeline": pipeline}}})


IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def test_matching_normalization_passes():
    check_normalization(config(), Denormalizing(*IMAGENET))  # normalize's default is ImageNet's
    check_normalization(config(mean=[0.5] * 3, std=[0.5] * 3), Denormalizing([0.5] * 3, [0.5] * 3))
    check_normalization(config(mean=[0.5] * 3), torch.nn.Linear(2, 2))  # nothing to undo: not checked


def test_a_mismatch_names_the_step_and_both_statistics():
    with pytest.raises(ConfigError, match=r"train_dataloader\.dataset\.pipeline\[1\] normalizes with mean "
                                          r"\[0\.485, 0\.456, 0\.406\].*undoes mean \[0\.5, 0\.5, 0\.5\]"):
        check_normalization(config(), Denormalizing([0.5] * 3, [0.5] * 3))
    with pytest.raises(ConfigError, match=r"std \[0\.25, 0\.224, 0\.225\]"):
        check_normalization(config(std=[0.25, 0.224, 0.225]), Denormalizing(*IMAGENET))
