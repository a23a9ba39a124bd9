"""Data loading with 1 vs 2 worker processes, and against the training step it feeds: the synthetic
training loader of the shipped configs.

    python benchmarks/bench_workers.py [--frames 640] [--data data/synthetic-small]

The loader is ``configs/_base_/datasets/synthetic_small.yaml``'s ``train_dataloader`` (JPEG
decode, resize, random crop, flip, normalize, pack, collate; batch 32), built through the same
runner code as training, over the training split of the ``small`` synthetic set (generated into
a temporary folder unless ``--data`` names one). Each setting reads the same ``--frames`` frames
after a warm-up batch (worker start-up excluded) and keeps the best of ``--repeats``. The ratio is
the 2-worker time over the 1-worker time: at most 0.75 (2 workers at least 1.33x as fast) is the
target on a machine with 2 free cores; a busy machine shows less.

``loader / training step``: the time a batch takes to arrive with the config's workers (1) over
the time of one training step of ``configs/trcamv_synthetic.yaml``'s model on a batch of the
same shape (its hybrid ViT-Ti at 96², AdamW, random pseudo-label maps; wall time, best of
``--repeats``); at most 1: the loader keeps up with the step it feeds.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

CONFIG = Path(__file__).parents[1] / "configs" / "_base_" / "datasets" / "synthetic_small.yaml"


def _loader_seconds(loader_cfg: dict, workers: int, batches: int) -> float:
    """Seconds to draw ``batches`` batches after the first one (which starts the workers)."""
    from wsvol.engine.runner import WsvolRunner

    cfg = {**copy.deepcopy(loader_cfg), "num_workers": workers, "persistent_workers": workers > 0}
    loader = WsvolRunner.build_dataloader(cfg, seed=0)
    it = iter(loader)
    next(it)
    start = time.perf_counter()
    for _ in itertools.islice(it, batches):
        pass
    seconds = time.perf_counter() - start
    del it, loader
    return seconds


def run(frames: int = 640, data: str | None = None, repeats: int = 2) -> list[dict]:
    """Rows {name, seconds, ratio, target}: 0, 1 and 2 workers; the 2-vs-1 ratio has the target."""
    from mmengine.registry import DefaultScope

    from wsvol.config import load_config
    from wsvol.data.synthetic import generate_synthetic
    from wsvol.plugin_manager import register_all

    register_all()  # the loader's components are built by name, in wsvol's registry scope
    if DefaultScope.get_current_instance() is None:
        DefaultScope.get_instance("wsvol-bench-workers", scope_name="wsvol")
    with tempfile.TemporaryDirectory(prefix="wsvol-bench-") as tmp:
        root = Path(data) if data else Path(tmp) / "synthetic-small"
        generate_synthetic(root, size="small", progress=False)
        loader_cfg = load_config(CONFIG).train_dataloader.to_dict()
        loader_cfg["dataset"].update(data_root=str(root), folds_root=str(root / "folds"))
        batches = max(1, frames // loader_cfg["batch_size"])
        seconds = {w: min(_loader_seconds(loader_cfg, w, batches) for _ in range(repeats)) for w in (0, 1, 2)}
    n = batches * loader_cfg["batch_size"]
    step = _step_seconds(loader_cfg["batch_size"], repeats)
    workers = loader_cfg.get("num_workers", 1)
    return [
        {"name": f"1 worker ({n} frames)", "seconds": seconds[1], "ratio": 1.0, "target": None},
        {"name": "0 workers (in the main process) / 1 worker", "seconds": seconds[0],
         "ratio": seconds[0] / seconds[1], "target": None},
        {"name": "2 workers / 1 worker", "seconds": seconds[2], "ratio": seconds[2] / seconds[1], "target": 0.75},
        {"name": f"loader ({workers} worker) / training step, per batch", "seconds": seconds[workers] / batches,
         "ratio": seconds[workers] / batches / step, "target": 1.0},
    ]  # fmt: skip


def _step_seconds(batch: int, repeats: int) -> float:
    """Wall time of one training step of ``configs/trcamv_synthetic.yaml``'s model on ``batch``
    frames of the loader's shape, with the config's optimizer (best of ``repeats``, after one)."""
    import torch
    import torch.nn.functional as F
    from mmengine.optim import build_optim_wrapper

    from wsvol.config import load_config
    from wsvol.registry import MODELS

    cfg = load_config(Path(__file__).parents[1] / "configs" / "trcamv_synthetic.yaml")
    torch.manual_seed(0)
    model = MODELS.build(cfg.model.to_dict()).train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper.to_dict())
    size = 96  # the loader's random crop
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=g)
    maps = F.interpolate(torch.rand(batch, 1, 6, 6, generator=g), size=(size, size), mode="bilinear")[:, 0]
    data = {"inputs": x, "data_samples": [{"gt_label": i % 10, "pseudo_map": maps[i], "frame_id": str(i)}
                                          for i in range(batch)]}  # fmt: skip
    model.train_step(data, wrapper)
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        model.train_step(data, wrapper)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: Sequence[str] | None = None) -> None:
    """Print ``run()`` as a rich table."""
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=640)
    parser.add_argument("--data", help="an existing synthetic 'small' dataset (default: generate one)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    table = Table(title="data loading: 1 vs 2 workers")
    for col in ("measure", "seconds", "ratio", "target"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    for r in run(args.frames, args.data, args.repeats):
        table.add_row(r["name"], f"{r['seconds']:.3f}", f"{r['ratio']:.3g}", "" if r["target"] is None else f"≤ {r['target']}")
    Console().print(table)


if __name__ == "__main__":
    main()
