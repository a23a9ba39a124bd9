"""Time per frame of each CAM method next to a plain forward, a forward+backward of the same net,
and the same method in the libraries users would pick instead (torchcam, pytorch-grad-cam).

    python benchmarks/bench_cams.py                          # resnet18 (output stride 8), 112², CPU
    python benchmarks/bench_cams.py --backbone resnet50 --size 224 --device cuda

The network is the ``resnet50_cam`` classifier (output stride 8) built on ``--backbone``. The
forward runs under ``no_grad``; forward+backward backpropagates the predicted scores down to
every parameter. ``ratio`` is a row's time over its ``baseline`` (``forward`` for CAM, which
needs no backward; ``forward+backward`` for the gradient methods, which backpropagate only down
to the target layer), ``target`` the bound it should stay under: one pass for CAM and the
gradient methods, ``n + 1`` passes for Smooth-GradCAM++ (a clean forward and ``n`` noisy ones).

The library rows (``<method> / torchcam``, ``<method> / pytorch-grad-cam``) time wsvol's method
against the library's on the same network, batch and target layer, for the predicted class, each
giving maps at the input size: torchcam's maps (its own normalization, at the layer's size) are
upsampled bilinearly as a user would; pytorch-grad-cam's come upsampled and normalized (numpy).
Target ≤ 1: wsvol at least as fast. The libraries are not dependencies of wsvol: without them
these rows are skipped with a note (``pip install torchcam grad-cam``). pytorch-grad-cam has no
CAM and no Smooth-GradCAM++ (its smoothing is another method). Each library's hooks are on the
model only while its own call runs (``with`` the extractor, as both READMEs do), so no library
pays for another's hooks.

All timings of one batch size are interleaved (``rounds`` rounds, a new order each, after a warm-up):
CPU time of this process on a CPU, wall time on a GPU. A ratio is the median over the rounds of
the two times of one round, with a distribution-free 95 % interval (6 rounds or more); the
result is ``tie`` when the interval holds the target (the measurement cannot tell the sides
apart), else ``pass`` or ``miss``.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from wsvol.cams import build_cam
from wsvol.models.classifiers import ResNetCAM
from wsvol.utils.timing import interleaved_samples, paired_ratio, verdict

METHODS = ("cam", "gradcam", "gradcampp", "smooth_gradcampp", "xgradcam", "layercam")
SLACK = 1.2  # timing noise allowed over the ideal cost
#: wsvol method → (torchcam class, pytorch-grad-cam class); None where the library has none
LIBRARIES = {
    "cam": ("CAM", None),
    "gradcam": ("GradCAM", "GradCAM"),
    "gradcampp": ("GradCAMpp", "GradCAMPlusPlus"),
    "smooth_gradcampp": ("SmoothGradCAMpp", None),
    "xgradcam": ("XGradCAM", "XGradCAM"),
    "layercam": ("LayerCAM", "LayerCAM"),
}


def _torchcam_call(name: str, model: ResNetCAM, layer: str, x: torch.Tensor, smooth_n: int) -> Callable[[], torch.Tensor]:
    """torchcam's method as its README runs it (the extractor's hooks live for one inference),
    maps upsampled to the input."""
    from torchcam import methods

    cls = getattr(methods, LIBRARIES[name][0])
    kwargs = {"input_shape": tuple(x.shape[1:])}
    if name == "cam":
        kwargs["fc_layer"] = "head"
    elif name == "smooth_gradcampp":
        kwargs.update(num_samples=smooth_n, std=0.3)

    def call() -> torch.Tensor:
        with cls(model, layer, **kwargs) as extractor:
            with torch.set_grad_enabled(name != "cam"):
                scores = model(x)
            maps = extractor(scores.argmax(1).tolist(), scores)[0]
        model.zero_grad(set_to_none=True)  # torchcam backpropagates into the parameters
        return F.interpolate(maps[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]

    return call


def _grad_cam_call(name: str, model: ResNetCAM, layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], object]:
    """pytorch-grad-cam's method as its README runs it (hooks live for one inference)."""
    import pytorch_grad_cam

    cls = getattr(pytorch_grad_cam, LIBRARIES[name][1])

    def call():
        with cls(model=model, target_layers=[layer]) as cam:
            maps = cam(input_tensor=x, targets=None)
        model.zero_grad(set_to_none=True)
        return maps

    return call


