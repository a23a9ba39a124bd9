"""Heads on top of a backbone: importing this package registers ``linear_probe``, ``gap_linear``,
``attention_decoder`` and ``unet_decoder``."""

from .classification import GapLinearHead, LinearProbeHead
from .localization import AttentionDecoderHead
from .unet import UNetDecoderHead

__all__ = ["AttentionDecoderHead", "GapLinearHead", "LinearProbeHead", "UNetDecoderHead"]
