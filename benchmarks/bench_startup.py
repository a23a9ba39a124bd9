"""Start-up: what the ``wsvol`` commands import, against what they need.

    python benchmarks/bench_startup.py [--repeats 3]

Each measure is a fresh interpreter (``python -c``), timed by its CPU time (user + system, from
the operating system; steadier than wall time on a busy machine), best of ``--repeats``, the
measures interleaved round-robin. Rows:

- ``wsvol --help / import torch`` and ``wsvol test --help / import torch``: the parser of every
  command comes up without torch, mmengine or timm; target ≤ 0.25.
- ``wsvol test imports / what it needs``: everything ``wsvol test`` imports before its first
  batch and for its report (the registries' built-ins, the pipeline, the report and overlays)
  over importing the libraries such a run cannot do without (torch, mmengine's runner, timm,
  OpenCV, matplotlib's PNG backend); target ≤ 1.15: wsvol's own modules and whatever it pulls in
  beyond those cost at most 15 %.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from collections.abc import Sequence

TORCH = "import torch"
NEEDED = "import torch, mmengine.runner, timm, cv2, matplotlib.backends.backend_agg"
TEST_IMPORTS = (
    "from wsvol.plugin_manager import register_all; register_all(); "
    "import wsvol.engine.pipeline, wsvol.report, wsvol.visualization.frames, wsvol.evaluation.baselines, "
    "matplotlib.backends.backend_agg"
)
HELP = "import sys; sys.argv = ['wsvol'{args}, '--help']; from wsvol.cli.main import main\ntry: main()\nexcept SystemExit: pass"


def _cpu_seconds(code: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(repeats: int = 3) -> list[dict]:
    """Rows {name, seconds, ratio, target}."""
    codes = {
        "torch": TORCH,
        "needed": NEEDED,
        "test": TEST_IMPORTS,
        "help": HELP.format(args=""),
        "test help": HELP.format(args=", 'test'"),
    }
    best = {name: float("inf") for name in codes}
    for _ in range(max(1, repeats)):
        for name, code in codes.items():
            best[name] = min(best[name], _cpu_seconds(code))
    return [
        {"name": "import torch (the reference)", "seconds": best["torch"], "ratio": 1.0, "target": None},
        {"name": "wsvol --help / import torch", "seconds": best["help"], "ratio": best["help"] / best["torch"],
         "target": 0.25},
        {"name": "wsvol test --help / import torch", "seconds": best["test help"],
         "ratio": best["test help"] / best["torch"], "target": 0.25},
        {"name": "wsvol test imports / what it needs", "seconds": best["test"], "ratio": best["test"] / best["needed"],
         "target": 1.15},
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    """Print ``run()``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    for r in run(args.repeats):
        target = "" if r["target"] is None else f" (target ≤ {r['target']})"
        print(f"{r['name']}: {r['seconds']:.2f} s CPU, ratio {r['ratio']:.3g}{target}")


if __name__ == "__main__":
    main()
