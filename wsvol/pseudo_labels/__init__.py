"""Pseudo-label sources: per-frame maps in [0, 1] that supervise the localization head, computed
once into a cache (:mod:`wsvol.data.pseudo_label_cache`) by :mod:`wsvol.pseudo_labels.generate`."""

from wsvol.pseudo_labels.base import PseudoLabelSource
from wsvol.pseudo_labels.cam_source import CamSource
from wsvol.pseudo_labels.clip_es import ClipES, ClipESResult

__all__ = ["CamSource", "ClipES", "ClipESResult", "PseudoLabelSource"]
