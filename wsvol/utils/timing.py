"""Timing for the benchmarks: best of several runs, CUDA-synchronised; interleaved when compared."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(call: Callable[[], object], repeats: int, device, warmup: Callable[[], object] | None = None) -> float:
    """Best wall time of ``repeats`` calls of ``call`` after one warm-up call (``warmup`` or ``call``)."""
    import torch

    def sync() -> None:
        if getattr(device, "type", str(device)).startswith("cuda"):
            torch.cuda.synchronize(device)

    (warmup or call)()
    sync()
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        call()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def interleaved_seconds(calls: dict[str, Callable[[], object]], repeats: int, device) -> dict[str, float]:
    """Best time of each call over ``repeats`` round-robin rounds, after one warm-up call each.

    On a CPU the time is this process's CPU time (steadier than wall time on a shared machine:
    another process's load hardly moves it); on a CUDA device, wall time with the device
    synchronised. Round-robin order lets a drifting load hit every call alike.
    """
    import torch

    cuda = getattr(device, "type", str(device)).startswith("cuda")
    clock = time.perf_counter if cuda else time.process_time

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    for call in calls.values():
        call()
    sync()
    best = {name: float("inf") for name in calls}
    for _ in range(max(1, repeats)):
        for name, call in calls.items():
            start = clock()
            call()
            sync()
            best[name] = min(best[name], clock() - start)
    return best
