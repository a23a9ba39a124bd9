"""Real-time localization: ``wsvol predict`` end to end, and exported models next to torch eager.

    python benchmarks/bench_predict.py                     # both models, CPU (a few minutes)
    python benchmarks/bench_predict.py --only synthetic --device cuda

Two random-init TrCAM-V models (timings do not depend on the weights):

- ``synthetic``: the model of ``configs/trcamv_synthetic.yaml`` (hybrid ViT-Ti, 96² input) on a
  160×120 video of synthetic frames: the paper's real-time claim at CPU size;
- ``vit_s16``: the reference model, DINO ViT-S/16 at 224², on a 320×240 video.

Per model, on the same preprocessed frames (batch ``--batch-size``): frames/s of ``localize``
in torch eager, of the exported ONNX in onnxruntime (CPU, as many threads as torch) and of the
TorchScript trace, and their time ratios to torch eager; then ``predict_video`` end to end
(decode → pipeline → network → map → box at τ → overlay → mp4 encode) in frames/s and as a
time ratio to torch eager's network time, and on a CPU with the ONNX file in onnxruntime
(``wsvol predict FILE.onnx``) as a time ratio to the checkpoint's. Each timing is the best of
``--repeats`` after a warm-up. The synthetic model's end-to-end rate has the issue's goal, ≥ 25 frames/s (2 cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from wsvol.utils.timing import interleaved_clocks

CONFIG = Path(__file__).parents[1] / "configs" / "trcamv_synthetic.yaml"
EVAL_PIPELINE_224 = [{"type": "resize", "size": [224, 224]}, {"type": "normalize"}, {"type": "pack_inputs"}]
#: model → (video size (w, h), frames in the video)
VIDEOS = {"synthetic": ((160, 120), 120), "vit_s16": ((320, 240), 48)}
TARGET_FPS = {"synthetic": 25.0}


def _trained(name: str, device: str):
    """A random-init ``Trained`` (model, config, classes) for ``name``."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from wsvol.config import load_config
    from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
    from wsvol.engine.predict import Trained, _quietly
    from wsvol.plugin_manager import register_all
    from wsvol.registry import MODELS

    register_all()
    if DefaultScope.get_current_instance() is None:
        DefaultScope.get_instance("wsvol-bench-predict", scope_name="wsvol")
    if name == "synthetic":
        cfg = load_config(CONFIG)
        cfg.model.backbone.pretrained = None
    else:
        cfg = Config({"model": {"type": "trcamv", "num_classes": 10},  # frozen DINO ViT-S/16 (random init)
                      "test_dataloader": {"dataset": {"pipeline": EVAL_PIPELINE_224}}})
    torch.manual_seed(0)
    model = _quietly(MODELS.build, cfg.model.to_dict()).to(device).eval()
    return Trained(model, cfg, list(YOUTUBE_OBJECTS_CLASSES), 0.5, "benchmark", Path(f"{name}.pth"), device)


def _write_video(path: Path, size: tuple[int, int], n: int) -> None:
    """``n`` synthetic frames (one shot of a rendered video, played back and forth) as an mp4."""
    from wsvol.data.synthetic import render_video
    from wsvol.visualization.mp4 import Mp4Writer

    shot = [rgb for rgb, _ in render_video("car", np.random.default_rng(0), *size, shots=1, frames=12)[0]]
    loop = shot + shot[-2:0:-1]
    with Mp4Writer(path, fps=25) as writer:
        for i in range(n):
            writer.write(loop[i % len(loop)])


def _best(calls: dict[str, Callable[[], object]], repeats: int, device: torch.device) -> dict[str, tuple[float, float]]:
    """Best (wall, CPU) seconds of each call over ``repeats`` interleaved rounds after a warm-up."""
    return {name: (min(wall for wall, _ in pairs), min(cpu for _, cpu in pairs))
            for name, pairs in interleaved_clocks(calls, repeats, device).items()}


