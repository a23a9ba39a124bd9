"""Models: tag classifiers for the CAM baselines, backbones, heads, TrCAM-V and TCAM."""

from wsvol.models import backbones, classifiers, heads, tcam, trcamv  # noqa: F401  (registers the built-ins)
