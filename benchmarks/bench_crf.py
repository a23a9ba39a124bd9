"""Time of the exact dense CRF loss (forward + backward) next to a ViT-S/16 forward + backward.

    python benchmarks/bench_crf.py                     # batch 4 on the CPU, ≲ 1 min
    python benchmarks/bench_crf.py --batch-size 32     # the training batch (use a GPU)

Each measurement follows a warm-up at batch 1; ``ratio`` is the time over the ViT's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import timm
import torch

from wsvol.losses import DenseCRFLoss
from wsvol.utils.timing import best_seconds


def _seconds(step: Callable[[int], object], batch_size: int, device: torch.device, repeats: int) -> float:
    """Best time of ``step(batch_size)`` after a warm-up ``step(1)``."""
    return best_seconds(lambda: step(batch_size), repeats, device, warmup=lambda: step(1))


def run(
    batch_size: int = 4,
    scales: Sequence[float] = (0.25, 0.5),
    size: int = 224,
    repeats: int = 1,
    device: str | None = None,
) -> list[dict]:
    """Rows {name, batch, seconds, ratio}: ViT-S/16 first, then the CRF loss at each scale."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    vit = timm.create_model("vit_small_patch16_224", pretrained=False, img_size=size).to(dev)

    def vit_step(b: int) -> None:
        vit.zero_grad(set_to_none=True)
        vit(torch.randn(b, 3, size, size, device=dev)).sum().backward()

    def crf_step(scale: float) -> Callable[[int], None]:
        loss = DenseCRFLoss(scale=scale)

        def step(b: int) -> None:
            logits = torch.randn(b, 2, size, size, device=dev, requires_grad=True)
            images = torch.randint(0, 256, (b, 3, size, size), device=dev).float()
            loss(logits, images).backward()

        return step

    vit_s = _seconds(vit_step, batch_size, dev, repeats)
    rows = [
        {"name": "vit_small_patch16 fwd+bwd", "batch": batch_size, "seconds": vit_s, "ratio": 1.0}
    ]
    for scale in scales:
        side = round(size * scale)
        secs = _seconds(crf_step(scale), batch_size, dev, repeats)
        rows.append(
            {
                "name": f"crf exact @ scale {scale} ({side}x{side}) fwd+bwd",
                "batch": batch_size,
                "seconds": secs,
                "ratio": secs / vit_s,
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Print ``run()`` as a rich table."""
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.25, 0.5])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    rows = run(args.batch_size, args.scales, args.size, args.repeats, args.device)
    table = Table(
        title=f"dense CRF loss vs ViT-S/16, {args.size}² input ({torch.get_num_threads()} threads)"
    )
    for col in ("name", "batch", "seconds", "ratio"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for row in rows:
        table.add_row(
            row["name"], str(row["batch"]), f"{row['seconds']:.3f}", f"{row['ratio']:.2f}"
        )
    Console().print(table)


if __name__ == "__main__":
    main()
