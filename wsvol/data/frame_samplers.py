"""Epoch samplers: one random frame per shot (the paper's protocol) or every frame, shuffled.

Both are deterministic for (seed, epoch), split an epoch across distributed ranks like torch's
``DistributedSampler`` (padded so every rank gets the same number of indices), and yield
:class:`EpochIndex` so the dataset seeds each item's augmentation with the right epoch even in
persistent DataLoader workers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from wsvol.registry import DATA_SAMPLERS


class EpochIndex(int):
    """A dataset index that also carries the epoch it was drawn for."""

    def __new__(cls, value: int, epoch: int) -> EpochIndex:
        obj = super().__new__(cls, value)
        obj.epoch = epoch
        return obj

    def __reduce__(self):  # keep the epoch when sent to DataLoader workers
        return EpochIndex, (int(self), self.epoch)


class EpochSampler(Sampler[int]):
    """Base: draws an epoch's indices with ``epoch_indices(rng)`` and keeps this rank's share."""

    def __init__(
        self, dataset: Sized, shuffle: bool = True, seed: int | None = None, round_up: bool = True
    ):
        super().__init__()
        self.dataset, self.shuffle, self.round_up = dataset, shuffle, round_up
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.rank, self.world_size = get_dist_info()
        self.epoch = 0

    def epoch_size(self) -> int:
        """How many indices one epoch has over all ranks (before padding)."""
        return len(self.dataset)

    def epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        """All ranks' indices of this epoch."""
        n = len(self.dataset)
        return rng.permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self) -> Iterator[int]:
        indices = self.epoch_indices(
            np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch]))
        )
        indices = indices.tolist()
        if self.round_up and indices:
            total = len(self) * self.world_size
            indices = (indices * math.ceil(total / len(indices)))[:total]
        return iter(EpochIndex(i, self.epoch) for i in indices[self.rank :: self.world_size])

    def __len__(self) -> int:
        n = self.epoch_size()
        if self.round_up:
            return math.ceil(n / self.world_size)
        return len(range(self.rank, n, self.world_size))

    def set_epoch(self, epoch: int) -> None:
        """Draw the indices of ``epoch`` next; passes the epoch on to the dataset too."""
        self.epoch = int(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)


@DATA_SAMPLERS.register_module(name="frame_sampler")
class FrameSampler(EpochSampler):
    """Every frame once per epoch, shuffled (or in order with ``shuffle=False``)."""


@DATA_SAMPLERS.register_module(name="shot_sampler")
class ShotSampler(EpochSampler):
    """k = ``frames_per_shot`` random frames of every shot per epoch (the paper's protocol: k = 1)."""

    def __init__(
        self,
        dataset: Sized,
        shuffle: bool = True,
        seed: int | None = None,
        round_up: bool = True,
        frames_per_shot: int = 1,
    ):
        super().__init__(dataset, shuffle, seed, round_up)
        shots = getattr(dataset, "shots", None)
        if not isinstance(shots, dict) or not shots:
            raise TypeError(
                "shot_sampler needs a dataset with a non-empty `shots` dict (shot id → frame "
                f"indices); {type(dataset).__name__} has none"
            )
        if frames_per_shot < 1:
            raise ValueError(f"frames_per_shot must be >= 1, got {frames_per_shot}")
        self.k = int(frames_per_shot)
        self.shot_frames = [np.asarray(v, dtype=np.int64) for v in shots.values()]

    def epoch_size(self) -> int:
        return self.k * len(self.shot_frames)

    def epoch_indices(self, rng: np.random.Generator) -> np.ndarray:
        picks = np.concatenate([self._pick(f, rng) for f in self.shot_frames])
        return rng.permutation(picks) if self.shuffle else picks

    def _pick(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """k distinct frames; a shot shorter than k gives all its frames plus random repeats."""
        if len(frames) >= self.k:
            return rng.choice(frames, self.k, replace=False)
        return np.concatenate([frames, rng.choice(frames, self.k - len(frames))])
