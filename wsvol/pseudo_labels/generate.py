"""``wsvol pseudo-labels``: a source's maps for every frame of the splits, computed once and cached.

Top-down: read the ``pseudo_labels`` section → resolve weights (before any work) → key the cache
by the source's config and the content of its weights files → create or resume each split's cache
(a changed source is refused unless ``overwrite``) → compute the missing shards with the source's
own preprocessing (resize to its input size, its mean/std, no augmentation), batched → judge the
maps: CorLoc of the pseudo-labels themselves on the splits with boxes.

Under ``torchrun`` each rank computes the shards ``k % world_size == rank`` and writes them
itself; rank 0 creates the index first and evaluates at the end. Rank 0 holds the lock of the
cache folder for the rest of the process: a second job on the same cache waits for the first
(and then finds its shards done).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from wsvol.config.sections import PseudoLabelsSection
from wsvol.data.pseudo_label_cache import CacheError, PseudoLabelCache, frames_digest
from wsvol.utils.files import atomic_write_text, lock_folder
from wsvol.weights import WEIGHT_KEYS, check_weights, file_digest

EVAL_FILE = "eval.json"


def section_of(cfg: Mapping) -> PseudoLabelsSection:
    """The ``pseudo_labels`` section of ``cfg`` with its defaults."""
    from wsvol.config import ConfigError

    data = cfg.get("pseudo_labels")
    if not data:
        raise ConfigError(f"{getattr(cfg, 'filename', None) or 'the config'} has no pseudo_labels "
                          "section (source, cache_dir, ...): nothing to compute")
    section = PseudoLabelsSection(**_plain(data))
    size = section.size
    if size is not None and (len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size)):
        raise ConfigError(f"pseudo_labels.size: expected [height, width] (two positive integers) or "
                          f"null, got {size!r}")
    return section


def _plain(value: Any) -> Any:
    """mmengine ConfigDicts/tuples → plain dicts/lists (for hashing and building)."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return copy.deepcopy(value)


def source_identity(section: PseudoLabelsSection) -> tuple[str, dict]:
    """(key, description) of what determines the maps: the source config, with every weights
    file replaced by the SHA-256 of its content (so moving or renaming it keeps the cache), and
    the stored map size. The code of the source is not part of the key."""

    def digest(node: Any) -> Any:
        if isinstance(node, Mapping):
            out = {}
            for k, v in node.items():
                if k in WEIGHT_KEYS and isinstance(v, str) and Path(v).expanduser().exists():
                    out[k] = f"sha256:{file_digest(Path(v).expanduser())}"
                elif k == "type" and isinstance(v, type):
                    out[k] = f"{v.__module__}.{v.__qualname__}"
                else:
                    out[k] = digest(v)
            return out
        if isinstance(node, list):
            return [digest(v) for v in node]
        return node

    describe = {"source": digest(_with_defaults(_plain(section.source))), "size": section.size}
    key = hashlib.sha256(json.dumps(describe, sort_keys=True, default=str).encode()).hexdigest()
    return key, describe


def _source_class(cfg: dict) -> type:
    from wsvol.registry import PSEUDO_LABEL_SOURCES

    return cfg["type"] if isinstance(cfg["type"], type) else PSEUDO_LABEL_SOURCES.lookup(cfg["type"])


def _with_defaults(cfg: dict) -> dict:
    """The source config with every constructor default filled in: setting an argument to its
    default is the same source; a changed default in the code is another one."""
    import inspect

    out = dict(cfg)
    for name, p in inspect.signature(_source_class(cfg).__init__).parameters.items():
        if name != "self" and p.default is not p.empty and name not in out:
            out[name] = _plain(p.default)
    return out


def split_data(cfg: Mapping, split: str) -> dict:
    """``data_root``, ``folds_root`` and ``class_map`` of ``split``: from the dataloader that reads
    it, else from the train dataloader's dataset (same folds, another split)."""
    datasets = []
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        ds = (cfg.get(key) or {}).get("dataset") or {}
        if {"data_root", "folds_root"} <= set(ds):
            datasets.append(ds)
    if not datasets:
        raise ValueError("pseudo_labels: no dataloader dataset with data_root and folds_root in the config")
    ds = next((d for d in datasets if d.get("split") == split), datasets[0])
    return {"data_root": ds["data_root"], "folds_root": ds["folds_root"], "class_map": ds.get("class_map")}


