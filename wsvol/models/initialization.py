"""The weight initialization of TCAM's code (segmentation_models' ``initialize_decoder`` and
``initialize_head``), for the modules it builds from scratch: the U-Net decoder, the
segmentation head and the classifier's linear head."""

from __future__ import annotations

from torch import nn


def init_decoder(module: nn.Module) -> None:
    """Convolutions: Kaiming uniform (fan-in, ReLU); BatchNorm: weight 1; Linear: Xavier uniform;
    every bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def init_head(module: nn.Module) -> None:
    """Linear and convolution layers: Xavier uniform, bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
