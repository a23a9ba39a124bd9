"""Wall-clock timing for the benchmarks: best of several runs, CUDA-synchronised."""

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
