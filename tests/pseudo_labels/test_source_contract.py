"""A pseudo-label source that does not set what the pipeline reads is refused when it is built,
with what to set, before any frame is read."""

from __future__ import annotations

import pytest
import torch

from wsvol.config.sections import PseudoLabelsSection
from wsvol.pseudo_labels.base import PseudoLabelSource
from wsvol.pseudo_labels.generate import build_source


class NoNormalization(PseudoLabelSource):
    """Sets class names but forgets mean and std."""

    def __init__(self) -> None:
        super().__init__()
        self.class_names = ("a", "b")

    def forward(self, images, labels):
        return images.mean(1).sigmoid()


class Complete(NoNormalization):
    """Sets all three."""

    def __init__(self) -> None:
        super().__init__()
        self.mean, self.std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def test_a_source_without_mean_and_std_is_refused_with_what_to_set():
    section = PseudoLabelsSection(source={"type": NoNormalization}, cache_dir="unused")
    with pytest.raises(TypeError, match=r"NoNormalization does not set mean, std; a pseudo-label source sets mean "
                                        r"and std \(RGB, \[0, 1\] scale"):
        build_source(section, torch.device("cpu"))
    source = build_source(PseudoLabelsSection(source={"type": Complete}, cache_dir="unused"), torch.device("cpu"))
    assert source.mean == (0.5, 0.5, 0.5) and not source.training
