"""The frames of shot folders (training splits that list shots, as TCAM's do): each folder is
listed once per process, sorted by file name, and never decoded (sizes are read when a frame is).

The listing is cached in memory per process, keyed by the folder's path and checked against its
modification time, so a folder whose frames change is listed again. There is no cache on disk:
listing 2 768 shot folders of 64 frames takes 0.3 s (a stat of each, which an on-disk cache would
still need, 0.03 s), and every rank or worker lists on its own, so distributed runs share nothing
to keep consistent.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wsvol.data.frame_ids import IMAGE_SUFFIXES

_CACHE: dict[str, tuple[int, tuple[str, ...]]] = {}  # absolute folder → (mtime_ns, frame names)


def shot_frame_names(folder: str | Path) -> tuple[str, ...] | str:
    """Names of the frame files in ``folder``, sorted; a string saying why when it is no folder."""
    key = os.path.abspath(folder)
    try:
        st = os.stat(key)
    except OSError:
        return "does not exist"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder"
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == st.st_mtime_ns:
        return cached[1]
    with os.scandir(key) as entries:
        names = tuple(sorted(e.name for e in entries if e.name.lower().endswith(IMAGE_SUFFIXES) and e.is_file()))
    _CACHE[key] = (st.st_mtime_ns, names)
    return names


def list_shots(
    data_root: str | Path, shots: Iterable[str], workers: int = 8
) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Frame names of each shot folder under ``data_root``, and why for each folder that is missing
    or holds no frames (``"does not exist"``, ``"is not a folder"``, ``"holds no frames"``)."""
    root = Path(data_root)
    order = list(shots)
    with ThreadPoolExecutor(max(1, min(workers, len(order) // 64 + 1))) as pool:  # scandir waits off the GIL
        listed = list(pool.map(lambda s: shot_frame_names(root / s), order))
    frames: dict[str, tuple[str, ...]] = {}
    failures: dict[str, str] = {}
    for shot, names in zip(order, listed):
        if isinstance(names, str):
            failures[shot] = names
        elif not names:
            failures[shot] = f"holds no frames (no {'/'.join(s.lstrip('.') for s in IMAGE_SUFFIXES)} file)"
        else:
            frames[shot] = names
    return frames, failures


def clear_cache() -> None:
    """Forget every listing (the next lookup lists the folders again)."""
    _CACHE.clear()
