"""Pseudo-label cost, cache read speed and cache size.

    python benchmarks/bench_pseudo_labels.py                 # CPU, batch 2, ~1-2 minutes
    python benchmarks/bench_pseudo_labels.py --device cuda --batch 16

Rows (``ratio`` against ``target``):

- ``clip_es / visual fwd+bwd``: CLIP-ES time per frame over one forward + backward of the CLIP
  image tower (the class score backpropagated through every block to the input, weights frozen:
  what a GradCAM at the input costs), on the same batch; target ≤ 1.6. The CLIP has the real
  ViT-B/16 size (``ViT-B-16-quickgelu``) with random weights (nothing is downloaded).
- ``clip_es / visual forward``: the same over the forward alone (no autograd); target ≤ 1.5:
  CLIP-ES is one forward (without autograd up to the last block), the last block's backward,
  the attention of the last 8 blocks recomputed from their q/k, and the refinement.
The three are timed interleaved (CPU time of this process on a CPU, wall time on a GPU).
- ``regeneration / cache read``: CLIP-ES time per frame over reading one map from the cache
  (a fresh reader, frames in random order, float32 out); target ≥ 10.
- ``cache / float32 files``: bytes of the cache (uint8 shards + index) over one float32
  ``.npy`` file per frame at 224×224 (apparent sizes; the allocated-size ratio is shown too);
  target ≤ 0.25.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from wsvol.utils.timing import interleaved_seconds


def _clip_rows(batch: int, repeats: int, device: torch.device) -> tuple[list[dict], float]:
    """CLIP-ES against the image tower's forward+backward; returns rows and CLIP-ES s/frame."""
    from wsvol.pseudo_labels.clip_es import ClipES

    torch.manual_seed(0)
    source = ClipES(model_name="ViT-B-16-quickgelu").to(device)  # random init: no download
    x = torch.randn(batch, 3, *source.input_size, generator=torch.Generator().manual_seed(0)).to(device)
    labels = torch.arange(batch, device=device) % len(source.class_names)
    visual = source.model.visual

    def forward_backward() -> None:
        inp = x.clone().requires_grad_(True)
        feats = visual(inp)
        (grad,) = torch.autograd.grad(feats[:, 0].sum(), inp)

    def forward() -> None:
        with torch.no_grad():
            visual(x)

    secs = interleaved_seconds({"fb": forward_backward, "fwd": forward, "clip_es": lambda: source(x, labels)},
                               repeats, device)  # fmt: skip
    fb, fwd, clip_es = secs["fb"], secs["fwd"], secs["clip_es"]
    rows = [
        {"name": "clip_es / visual fwd+bwd", "ms_per_frame": 1e3 * clip_es / batch, "ratio": clip_es / fb,
         "target": 1.6, "better": "lower"},
        {"name": "clip_es / visual forward", "ms_per_frame": 1e3 * clip_es / batch, "ratio": clip_es / fwd,
         "target": 1.5, "better": "lower"},
    ]
    return rows, clip_es / batch


def _cache_rows(regen_s_per_frame: float, frames: int, size: int) -> list[dict]:
    """Cache read speed against regeneration, and cache size against float32 per-frame files."""
    from wsvol.data.pseudo_label_cache import PseudoLabelCache

    rng = np.random.default_rng(0)
    ids = [f"aeroplane/video-{i // 200:04d}/shot-{i // 20:06d}/frame_{i:06d}.jpg" for i in range(frames)]
    maps = rng.random((frames, size, size), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cache"
        cache = PseudoLabelCache.create(root, key="bench", frame_ids=ids, size=(size, size), shard_size=256)
        for k in range(cache.num_shards):
            rows = cache.shard_rows(k)
            cache.write_shard(k, maps[rows.start : rows.stop])
        reader = PseudoLabelCache.open(root, key="bench")
        order = rng.permutation(frames)
        start = time.perf_counter()
        for i in order:
            reader(ids[i])
        read = (time.perf_counter() - start) / frames
        ref = Path(tmp) / "float32"
        ref.mkdir()
        for i in range(frames):
            np.save(ref / f"{i:06d}.npy", maps[i])
        apparent, allocated = cache.nbytes_on_disk()
        ref_files = [p.stat() for p in ref.iterdir()]
        ref_apparent = sum(s.st_size for s in ref_files)
        ref_allocated = sum(s.st_blocks * 512 for s in ref_files)
    return [
        {"name": "regeneration / cache read", "ms_per_frame": 1e3 * read, "ratio": regen_s_per_frame / read,
         "target": 10.0, "better": "higher"},
        {"name": "cache / float32 files (bytes)", "ms_per_frame": None, "ratio": apparent / ref_apparent,
         "target": 0.25, "better": "lower"},
        {"name": "cache / float32 files (allocated)", "ms_per_frame": None,
         "ratio": allocated / max(ref_allocated, 1), "target": None, "better": "lower"},
    ]


def run(batch: int = 2, repeats: int = 2, frames: int = 1024, size: int = 224,
        device: str | None = None) -> list[dict]:
    """Rows {name, ms_per_frame, ratio, target, better} (target None: for information)."""
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    clip_rows, regen = _clip_rows(batch, repeats, dev)
    return clip_rows + _cache_rows(regen, frames, size)


def ok(row: dict) -> bool | None:
    """Whether a row meets its target (None without one)."""
    if row["target"] is None:
        return None
    return row["ratio"] <= row["target"] if row["better"] == "lower" else row["ratio"] >= row["target"]


def main(argv: Sequence[str] | None = None) -> None:
    """Print ``run()`` as a rich table."""
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--frames", type=int, default=1024, help="frames in the cache benchmark")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    rows = run(args.batch, args.repeats, args.frames, device=args.device)
    table = Table(title=f"pseudo-labels: CLIP-ES ViT-B/16 (random init), batch {args.batch}; cache of "
                        f"{args.frames} maps at 224² ({torch.get_num_threads()} threads)")
    for col in ("name", "ms/frame", "ratio", "target", "ok"):
        table.add_column(col, justify="left" if col == "name" else "right", no_wrap=True)
    for row in rows:
        target = "" if row["target"] is None else f"{'≤' if row['better'] == 'lower' else '≥'}{row['target']:g}"
        met = ok(row)
        ms = "" if row["ms_per_frame"] is None else f"{row['ms_per_frame']:.3g}"
        table.add_row(row["name"], ms, f"{row['ratio']:.3g}", target, "" if met is None else ("yes" if met else "NO"))
    Console().print(table)


if __name__ == "__main__":
    main()
