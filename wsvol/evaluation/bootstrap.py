"""Percentile bootstrap over videos for CorLoc and for the CorLoc difference of two methods.

Frames of one video are correlated, so whole videos are resampled (with replacement); CorLoc is
recomputed on every resample, best threshold included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wsvol.evaluation.bits import BitTable


@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    n_boot: int


def corloc_of(correct: np.ndarray | BitTable) -> float:
    """CorLoc (%) of an (N, T) correctness table: the best threshold's share of correct frames."""
    if isinstance(correct, BitTable):
        return float((correct.sums() / len(correct)).max() * 100)
    return float(np.asarray(correct, dtype=np.float64).mean(axis=0).max() * 100)


def _per_group(correct: BitTable, groups: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(V, T) correct counts and (V,) frame counts per group (groups in sorted order)."""
    _, inverse = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    inverse = inverse.reshape(-1)
    n_groups = int(inverse.max()) + 1
    counts = correct.group_sums(inverse, n_groups).astype(np.float64)
    return counts, np.bincount(inverse, minlength=n_groups).astype(np.float64)


def _resampled_corloc(tables, sizes, n_boot, seed, chunk=200) -> np.ndarray:
    """(n_boot, len(tables)) CorLoc of each table on the same resamples of the groups."""
    rng = np.random.default_rng(seed)
    v = sizes.size
    out = np.empty((n_boot, len(tables)))
    for start in range(0, n_boot, chunk):
        weights = rng.multinomial(v, np.full(v, 1.0 / v), size=min(chunk, n_boot - start)).astype(
            np.float64
        )
        frames = weights @ sizes
        for i, table in enumerate(tables):
            out[start : start + weights.shape[0], i] = (weights @ table).max(axis=1) / frames * 100
    return out


def _check(correct: np.ndarray | BitTable, groups: Sequence) -> BitTable:
    if not isinstance(correct, BitTable):
        correct = np.asarray(correct, dtype=bool)
        if correct.ndim == 1:
            correct = correct[:, None]
        if correct.ndim != 2 or correct.shape[0] == 0:
            raise ValueError(
                f"correct must be a non-empty (frames, thresholds) table, got shape {correct.shape}"
            )
        correct = BitTable.from_bool(correct)
    elif len(correct) == 0:
        raise ValueError("correct must be a non-empty (frames, thresholds) table, got 0 frames")
    if len(groups) != len(correct):
        raise ValueError(f"got {len(groups)} video ids for {len(correct)} frames")
    return correct


def _interval(estimate: float, samples: np.ndarray, confidence: float) -> Interval:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high), confidence, int(samples.size))


def bootstrap_corloc(
    correct: np.ndarray | BitTable,
    videos: Sequence,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """CorLoc of an (N, T) correctness table with a bootstrap interval over ``videos`` (N ids)."""
    correct = _check(correct, videos)
    table, sizes = _per_group(correct, videos)
    return _interval(
        corloc_of(correct), _resampled_corloc([table], sizes, n_boot, seed)[:, 0], confidence
    )


def bootstrap_corloc_difference(
    correct_a: np.ndarray | BitTable,
    correct_b: np.ndarray | BitTable,
    videos: Sequence,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """CorLoc(a) − CorLoc(b) on the same frames (row i of both tables), paired over videos."""
    correct_a, correct_b = _check(correct_a, videos), _check(correct_b, videos)
    (table_a, sizes), (table_b, _) = _per_group(correct_a, videos), _per_group(correct_b, videos)
    both = _resampled_corloc([table_a, table_b], sizes, n_boot, seed)
    return _interval(
        corloc_of(correct_a) - corloc_of(correct_b), both[:, 0] - both[:, 1], confidence
    )
