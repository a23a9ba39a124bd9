"""Where a TrCAM-V training step and a TrCAM-V inference go: network vs sampling vs each loss.

    python benchmarks/bench_trcamv.py                    # ViT-S/16, 224², batch 8, CPU (~1-2 min)
    python benchmarks/bench_trcamv.py --batch-size 32 --device cuda

Random-init DINO ViT-S/16 (frozen, as in the reference), the paper's full loss (PCE + size
barrier + CRF, the default: O(N) grid at full resolution), synthetic frames (the CRF's cost depends
on their colours), smooth random pseudo-label maps. Each
measurement follows a warm-up at batch 1 and keeps the best of ``--repeats``. Training parts
(each forward + backward): the backbone (no_grad, frozen) + decoder; the pixel sampler; each
loss on the decoder's logits. Their shares are of the whole ``train_step`` (with the SGD
update); sampling + all losses are also given over the network's forward + backward. The exact
dense CRF at each ``--crf-dense-scales`` value is timed alone and its share taken of the step with
it in place of the default one (estimated, not re-run). Inference per frame: class
+ map (``predict``) + the box at τ (``wsvol.evaluation.maps``: the map resized to 224²,
quantized, its largest contour's box), against the network forward alone (``tensor`` mode).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES as CLASSES
from wsvol.data.synthetic import render_video
from wsvol.evaluation.corloc import box_at_threshold
from wsvol.evaluation.maps import prepare_map
from wsvol.losses import DenseCRFLoss
from wsvol.models.trcamv import TrCAMV
from wsvol.utils.timing import best_seconds

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # DINO ViT-S/16's


def _seconds(step: Callable[[int], object], batch_size: int, device: torch.device, repeats: int) -> float:
    """Best time of ``step(batch_size)`` after a warm-up ``step(1)``."""
    return best_seconds(lambda: step(batch_size), repeats, device, warmup=lambda: step(1))


def _batch(b: int, size: int, device: torch.device) -> tuple[torch.Tensor, list[dict]]:
    """Synthetic frames, normalized as the pipelines do, and smooth random pseudo-label maps in
    [0, 1]. (The CRF's cost depends on the frames' colours: random normalized noise, whose
    colours fill the RGB cube, is its worst case, timed in ``bench_crf``.)"""
    g = torch.Generator().manual_seed(b)
    rgb = [render_video(CLASSES[i % 10], np.random.default_rng(i), size, size, 1, 1)[0][0][0]
           for i in range(b)]  # fmt: skip
    x = torch.from_numpy(np.stack(rgb)).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    blobs = F.interpolate(torch.rand(b, 1, 7, 7, generator=g), size=(size, size), mode="bicubic")[:, 0]
    lo, hi = blobs.amin((1, 2), keepdim=True), blobs.amax((1, 2), keepdim=True)
    maps = ((blobs - lo) / (hi - lo)).clamp(0, 1)
    samples = [{"frame_id": f"frame_{i}", "gt_label": i % 10, "pseudo_map": maps[i].to(device)} for i in range(b)]
    return x.to(device), samples


def run(
    batch_size: int = 8,
    size: int = 224,
    crf_dense_scales: Sequence[float] = (0.5,),
    tau: float = 0.5,
    repeats: int = 3,
    device: str | None = None,
) -> list[dict]:
    """Rows {name, seconds, ratio, target}: ratio ≤ target is the goal (target None: information)."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(0)
    model = TrCAMV(
        backbone=dict(img_size=size),
        num_classes=10,
        losses=dict(size=dict(loss_weight=0.01), crf=dict(loss_weight=2e-9)),
    ).to(dev)
    data = {b: _batch(b, size, dev) for b in (1, batch_size)}
    maps = {b: torch.stack([s["pseudo_map"] for s in samples]) for b, (_, samples) in data.items()}
    wrapper = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3,
                                           momentum=0.9, nesterov=True, weight_decay=1e-4))  # fmt: skip

    # -- training ----------------------------------------------------------------------------
    model.train()

    def train_step(b: int) -> None:
        x, samples = data[b]
        model.train_step({"inputs": x, "data_samples": samples}, wrapper)

    def network(b: int) -> None:
        model.zero_grad(set_to_none=True)
        logits = model.loc_head(model.extract(data[b][0])["attn"])
        logits.float().mean().backward()

    def sampling(b: int) -> None:
        model.sample_seeds(maps[b])

    with torch.no_grad():
        logits = {b: model.loc_head(model.extract(x)["attn"]).float() for b, (x, _) in data.items()}
    args = {b: {"maps": maps[b], "seeds": model.sample_seeds(maps[b]), "images": model.to_rgb(x)}
            for b, (x, _) in data.items()}  # fmt: skip

    def loss_step(name: str, loss: torch.nn.Module | None = None) -> Callable[[int], None]:
        loss, needs = loss or model.losses[name], model.loss_inputs[name]

        def step(b: int) -> None:
            given = {"logits": logits[b].detach().requires_grad_(), **args[b]}
            loss(**{k: given[k] for k in needs}).backward()

        return step

    step_s = _seconds(train_step, batch_size, dev, repeats)
    parts = {"backbone + decoder fwd/bwd": _seconds(network, batch_size, dev, repeats),
             "pixel sampling": _seconds(sampling, batch_size, dev, repeats)}  # fmt: skip
    for name in model.losses:
        parts[f"loss {name} fwd/bwd"] = _seconds(loss_step(name), batch_size, dev, repeats)

    rows = [{"name": f"train_step (batch {batch_size})", "seconds": step_s, "ratio": 1.0, "target": None}]
    rows += [{"name": n, "seconds": s, "ratio": s / step_s, "target": None} for n, s in parts.items()]
    overhead = sum(s for n, s in parts.items() if not n.startswith("backbone"))
    net_s = parts["backbone + decoder fwd/bwd"]
    rows.append({"name": "sampling + all losses / step", "seconds": overhead, "ratio": overhead / step_s,
                 "target": 0.15})  # fmt: skip
    rows.append({"name": "sampling + all losses / network fwd+bwd", "seconds": overhead,
                 "ratio": overhead / net_s, "target": 0.15})  # fmt: skip
    crf = parts["loss crf fwd/bwd"]
    rows.append({"name": "crf (grid, scale 1.0) / step", "seconds": crf, "ratio": crf / step_s,
                 "target": 0.20})  # fmt: skip
    for scale in crf_dense_scales:  # for comparison: the step with the exact CRF in place of the grid
        other = _seconds(loss_step("crf", DenseCRFLoss(scale=scale, method="dense")), batch_size, dev, repeats)  # fmt: skip
        est = step_s - crf + other
        rows.append({"name": f"crf (exact, scale {scale}) / step (step estimated)", "seconds": other,
                     "ratio": other / est, "target": None})  # fmt: skip
        rows.append({"name": f"sampling + all losses / network, exact crf scale {scale} (estimated)",
                     "seconds": overhead - crf + other, "ratio": (overhead - crf + other) / net_s,
                     "target": None})  # fmt: skip

    # -- inference ---------------------------------------------------------------------------
    model.eval()

    def forward(b: int) -> None:
        with torch.no_grad():
            model(data[b][0], mode="tensor")

    def infer(b: int) -> None:
        x, samples = data[b]
        for frame in model.predict(x, samples):
            box_at_threshold(prepare_map(frame["cam"].numpy()), tau)

    fwd = _seconds(forward, batch_size, dev, repeats) / batch_size
    inf = _seconds(infer, batch_size, dev, repeats) / batch_size
    rows.append({"name": "network forward / frame", "seconds": fwd, "ratio": 1.0, "target": None})
    rows.append({"name": "inference (cls + map + box) / frame vs forward", "seconds": inf,
                 "ratio": inf / fwd, "target": 1.2})  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Print ``run()`` as a rich table."""
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--crf-dense-scales", type=float, nargs="*", default=[0.5],
                        help="scales of the exact dense CRF, timed alone for comparison")
    parser.add_argument("--tau", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    rows = run(args.batch_size, args.size, args.crf_dense_scales, args.tau, args.repeats, args.device)
    dev = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    table = Table(title=f"TrCAM-V, ViT-S/16 at {args.size}², batch {args.batch_size}, {dev} "
                        f"({torch.get_num_threads()} threads)")  # fmt: skip
    for col in ("name", "seconds", "ratio", "target", "ok"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for row in rows:
        target = row["target"]
        ok = "" if target is None else ("yes" if row["ratio"] <= target else "NO")
        table.add_row(row["name"], f"{row['seconds']:.3f}", f"{row['ratio']:.3f}",
                      "" if target is None else f"≤ {target}", ok)  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
