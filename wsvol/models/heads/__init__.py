"""Heads on top of a backbone: importing this package registers ``linear_probe`` and ``attention_decoder``."""

from .classification import LinearProbeHead
from .localization import AttentionDecoderHead

__all__ = ["AttentionDecoderHead", "LinearProbeHead"]
