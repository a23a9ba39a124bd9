"""Tiny networks with fixed weights, written so that tests can recompute them functionally."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

K, C = 4, 3  # feature channels, classes


def fixed(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Deterministic weights (same values on every run)."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


class GapNet(nn.Module):
    """conv3x3 → ReLU (target ``act``) → global average pooling → linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, K, 3, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(K, C)
        with torch.no_grad():
            self.conv.weight.copy_(fixed((K, 3, 3, 3), 1))
            self.conv.bias.copy_(torch.tensor([0.5, 0.2, 0.1, 0.3]))
            # mixed signs: class 0 has a negative weight, class 2 only positive ones
            self.fc.weight.copy_(torch.tensor([[1.0, -0.5, 0.25, 2.0],
                                               [-1.0, 0.5, 1.5, 0.1],
                                               [0.3, 0.7, 1.1, 0.2]]))
            self.fc.bias.copy_(torch.tensor([0.1, -0.2, 0.0]))

    def get_classifier(self) -> nn.Module:
        """The linear head, the way timm models expose it."""
        return self.fc

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The target layer's output, recomputed functionally."""
        return F.relu(F.conv2d(x, self.conv.weight, self.conv.bias, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.conv(x)).mean(dim=(2, 3)))


class DeepNet(GapNet):
    """GapNet with a second conv → ReLU after the target layer: gradients vary over positions."""

    def __init__(self) -> None:
        super().__init__()
        self.conv2 = nn.Conv2d(K, 5, 3, padding=1)
        self.fc = nn.Linear(5, C)
        with torch.no_grad():
            self.conv2.weight.copy_(fixed((5, K, 3, 3), 2))
            self.conv2.bias.zero_()
            self.fc.weight.copy_(fixed((C, 5), 3))
            self.fc.bias.zero_()

    def head(self, a: torch.Tensor) -> torch.Tensor:
        """Logits from the target layer's output, written functionally."""
        h = F.relu(F.conv2d(a, self.conv2.weight, self.conv2.bias, padding=1))
        return h.mean(dim=(2, 3)) @ self.fc.weight.T + self.fc.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.relu(self.conv2(self.act(self.conv(x)))).mean(dim=(2, 3)))


@pytest.fixture
def gapnet() -> GapNet:
    return GapNet().eval()


@pytest.fixture
def deepnet() -> DeepNet:
    return DeepNet().eval()


@pytest.fixture
def images() -> torch.Tensor:
    return fixed((4, 3, 6, 5), 7)