def _model_rows(name: str, batch_size: int, repeats: int, device: str, tmp: Path) -> list[dict]:
    from wsvol.data.video import read_frames
    from wsvol.engine.export import Localizer, write_onnx, write_torchscript
    from wsvol.engine.predict import OnnxLocalizer, Trained, predict_video, prepare_frame

    trained = _trained(name, device)
    size, n = VIDEOS[name]
    video = tmp / f"{name}.mp4"
    _write_video(video, size, n)
    pipeline = trained.pipeline()
    rgbs = [rgb for _, rgb in read_frames(video, max_frames=batch_size)]
    x = torch.stack([prepare_frame(pipeline, rgb)["inputs"] for rgb in rgbs]).float()
    dev = torch.device(device)
    xd = x.to(dev)
    # the exports are made on the CPU (as wsvol export does), from a model with the same weights
    cpu_model = Localizer(_trained(name, "cpu").model).eval().requires_grad_(False)
    calls: dict[str, Callable[[], object]] = {"torch eager": lambda: trained.model.localize(xd)}
    onnx_model = None  # what `wsvol predict FILE.onnx` runs: onnxruntime on the CPU
    try:
        import onnxruntime

        write_onnx(cpu_model, x[:2], tmp / f"{name}.onnx")
        if dev.type == "cuda":
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            session = onnxruntime.InferenceSession(str(tmp / f"{name}.onnx"), options,
                                                   providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        else:
            onnx_model = OnnxLocalizer(tmp / f"{name}.onnx")
            session = onnx_model.session
        provider = session.get_providers()[0].removesuffix("ExecutionProvider")
        frames = x.numpy()
        calls[f"onnxruntime ({provider})"] = lambda: session.run(None, {"frames": frames})
    except ImportError:  # onnx, onnxscript or onnxruntime missing: pip install 'wsvol[export]'
        pass
    write_torchscript(cpu_model, x[:2], tmp / f"{name}.torchscript.pt")
    scripted = torch.jit.load(str(tmp / f"{name}.torchscript.pt"), map_location=dev)
    calls["torchscript"] = lambda: scripted(xd)
    with torch.no_grad():
        timed = _best(calls, repeats, dev)
    per_frame = {k: wall / len(x) for k, (wall, _) in timed.items()}
    eager, eager_cpu = per_frame["torch eager"], timed["torch eager"][1] / len(x)
    rows = []
    for engine, t in per_frame.items():
        rows.append({"name": f"{name}: {engine} frames/s", "seconds": t, "ratio": 1 / t, "target": None,
                     "better": "higher"})  # fmt: skip
        if engine != "torch eager":
            rows.append({"name": f"{name}: {engine} / torch eager (time per frame)", "seconds": t,
                         "ratio": t / eager, "target": None})  # fmt: skip

    def end_to_end(model: Trained = trained) -> None:
        predict_video(model, video, tmp / f"{name}-out", batch_size=batch_size, progress=False)

    runs: dict[str, Callable[[], object]] = {"e2e": end_to_end}
    if onnx_model is not None:
        onnx_trained = dataclasses.replace(trained, model=onnx_model)
        runs["e2e onnx"] = lambda: end_to_end(onnx_trained)
    timed = _best(runs, repeats, dev)
    wall, cpu = timed["e2e"]
    label = f"{size[0]}x{size[1]} video, batch {batch_size}"
    rows.append({"name": f"{name}: predict end to end frames/s ({label})", "seconds": wall / n,
                 "ratio": n / wall, "target": TARGET_FPS.get(name), "better": "higher"})  # fmt: skip
    rows.append({"name": f"{name}: predict end to end frames per CPU second ({label})", "seconds": cpu / n,
                 "ratio": n / cpu, "target": None, "better": "higher"})  # fmt: skip
    rows.append({"name": f"{name}: predict end to end / torch eager network (time per frame)", "seconds": wall / n,
                 "ratio": wall / n / eager, "target": None})  # fmt: skip
    rows.append({"name": f"{name}: predict end to end / torch eager network (CPU time per frame)",
                 "seconds": cpu / n, "ratio": cpu / n / eager_cpu, "target": None})  # fmt: skip
    if "e2e onnx" in timed:
        rows.append({"name": f"{name}: predict end to end, ONNX file / checkpoint (time per frame)",
                     "seconds": timed["e2e onnx"][0] / n, "ratio": timed["e2e onnx"][0] / wall, "target": None})
    return rows


def run(batch_size: int = 16, repeats: int = 2, device: str | None = None,
        only: Sequence[str] = ("synthetic", "vit_s16")) -> list[dict]:
    """Rows {name, seconds (per frame), ratio, target, better}: frames/s rows are "higher is better"."""
    import warnings

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    rows = []
    with tempfile.TemporaryDirectory(prefix="wsvol-bench-predict-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation, tracer warnings
        for name in only:
            rows += _model_rows(name, batch_size, repeats, device, Path(tmp))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Print ``run()`` as a rich table."""
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--only", nargs="+", choices=list(VIDEOS), default=list(VIDEOS))
    args = parser.parse_args(argv)
    rows = run(args.batch_size, args.repeats, args.device, args.only)
    table = Table(title=f"predict and export, batch {args.batch_size} ({torch.get_num_threads()} threads)")
    for col in ("name", "ms / frame", "value", "target", "ok"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for row in rows:
        target, higher = row["target"], row.get("better") == "higher"
        ok = "" if target is None else ("yes" if (row["ratio"] >= target if higher else row["ratio"] <= target) else "NO")
        table.add_row(row["name"], f"{1e3 * row['seconds']:.2f}", f"{row['ratio']:.3g}",
                      "" if target is None else ("≥ " if higher else "≤ ") + f"{target:g}", ok)  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