def _rows(model: ResNetCAM, batch: int, size: int, rounds: int, smooth_n: int, dev: torch.device,
          libraries: Sequence[str]) -> list[dict]:
    """The rows of one batch size."""
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0)).to(dev)
    layer = model.default_target_layer()

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        logits = model(x)
        logits.gather(1, logits.argmax(1, keepdim=True)).sum().backward()

    calls: dict[str, Callable[[], object]] = {"forward": forward, "forward+backward": forward_backward}
    for name in METHODS:
        cam = build_cam(dict(type=name, **({"n": smooth_n} if name == "smooth_gradcampp" else {})), model, layer)
        calls[name] = lambda cam=cam: cam(x)
    for name in METHODS:
        torchcam_name, grad_cam_name = LIBRARIES[name]
        if "torchcam" in libraries and torchcam_name:
            calls[f"{name}@torchcam"] = _torchcam_call(name, model, layer, x, smooth_n)
        if "pytorch-grad-cam" in libraries and grad_cam_name:
            calls[f"{name}@pytorch-grad-cam"] = _grad_cam_call(name, model, model.get_submodule(layer), x)
    times = interleaved_samples(calls, rounds, dev)
    model.zero_grad(set_to_none=True)

    def row(name: str, key: str, baseline: str, target: float | None) -> dict:
        ratio, low, high = paired_ratio(times[key], times[baseline])
        s = statistics.median(times[key])
        return {"name": name, "batch": batch, "seconds": s / batch, "ms_per_frame": 1e3 * s / batch,
                "vs_forward": paired_ratio(times[key], times["forward"])[0],
                "vs_forward_backward": paired_ratio(times[key], times["forward+backward"])[0],
                "baseline": baseline, "ratio": ratio, "interval": [low, high], "target": target}

    rows = [row(name, name, "forward", None) for name in ("forward", "forward+backward")]
    for name in METHODS:
        passes = smooth_n + 1 if name == "smooth_gradcampp" else 1
        rows.append(row(name, name, "forward" if name == "cam" else "forward+backward", SLACK * passes))
        for library in ("torchcam", "pytorch-grad-cam"):
            if f"{name}@{library}" in times:
                rows.append(row(f"{name} / {library}", name, f"{name}@{library}", 1.0))
    return rows


def available_libraries() -> tuple[list[str], list[str]]:
    """(installed reference libraries, notes on the missing ones)."""
    found, notes = [], []
    for library, module in (("torchcam", "torchcam"), ("pytorch-grad-cam", "pytorch_grad_cam")):
        if importlib.util.find_spec(module) is None:
            notes.append(f"{library} is not installed: its rows are skipped (pip install "
                         f"{'torchcam' if library == 'torchcam' else 'grad-cam'}; not a wsvol dependency)")
        else:
            found.append(library)
    return found, notes


def run(backbone: str = "resnet18", size: int = 112, batches: Sequence[int] = (1, 16),
        rounds: Sequence[int] = (30, 9), smooth_n: int = 4, device: str | None = None) -> list[dict]:
    """Rows {name, batch, ms_per_frame, vs_forward, vs_forward_backward, baseline, ratio, interval,
    target}; plus one ``note`` row per missing reference library."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = ResNetCAM(backbone, num_classes=10).eval().to(dev)
    libraries, notes = available_libraries()
    rows = [row for batch, n in zip(batches, rounds)
            for row in _rows(model, batch, size, n, smooth_n, dev, libraries)]
    return rows + [{"name": "reference library missing", "note": note} for note in notes]


def main(argv: Sequence[str] | None = None) -> None:
    """Print ``run()`` as a rich table."""
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--rounds", type=int, nargs="+", default=[30, 9],
                        help="interleaved rounds per batch size (6 or more give a 95%% interval, "
                             "9 or more one that leaves out the slowest and fastest round)")
    parser.add_argument("--smooth-n", type=int, default=4)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    if len(args.rounds) != len(args.batches):
        parser.error(f"--rounds needs one value per batch size ({len(args.batches)}), got {args.rounds}")
    rows = run(args.backbone, args.size, args.batches, args.rounds, args.smooth_n, args.device)
    table = Table(title=f"CAM methods vs {args.backbone} (output stride 8), {args.size}² input "
                        f"({torch.get_num_threads()} threads)")
    for col in ("name", "batch", "ms/frame", "÷fwd", "÷fwd+bwd", "ratio", "95% interval", "target", "result"):
        table.add_column(col, justify="left" if col == "name" else "right", no_wrap=True)
    for row in rows:
        if "note" in row:
            Console().print(f"note: {row['note']}")
            continue
        target = row["target"]
        base = {"forward": "fwd", "forward+backward": "f+b"}.get(row["baseline"], row["baseline"].split("@")[-1])
        bound = "" if target is None else f"≤{target:.1f} {base}"
        table.add_row(row["name"], str(row["batch"]), f"{row['ms_per_frame']:.1f}", f"{row['vs_forward']:.2f}",
                      f"{row['vs_forward_backward']:.2f}", f"{row['ratio']:.3g}",
                      "–".join(f"{v:.3g}" for v in row["interval"]), bound,
                      verdict(row["ratio"], target, "lower", row["interval"]))
    Console().print(table)


if __name__ == "__main__":
    main()
