"""Pseudo-pixel samplers: pseudo-label maps → sparse FG/BG seed maps (registry ``PIXEL_SAMPLERS``)."""

from wsvol.sampling.base import PixelSampler
from wsvol.sampling.otsu_roi import OtsuRoiSampler, otsu_roi

__all__ = ["OtsuRoiSampler", "PixelSampler", "otsu_roi"]
