"""TCAM's initialization of the parts it builds from scratch, against the closed-form bounds and
spreads of Kaiming- and Xavier-uniform draws."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from wsvol.models.classifiers import ResNetCAM
from wsvol.models.heads.unet import UNetDecoderHead
from wsvol.models.initialization import init_decoder, init_head


def _uniform_with_bound(weight: torch.Tensor, bound: float) -> None:
    """Every value within ±bound, and the spread of U(-bound, bound): std = bound / √3."""
    assert weight.abs().max() <= bound
    assert weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)


def test_decoder_convs_are_kaiming_uniform_and_heads_xavier_uniform():
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(32, 64, 3, bias=True), nn.BatchNorm2d(64), nn.Linear(40, 30))
    with torch.no_grad():  # something other than the init's values
        for p in block.parameters():
            p.fill_(0.5)
    init_decoder(block)
    conv, bn, linear = block
    _uniform_with_bound(conv.weight, math.sqrt(2) * math.sqrt(3 / (32 * 9)))  # gain √2 (ReLU), fan-in
    assert not conv.bias.any() and not bn.bias.any() and (bn.weight == 1).all() and not linear.bias.any()
    _uniform_with_bound(linear.weight, math.sqrt(6 / (40 + 30)))
    head = nn.Conv2d(16, 2, 3)
    init_head(head)
    _uniform_with_bound(head.weight, math.sqrt(6 / (16 * 9 + 2 * 9)))
    assert not head.bias.any()


def test_tcams_unet_decoder_and_the_cam_classifiers_head_are_initialized_so():
    torch.manual_seed(0)
    backbone = type("Encoder", (), {"stage_channels": [3, 64, 256, 512, 1024, 2048]})()
    unet = UNetDecoderHead(backbone)
    _uniform_with_bound(unet.seg_head.weight, math.sqrt(6 / (16 * 9 + 2 * 9)))
    assert not unet.seg_head.bias.any()
    conv = unet.blocks[0].conv1[0]
    _uniform_with_bound(conv.weight, math.sqrt(2) * math.sqrt(3 / ((2048 + 1024) * 9)))
    model = ResNetCAM("resnet18", num_classes=10)
    _uniform_with_bound(model.head.weight, math.sqrt(6 / (512 + 10)))
    assert not model.head.bias.any()
