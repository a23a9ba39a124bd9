"""Pseudo-label sources: per-frame maps in [0, 1] that supervise the localization head."""

from wsvol.pseudo_labels.base import PseudoLabelSource
from wsvol.pseudo_labels.cache import CacheError, PseudoLabelCache
from wsvol.pseudo_labels.cam_source import CamSource
from wsvol.pseudo_labels.clip_es import ClipES, ClipESResult
from wsvol.weights import WeightsError, check_weights, known_weights, resolve_weights

__all__ = ["CacheError", "CamSource", "ClipES", "ClipESResult", "PseudoLabelCache", "PseudoLabelSource",
           "WeightsError", "WeightsFile", "check_weights", "known_weights", "resolve_weights"]
