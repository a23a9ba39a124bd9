"""partial_ce against a hand computation."""

from __future__ import annotations

import math

import pytest
import torch

from wsvol.losses import PartialCrossEntropy
from wsvol.registry import LOSSES


def test_registered():
    assert LOSSES.module_dict["partial_ce"] is PartialCrossEntropy


def test_matches_hand_computation():
    logits = torch.zeros(2, 2, 2, 2)
    logits[0, :, 0, 0] = torch.tensor([2.0, 0.0])  # labelled FG
    logits[0, :, 1, 1] = torch.tensor([0.0, 3.0])  # labelled FG
    logits[1, :, 0, 1] = torch.tensor([1.0, -1.0])  # labelled BG
    logits[1, :, 1, 0] = torch.tensor([5.0, 5.0])  # unlabelled: must not count
    seeds = torch.full((2, 2, 2), -255)
    seeds[0, 0, 0] = seeds[0, 1, 1] = 1
    seeds[1, 0, 1] = 0
    # −log softmax_target, one pixel at a time
    terms = [
        -math.log(math.exp(0) / (math.exp(2) + math.exp(0))),
        -math.log(math.exp(3) / (math.exp(0) + math.exp(3))),
        -math.log(math.exp(1) / (math.exp(1) + math.exp(-1))),
    ]
    loss = PartialCrossEntropy()(logits, seeds)
    assert loss.item() == pytest.approx(sum(terms) / 3, rel=1e-6)
    weighted = PartialCrossEntropy(loss_weight=0.5, ignore_index=-255)(logits, seeds)
    assert weighted.item() == pytest.approx(sum(terms) / 6, rel=1e-6)


def test_no_labelled_pixel_gives_zero_and_zero_gradient():
    logits = torch.randn(3, 2, 5, 5, requires_grad=True)
    loss = PartialCrossEntropy(ignore_index=-100)(logits, torch.full((3, 5, 5), -100))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(loss)
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_rejects_bad_seeds_and_shapes():
    loss = PartialCrossEntropy()
    with pytest.raises(ValueError, match="holds 7"):
        loss(torch.zeros(1, 2, 2, 2), torch.tensor([[[0, 7], [-255, 1]]]))
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        loss(torch.zeros(1, 2, 2, 2), torch.zeros(1, 3, 3, dtype=torch.long))