def _device(name: str | None) -> torch.device:
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def build_source(section: PseudoLabelsSection, device: torch.device) -> torch.nn.Module:
    """The source of the section, on ``device``; warns when it has named weights but none given."""
    cfg = _plain(section.source)
    cls = _source_class(cfg)
    for wf in getattr(cls, "weights_files", lambda: ())():
        if cfg.get(wf.arg) is None:
            warnings.warn(f"pseudo_labels.source ({cfg['type']}): {wf.arg} is not set, so the source is "
                          f"RANDOMLY initialized; set {wf.arg}: {wf.name} for real pseudo-labels", stacklevel=2)
    source = cls(**{k: v for k, v in cfg.items() if k != "type"})
    missing = [a for a in ("mean", "std", "class_names") if getattr(source, a, None) is None]
    if missing:  # the frames are normalized with the source's own mean/std
        raise TypeError(f"pseudo_labels.source ({cfg['type']}): {cls.__name__} does not set {', '.join(missing)}; "
                        "a pseudo-label source sets mean and std (RGB, [0, 1] scale: the normalization its input "
                        "needs) and class_names in its constructor (wsvol/pseudo_labels/base.py)")
    return source.to(device).eval()


def open_pseudo_labels(cfg: Mapping, split: str = "train") -> PseudoLabelCache:
    """The complete, up-to-date cache of ``split`` for training (``FoldDataset``'s ``pseudo_label_reader``).

    Raises a :class:`CacheError` (what to run) when the cache is missing, stale or incomplete.
    """
    from wsvol.data.folds import read_split

    section = section_of(cfg)
    check_weights({"pseudo_labels": {"source": section.source}})
    key, describe = source_identity(section)
    cache = PseudoLabelCache.open(Path(section.cache_dir) / split, key, describe)
    data = split_data(cfg, split)
    fold = read_split(data["folds_root"], split, data["class_map"], data_root=data["data_root"])
    frames = [f.frame_id for f in fold.frames]
    if frames_digest(frames) != cache.index["frames_sha256"]:
        raise CacheError(f"pseudo-label cache {cache.root} holds another frame list than split {split!r} "
                         f"({len(cache)} cached, {len(frames)} in the split); rerun "
                         f"`wsvol pseudo-labels CFG --overwrite`")
    if not cache.complete:
        raise CacheError(f"pseudo-label cache {cache.root} is incomplete ({len(cache.missing_shards())} of "
                         f"{cache.num_shards} shards missing): run `wsvol pseudo-labels CFG` to finish it")
    return cache


