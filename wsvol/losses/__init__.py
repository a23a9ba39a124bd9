"""Losses of the localization head (registry ``LOSSES``): partial CE, size barrier, dense CRF (exact or O(N))."""

from wsvol.losses.crf import DenseCRFLoss, dense_crf_energy, grid_crf_energy
from wsvol.losses.partial_ce import PartialCrossEntropy
from wsvol.losses.size_barrier import SizeBarrierLoss, extended_log_barrier

__all__ = [
    "DenseCRFLoss",
    "PartialCrossEntropy",
    "SizeBarrierLoss",
    "dense_crf_energy",
    "extended_log_barrier",
    "grid_crf_energy",
]
