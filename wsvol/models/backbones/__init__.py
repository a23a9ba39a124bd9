"""Backbones: importing this package registers the built-in ones (``timm_vit``)."""

from .vit import TimmViT

__all__ = ["TimmViT"]