def generate_pseudo_labels(cfg: Mapping, overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Compute (or finish) the caches of every split of the ``pseudo_labels`` section, then judge
    the cached maps: print and save (``<cache_dir>/eval.json``) their CorLoc on every split with
    boxes, and return those evaluations by split (on rank 0; empty on the other ranks)."""
    from mmengine.dist import barrier, get_dist_info

    from wsvol.data.folds import read_split

    section = section_of(cfg)
    check_weights({"pseudo_labels": {"source": section.source}})  # 1. weights found before any work
    if section.batch_size < 1 or section.shard_size < 1 or not section.splits:
        raise ValueError("pseudo_labels: batch_size and shard_size must be >= 1 and splits not empty")
    rank, world = get_dist_info()
    device = _device(section.device)
    root = Path(section.cache_dir)
    data = {s: split_data(cfg, s) for s in section.splits}
    splits = {s: read_split(d["folds_root"], s, d["class_map"], data_root=d["data_root"]) for s, d in data.items()}

    key, describe = source_identity(section)  # 2. the cache key (size null: the source's, so in its key)
    source, size = None, section.size
    if size is None:  # the source decides the stored size: build it first
        source = build_source(section, device)
        size = list(source.input_size or (224, 224))

    if rank == 0:  # 3. create or resume each cache (stale ones refused here, before any work)
        lock_folder(root, "pseudo-label cache", wait=True, command="wsvol pseudo-labels")  # one writer at a time
        for s, split in splits.items():
            PseudoLabelCache.create(root / s, key=key, frame_ids=[f.frame_id for f in split.frames],
                                    size=size, shard_size=section.shard_size,
                                    describe=describe, overwrite=overwrite)
    barrier()
    caches = {s: PseudoLabelCache.open(root / s, key) for s in splits}
    todo = {s: c.missing_shards(rank, world) for s, c in caches.items()}

    if any(todo.values()):  # 4. compute what is missing
        source = source or build_source(section, device)
        with _progress(progress and rank == 0) as bar:
            for s, shards in todo.items():
                if shards:
                    _fill(caches[s], data[s], s, shards, source, section, device, bar)
    barrier()

    if rank == 0:  # 5. judge the pseudo-labels
        incomplete = [s for s, c in caches.items() if not c.complete]
        if incomplete:  # only when another rank failed, or ran apart from this one
            print(f"pseudo-labels: not evaluated, caches still incomplete: {', '.join(incomplete)}")
        results = {s: r for s in splits if s not in incomplete
                   and (r := evaluate_pseudo_labels(caches[s], splits[s])) is not None}
        if results:
            report = _report(results, splits, section)
            atomic_write_text(root / EVAL_FILE, json.dumps(report, indent=2, default=float))
        return results
    return {}


def _progress(show: bool):
    if not show:
        return contextlib.nullcontext()
    from rich import progress as rp

    from wsvol.utils.terminal import make_progress

    return make_progress(rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                         rp.TimeRemainingColumn())


def _fill(cache: PseudoLabelCache, data: dict, split: str, shards: list[int], source: torch.nn.Module,
          section: PseudoLabelsSection, device: torch.device, bar) -> None:
    """Compute and write ``shards`` of ``cache``, batch by batch (batches never straddle shards)."""
    from torch.utils.data import DataLoader

    from wsvol.data.dataset import FoldDataset, collate_frames
    from wsvol.data.transforms import Normalize, PackInputs, Resize

    h, w = source.input_size or cache.size
    dataset = FoldDataset(data["data_root"], data["folds_root"], split, class_map=data["class_map"],
                          pipeline=[Resize((h, w)), Normalize(source.mean, source.std), PackInputs()])
    if [f.frame_id for f in dataset.frames] != cache.frame_ids:
        raise CacheError(f"split {split!r} changed while its cache {cache.root} was being written")
    bs = section.batch_size
    batches = [list(rows[i : i + bs]) for k in shards for rows in [cache.shard_rows(k)]
               for i in range(0, len(rows), bs)]
    loader = DataLoader(dataset, batch_sampler=batches, collate_fn=collate_frames,
                        num_workers=section.num_workers)
    task = None
    if bar is not None:
        done = len(cache) - sum(len(cache.shard_rows(k)) for k in cache.missing_shards())
        task = bar.add_task(f"pseudo-labels {split}", total=len(cache), completed=done)
    parts: dict[int, list[np.ndarray]] = {}
    for batch in loader:
        images = torch.stack(batch["inputs"]).to(device)
        labels = torch.tensor([int(s["gt_label"]) for s in batch["data_samples"]], device=device)
        maps = source(images, labels).detach().float()
        if tuple(maps.shape[-2:]) != tuple(cache.size):
            maps = F.interpolate(maps[:, None], size=cache.size, mode="bilinear", align_corners=False)[:, 0]
        k = cache.row(batch["data_samples"][0]["frame_id"]) // cache.shard_size
        parts.setdefault(k, []).append(maps.clamp(0, 1).cpu().numpy())
        if sum(len(p) for p in parts[k]) == len(cache.shard_rows(k)):
            cache.write_shard(k, np.concatenate(parts.pop(k)))
        if task is not None:
            bar.advance(task, len(labels))


def evaluate_pseudo_labels(cache: PseudoLabelCache, split, chunk: int = 256) -> Any:
    """The cached maps of ``split`` evaluated like a model's output (CorLoc, no class prediction) on
    its frames that carry boxes; None when none does. Streams: ``chunk`` frames at a time are
    swept, and their maps go to a temporary file for the boxes at the best threshold."""
    from wsvol.evaluation import MapSpill, compact_records, evaluate_records, frame_record
    from wsvol.evaluation.maps import thresholds

    frames = [f for f in split.frames if len(f.boxes)]
    if not frames:
        return None
    taus, spill, records = thresholds(), MapSpill(), []
    for start in range(0, len(frames), chunk):
        part = [frame_record({"cam": cache(f.frame_id), "gt_boxes": f.boxes, "ori_size": f.size,
                              "gt_label": f.label, "pred_label": -1, "frame_id": f.frame_id,
                              "video_id": f.video_id})
                for f in frames[start : start + chunk]]
        records += compact_records(part, taus, spill=spill)
    spill.close()
    result = evaluate_records(records, split.class_names)
    spill.handed_over()  # the result's map store deletes the file
    return result


def _report(results: dict, splits: dict, section: PseudoLabelsSection) -> dict:
    """Print the CorLoc table of the pseudo-labels; return it as a dict (for eval.json)."""
    from rich.table import Table

    from wsvol.utils.terminal import make_console

    src = section.source.get("type") if isinstance(section.source, Mapping) else section.source
    table = Table(title=f"pseudo-labels of {src}: CorLoc (MaxBoxAcc v1, %) of the cached maps")
    for col in ("split", "frames", "CorLoc", "best τ", "mean of classes"):
        table.add_column(col, justify="left" if col == "split" else "right")
    report = {"source": asdict(section)["source"], "cache_dir": str(section.cache_dir), "splits": {}}
    for s, result in results.items():
        res = result.localization
        per_class = res.per_class()[0]
        names = splits[s].class_names
        table.add_row(s, str(len(res)), f"{res.corloc:.1f}", f"{res.best_tau:.3f}", f"{res.corloc_mean:.1f}")
        report["splits"][s] = {
            "frames": len(res), "corloc": res.corloc, "best_tau": res.best_tau,
            "corloc_mean": res.corloc_mean,
            "per_class": {names[c]: (None if np.isnan(v) else float(v)) for c, v in enumerate(per_class)},
        }
    make_console().print(table)
    return report
