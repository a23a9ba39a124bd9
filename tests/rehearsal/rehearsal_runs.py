"""What the rehearsal's fixtures and tests share: the size of the workspaces, and running wsvol."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Frames of each stand-in train shot; entries (shots, frames) kept of each split: one per class, and
#: at most AT_MOST[split] of them (classes in turn). Test keeps every class: the report's per-class rows.
FRAMES_PER_SHOT = 2
AT_MOST = {"train": 3, "val": 3}


def wsvol(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m wsvol ARGS`` in ``cwd`` on the CPU with one thread; fails the test on a non-zero exit."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "COLUMNS": "200", **(env or {})}
    out = subprocess.run([sys.executable, "-m", "wsvol", *map(str, args)], cwd=cwd, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, f"wsvol {' '.join(map(str, args))} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    return out
