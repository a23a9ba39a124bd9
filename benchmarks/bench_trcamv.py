"""Where a TrCAM-V training step and a TrCAM-V inference go: the network, the pseudo-maps' trip
to the device, the pixel sampler, each loss, the optimizer update.

    python benchmarks/bench_trcamv.py                    # ViT-S/16, 224², batch 8, CPU (~2 min)
    python benchmarks/bench_trcamv.py --batch-size 32 --device cuda

Random-init DINO ViT-S/16 (frozen, as in the reference), the paper's full loss (PCE + size
barrier + CRF, the default: O(N) grid at full resolution), synthetic frames (the CRF's cost
depends on their colours), smooth random pseudo-label maps handed over on the host, as the loader
gives them. The step and its parts are timed interleaved (round-robin, best of ``--repeats`` after a
warm-up; CPU time of this process on a CPU, wall time on a GPU): the whole ``train_step``; the
network (frozen backbone under no_grad + decoder, forward and backward); the pseudo-maps stacked,
checked and moved to the device; the pixel sampler; each loss's forward + backward on the
decoder's logits; the optimizer update. The parts must add up to the step (the row
``|parts - step| / step``; what is left is mmengine's bookkeeping). The goal is stated over the
network: sampling and all losses (the maps' transfer included) at most 0.15 of the network's
forward + backward. Inference per frame: class + map (``predict``) + the box at τ (the map
resized to 224², quantized, its largest contour's box) against the network forward alone. The
exact dense CRF at each ``--crf-dense-scales`` value is timed in the same round-robin, for
comparison only (it is not part of the step).
Rows marked ``gpu`` also go to the GPU table of ``python -m benchmarks`` when CUDA is present.
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
from wsvol.models.trcamv import TrCAMV, _pseudo_maps
from wsvol.utils.timing import interleaved_seconds

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # DINO ViT-S/16's
#: per-frame inference time that TCAM (Belharbi et al., WACV 2023) reports on its GPU
TCAM_MS_PER_FRAME = 18.5


def _batch(b: int, size: int, device: torch.device) -> tuple[torch.Tensor, list[dict]]:
    """Synthetic frames normalized as the pipelines do (on the device), and smooth random
    pseudo-label maps in [0, 1] (on the host, as the data loader hands them over). (The CRF's cost
    depends on the frames' colours: random noise, whose colours fill the RGB cube, is its worst
    case, timed in ``bench_crf``.)"""
    g = torch.Generator().manual_seed(b)
    rgb = [render_video(CLASSES[i % 10], np.random.default_rng(i), size, size, 1, 1)[0][0][0]
           for i in range(b)]  # fmt: skip
    x = torch.from_numpy(np.stack(rgb)).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    blobs = F.interpolate(torch.rand(b, 1, 7, 7, generator=g), size=(size, size), mode="bicubic")[:, 0]
    lo, hi = blobs.amin((1, 2), keepdim=True), blobs.amax((1, 2), keepdim=True)
    maps = ((blobs - lo) / (hi - lo)).clamp(0, 1)
    samples = [{"frame_id": f"frame_{i}", "gt_label": i % 10, "pseudo_map": maps[i]} for i in range(b)]
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
    x, samples = _batch(batch_size, size, dev)
    maps = _pseudo_maps(samples, x)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3,
                                momentum=0.9, nesterov=True, weight_decay=1e-4)  # fmt: skip
    wrapper = OptimWrapper(optimizer)

    # -- training ----------------------------------------------------------------------------
    model.train()
    with torch.no_grad():
        logits = model.loc_head(model.extract(x)["attn"]).float()
    args = {"maps": maps, "seeds": model.sample_seeds(maps), "images": model.to_rgb(x)}

    def network() -> None:
        model.zero_grad(set_to_none=True)
        model.loc_head(model.extract(x)["attn"]).float().mean().backward()

    def loss_step(name: str, loss: torch.nn.Module | None = None) -> Callable[[], None]:
        loss, needs = loss or model.losses[name], model.loss_inputs[name]

        def step() -> None:
            given = {"logits": logits.detach().requires_grad_(), **args}
            loss(**{k: given[k] for k in needs}).backward()

        return step

    def update() -> None:  # after network(): its gradients are there
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    calls: dict[str, Callable[[], object]] = {
        "train_step": lambda: model.train_step({"inputs": x, "data_samples": samples}, wrapper),
        "network (backbone + decoder) fwd/bwd": network,
        "pseudo-maps to the device": lambda: _pseudo_maps(samples, x),
        "pixel sampling": lambda: model.sample_seeds(maps),
        **{f"loss {name} fwd/bwd": loss_step(name) for name in model.losses},
        "optimizer update": update,
    }
    dense = {f"crf (exact, scale {scale})": loss_step("crf", DenseCRFLoss(scale=scale, method="dense"))
             for scale in crf_dense_scales}  # for comparison only: not a part of the step
    secs = interleaved_seconds({**calls, **dense}, repeats, dev)
    exact = {name: secs.pop(name) for name in dense}
    step_s, net_s = secs.pop("train_step"), secs["network (backbone + decoder) fwd/bwd"]
    rows = [{"name": f"train_step (batch {batch_size})", "seconds": step_s, "ratio": step_s / net_s,
             "target": None, "gpu": True}]  # fmt: skip
    rows.append({"name": "network fwd/bwd (the reference)", "seconds": net_s, "ratio": 1.0, "target": None})
    for name, s in secs.items():
        if name.startswith("network"):
            continue
        rows.append({"name": f"{name} / network", "seconds": s, "ratio": s / net_s, "target": None,
                     "gpu": name.startswith(("loss crf", "pixel"))})  # fmt: skip
    parts = sum(secs.values())
    rows.append({"name": "|parts - step| / step", "seconds": parts, "ratio": abs(parts - step_s) / step_s,
                 "target": 0.15})  # fmt: skip
    overhead = sum(s for name, s in secs.items() if name.startswith(("pseudo", "pixel", "loss")))
    rows.append({"name": "sampling + all losses / network", "seconds": overhead, "ratio": overhead / net_s,
                 "target": 0.15})  # fmt: skip
    crf = secs["loss crf fwd/bwd"]
    rows.append({"name": "sampling + all losses but the crf / network", "seconds": overhead - crf,
                 "ratio": (overhead - crf) / net_s, "target": 0.15})  # fmt: skip
    rows.append({"name": "crf (grid, scale 1.0) / step", "seconds": crf, "ratio": crf / step_s, "target": 0.20})
    for name, other in exact.items():  # the step and the overhead with the exact CRF in place of the grid
        rows.append({"name": f"{name} / step (step estimated)", "seconds": other,
                     "ratio": other / (step_s - crf + other), "target": None})  # fmt: skip
        rows.append({"name": f"sampling + all losses / network, {name} (estimated)", "seconds": overhead - crf + other,
                     "ratio": (overhead - crf + other) / net_s, "target": None})  # fmt: skip

    # -- inference ---------------------------------------------------------------------------
    model.eval()

    def forward() -> None:
        with torch.no_grad():
            model(x, mode="tensor")

    def infer() -> None:
        for frame in model.predict(x, samples):
            box_at_threshold(prepare_map(frame["cam"].numpy(), normalization=frame["map_normalization"]), tau)

    inference = interleaved_seconds({"forward": forward, "infer": infer}, repeats, dev)
    fwd, inf = inference["forward"] / batch_size, inference["infer"] / batch_size
    rows.append({"name": "network forward / frame", "seconds": fwd, "ratio": 1.0, "target": None, "gpu": True})
    rows.append({"name": "inference (cls + map + box) / frame vs forward", "seconds": inf,
                 "ratio": inf / fwd, "target": 1.2, "gpu": True, "tcam_ms": TCAM_MS_PER_FRAME})  # fmt: skip
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Print ``run()`` as a rich table."""
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--crf-dense-scales", type=float, nargs="*", default=[0.5],
                        help="scales of the exact CRF timed for comparison")
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
