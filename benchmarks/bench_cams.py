"""Time per frame of each CAM method next to a plain forward and a forward+backward of the same net.

    python benchmarks/bench_cams.py                          # resnet18 (output stride 8), 112², CPU
    python benchmarks/bench_cams.py --backbone resnet50 --size 224 --device cuda

The network is the ``resnet50_cam`` classifier (output stride 8) built on ``--backbone``. The
forward runs under ``no_grad``; forward+backward backpropagates the predicted scores down to
every parameter. ``ratio`` is a row's time over its ``baseline`` (``forward`` for CAM, which
needs no backward; ``forward+backward`` for the gradient methods, which backpropagate only down
to the target layer), ``target`` the bound it should stay under: one pass for CAM and the
gradient methods, ``n + 1`` passes for Smooth-GradCAM++ (a clean forward and ``n`` noisy ones).
Batch 32 runs once after a warm-up; use ``OMP_NUM_THREADS=1`` on a busy machine.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import torch

from wsvol.cams import build_cam
from wsvol.models.classifiers import ResNetCAM
from wsvol.utils.timing import best_seconds

METHODS = ("cam", "gradcam", "gradcampp", "smooth_gradcampp", "xgradcam", "layercam")
SLACK = 1.2  # timing noise allowed over the ideal cost


def _seconds(step: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Best wall time of ``repeats`` calls after one warm-up call."""
    return best_seconds(step, repeats, device)


def _rows(model: ResNetCAM, batch: int, size: int, repeats: int, smooth_n: int, dev: torch.device) -> list[dict]:
    """The rows of one batch size."""
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(dev)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        logits = model(x)
        logits.gather(1, logits.argmax(1, keepdim=True)).sum().backward()

    base = {"forward": _seconds(forward, repeats, dev), "forward+backward": _seconds(forward_backward, repeats, dev)}
    model.zero_grad(set_to_none=True)

    def row(name: str, secs: float, baseline: str, target: float | None) -> dict:
        return {"name": name, "batch": batch, "ms_per_frame": 1e3 * secs / batch,
                "vs_forward": secs / base["forward"], "vs_forward_backward": secs / base["forward+backward"],
                "baseline": baseline, "ratio": secs / base[baseline], "target": target}

    rows = [row(name, secs, "forward", None) for name, secs in base.items()]
    for name in METHODS:
        cam = build_cam(dict(type=name, **({"n": smooth_n} if name == "smooth_gradcampp" else {})),
                        model, model.default_target_layer())
        secs = _seconds(lambda cam=cam: cam(x), repeats, dev)
        passes = smooth_n + 1 if name == "smooth_gradcampp" else 1
        rows.append(row(name, secs, "forward" if name == "cam" else "forward+backward", SLACK * passes))
    return rows


def run(backbone: str = "resnet18", size: int = 112, batches: Sequence[int] = (1, 32),
        repeats: Sequence[int] = (3, 1), smooth_n: int = 4, device: str | None = None) -> list[dict]:
    """Rows {name, batch, ms_per_frame, vs_forward, vs_forward_backward, baseline, ratio, target}."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = ResNetCAM(backbone, num_classes=10).eval().to(dev)
    return [row for batch, reps in zip(batches, repeats) for row in _rows(model, batch, size, reps, smooth_n, dev)]


def main(argv: Sequence[str] | None = None) -> None:
    """Print ``run()`` as a rich table."""
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--repeats", type=int, nargs="+", default=[3, 1])
    parser.add_argument("--smooth-n", type=int, default=4)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    if len(args.repeats) != len(args.batches):
        parser.error(f"--repeats needs one value per batch size ({len(args.batches)}), got {args.repeats}")
    rows = run(args.backbone, args.size, args.batches, args.repeats, args.smooth_n, args.device)
    table = Table(title=f"CAM methods vs {args.backbone} (output stride 8), {args.size}² input "
                        f"({torch.get_num_threads()} threads)")
    for col in ("name", "batch", "ms/frame", "÷fwd", "÷fwd+bwd", "target", "ok"):
        table.add_column(col, justify="left" if col == "name" else "right", no_wrap=True)
    for row in rows:
        target = row["target"]
        bound = "" if target is None else f"≤{target:.1f} {'fwd' if row['baseline'] == 'forward' else 'f+b'}"
        ok = "" if target is None else ("yes" if row["ratio"] <= target else "NO")
        table.add_row(row["name"], str(row["batch"]), f"{row['ms_per_frame']:.1f}", f"{row['vs_forward']:.2f}",
                      f"{row['vs_forward_backward']:.2f}", bound, ok)
    Console().print(table)


if __name__ == "__main__":
    main()
