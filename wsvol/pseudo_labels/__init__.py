"""Pseudo-label sources: per-frame maps in [0, 1] that supervise the localization head."""

from wsvol.pseudo_labels.base import PseudoLabelSource, WeightsFile
from wsvol.pseudo_labels.clip_es import ClipES, ClipESResult

__all__ = ["ClipES", "ClipESResult", "PseudoLabelSource", "WeightsFile"]
