"""Models: tag classifiers for the CAM baselines, ViT backbones and TrCAM-V heads."""

from wsvol.models import backbones, classifiers, heads, trcamv  # noqa: F401  (registers the built-ins)
