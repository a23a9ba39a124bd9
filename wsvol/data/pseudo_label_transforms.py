"""Pseudo-label transforms: what a training frame's pseudo-label map becomes when it is loaded.

A transform sees the frame's shot — its frame ids in sorted order (as the frame files sort) —
the frame's position in it and a reader of the stored maps, and returns the frame's map. It runs
in :class:`~wsvol.data.dataset.FoldDataset` on the stored maps (e.g. at feature resolution),
before the map is resized to the frame and goes through the pipeline's resize, crop and flip with
the image. It composes with any pseudo-label source: the source fills the cache, the transform
reads it. Configured on the dataset: ``pseudo_label_transform: {type: temporal_max, n: 1}``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from wsvol.config.types import bounded
from wsvol.data.fold_files import DataError
from wsvol.registry import PSEUDO_LABEL_TRANSFORMS

Reader = Callable[[str], np.ndarray]


@PSEUDO_LABEL_TRANSFORMS.register_module(name="temporal_max")
class TemporalMax:
    """CAM-TMP (TCAM, WACV 2023): the per-pixel max of the maps of the frame and its ``n`` neighbours.

    Args:
        n: how many neighbours on each side the window reaches (0: the frame's own map).
        mode: ``before``: frames t−n … t (TCAM's setting); ``after``: t … t+n; ``both``: t−n … t+n.

    Windows stay inside the shot (truncated at its ends: fewer maps near a shot's first frame)
    and never cross into another shot; maps are compared at the same pixel (no alignment) and
    the max is not re-normalized (each stored map is already in [0, 1]), as in TCAM's code.
    """

    def __init__(self, n: bounded(int, 0) = 1, mode: Literal["before", "after", "both"] = "before") -> None:
        if int(n) < 0:
            raise ValueError(f"temporal_max: n must be >= 0, got {n}")
        if mode not in ("before", "after", "both"):
            raise ValueError(f"temporal_max: mode must be 'before', 'after' or 'both', got {mode!r}")
        self.n, self.mode = int(n), mode

    def __repr__(self) -> str:
        return f"TemporalMax(n={self.n}, mode={self.mode!r})"

    def window(self, position: int, length: int) -> range:
        """Positions in a shot of ``length`` frames whose maps make the map of frame ``position``."""
        lo = position - self.n if self.mode in ("before", "both") else position
        hi = position + self.n if self.mode in ("after", "both") else position
        return range(max(lo, 0), min(hi, length - 1) + 1)

    def __call__(self, shot: Sequence[str], position: int, read: Reader) -> np.ndarray:
        """The map of frame ``shot[position]`` (``shot``: the shot's frame ids, sorted)."""
        frames = [shot[i] for i in self.window(position, len(shot))]
        maps = [np.asarray(read(f), dtype=np.float32) for f in frames]
        shapes = {m.shape for m in maps}
        if len(shapes) > 1:
            raise DataError(f"temporal_max: the stored maps of one shot differ in size "
                            f"({', '.join(f'{f}: {m.shape}' for f, m in zip(frames, maps))})")
        return np.maximum.reduce(maps) if len(maps) > 1 else maps[0]
