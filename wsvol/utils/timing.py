"""Timing for the benchmarks: calls interleaved round after round, CUDA-synchronised; the best of
the rounds, or the median of paired ratios with a distribution-free interval where a ratio sits
near its target."""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Sequence


def interleaved_clocks(calls: dict[str, Callable[[], object]], rounds: int, device
                       ) -> dict[str, list[tuple[float, float]]]:
    """Each call's (wall, CPU) seconds in each of ``rounds`` rounds: every call once a round, after
    one warm-up call each, in the given order first, then in a seeded shuffle of it each round.

    CPU time is this process's, all threads; on a CUDA device the device is synchronised around
    each call. Interleaving lets a drifting load hit every call alike, and makes the times of one
    round a pair (see :func:`paired_ratio`).
    """
    import torch

    cuda = getattr(device, "type", str(device)).startswith("cuda")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    for call in calls.values():
        call()
    sync()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
    order = list(calls)
    shuffle = random.Random(0).shuffle
    for _ in range(max(1, rounds)):
        for name in order:
            wall, cpu = time.perf_counter(), time.process_time()
            calls[name]()
            sync()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
        # a call runs slower after one that allocated and freed a lot (fresh pages, a cold
        # cache): a new order each round keeps that from always falling on the same call
        shuffle(order)
    return times


def interleaved_samples(calls: dict[str, Callable[[], object]], rounds: int, device) -> dict[str, list[float]]:
    """Each call's time in each round of :func:`interleaved_clocks`: on a CPU this process's CPU
    time (steadier than wall time on a shared machine: another process's load hardly moves it), on
    a CUDA device wall time."""
    cuda = getattr(device, "type", str(device)).startswith("cuda")
    return {name: [wall if cuda else cpu for wall, cpu in pairs]
            for name, pairs in interleaved_clocks(calls, rounds, device).items()}


def interleaved_seconds(calls: dict[str, Callable[[], object]], repeats: int, device) -> dict[str, float]:
    """Best time of each call over ``repeats`` interleaved rounds (:func:`interleaved_samples`)."""
    return {name: min(times) for name, times in interleaved_samples(calls, repeats, device).items()}


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(median, low, high): the median of ``values`` and a distribution-free interval around it.

    The interval is the pair of order statistics (x_(k), x_(n+1-k)) with the largest k whose
    coverage of the true median, 1 - 2·P(Binomial(n, 1/2) < k), is at least ``confidence``
    (n >= 6 for 95 %). It assumes nothing about the distribution: only that the values are
    independent draws of one quantity. Fewer values than that give (median, nan, nan).
    """
    xs = sorted(float(v) for v in values)
    n = len(xs)
    if n == 0:
        raise ValueError("median_interval needs at least one value")
    median = statistics.median(xs)
    k, below = 0, 0.0  # below: P(Binomial(n, 1/2) < k + 1), summed one term at a time
    while k < n // 2:
        below += math.comb(n, k) / 2**n
        if 1 - 2 * below < confidence:
            break
        k += 1
    if k == 0:
        return median, math.nan, math.nan
    return median, xs[k - 1], xs[n - k]


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float], confidence: float = 0.95
                 ) -> tuple[float, float, float]:
    """(median, low, high) of the round-by-round ratios ``numerator[i] / denominator[i]``.

    Two calls timed in the same round share that round's load, so their ratio varies less than
    either time; :func:`median_interval` gives the interval.
    """
    if len(numerator) != len(denominator):
        raise ValueError(f"paired_ratio needs as many rounds on both sides, got {len(numerator)} "
                         f"and {len(denominator)}")
    return median_interval([a / b for a, b in zip(numerator, denominator)], confidence)


def verdict(ratio: float, target: float | None, better: str = "lower",
            interval: Sequence[float] | None = None) -> str:
    """A row's result: empty without a target, else "pass" or "miss"; with an ``interval`` (low,
    high) around the ratio, "tie" when it holds the target (the measurement cannot tell the sides
    apart), and "pass" or "miss" only when the whole interval is on one side."""
    if target is None:
        return ""
    if interval is not None and all(math.isfinite(v) for v in interval):
        low, high = interval
        if low <= target <= high:
            return "tie"
        ratio = high if better == "lower" else low  # the whole interval is on one side
    return "pass" if (ratio <= target if better == "lower" else ratio >= target) else "miss"
