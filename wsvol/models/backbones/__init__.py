"""Backbones: importing this package registers the built-in ones (``timm_vit``, ``timm_resnet``)."""

from .resnet import TimmResNet
from .vit import TimmViT

__all__ = ["TimmResNet", "TimmViT"]
