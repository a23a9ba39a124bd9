"""``wsvol predict``: a trained model on a user's own video — per frame a class, a score, a box.

Frames are processed one at a time (no temporal module), as in the papers. The model and its
evaluation pipeline come from the ``config.yaml`` that ``wsvol train``/``run`` saved next to the
checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from wsvol.utils.files import atomic_write_text


def load_trained(checkpoint: str | Path):
    """(model in eval mode, its config) from a checkpoint in a wsvol work dir."""
    from wsvol.config import load_config
    from wsvol.registry import MODELS
    from wsvol.weights import load_checkpoint_file, load_weights

    checkpoint = Path(checkpoint)
    cfg_path = checkpoint.parent / "config.yaml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{checkpoint}: no config.yaml next to it (predict needs a checkpoint "
                                "from a wsvol work dir, where train/run saved the merged config)")
    cfg = load_config(cfg_path)
    model_cfg = cfg.model.to_dict()
    for key in ("pretrained", "cls_head_checkpoint"):  # every weight comes from the checkpoint
        model_cfg.pop(key, None)
    if isinstance(model_cfg.get("backbone"), dict):
        model_cfg["backbone"].pop("pretrained", None)
    model = MODELS.build(model_cfg)
    state = load_checkpoint_file(checkpoint)
    load_weights(model, state.get("state_dict", state), str(checkpoint))
    return model.eval(), cfg


def predict_video(checkpoint: str | Path, source: str | Path, out_dir: str | Path, tau: float = 0.5,
                  stride: int = 1, max_frames: int | None = None, overlays: bool = True) -> Path:
    """Write ``predictions.csv`` / ``.json`` (frame, class, score, box in frame pixels) and overlays."""
    import torch
    from rich.progress import Progress

    from wsvol.data.dataset import build_pipeline
    from wsvol.data.video import _folder_frames, _video_frames
    from wsvol.evaluation.corloc import box_at_threshold
    from wsvol.evaluation.maps import prepare_map
    from wsvol.visualization.overlay import draw_overlay, save_png

    model, cfg = load_trained(checkpoint)
    pipeline = build_pipeline(cfg.test_dataloader.dataset.pipeline)
    classes = _class_names(cfg)
    source, out = Path(source), Path(out_dir)
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such video file or frame folder")
    frames = _folder_frames(source) if source.is_dir() else _video_frames(source)
    rows = []
    with Progress(transient=True) as bar, torch.no_grad():
        task = bar.add_task(f"predict {source.name}", total=None)
        for index, rgb in enumerate(frames):
            if index % stride or (max_frames is not None and len(rows) >= max_frames):
                continue
            h, w = rgb.shape[:2]
            item = _run_pipeline(pipeline, rgb, f"{source.stem}/frame_{index:06d}")
            result = model(item["inputs"][None], [item["data_samples"]], mode="predict")[0]
            qmap = prepare_map(result["cam"].numpy(), (w, h))
            x0, y0, x1, y1 = box_at_threshold(qmap, tau)
            label = int(result["pred_label"])
            score = float(result["scores"][label])
            rows.append({"frame": index, "class": classes[label], "class_id": label, "score": round(score, 4),
                         "x0": x0, "y0": y0, "x1": x1, "y1": y1})
            if overlays:
                picture = draw_overlay(qmap / 255.0, rgb, pred_box=(x0, y0, x1, y1),
                                       caption=f"{classes[label]} {score:.2f}")
                save_png(out / "frames" / f"frame_{index:06d}.png", picture)
            bar.advance(task)
    if not rows:
        raise ValueError(f"{source}: no frame was read")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "predictions.csv", buffer.getvalue())
    atomic_write_text(out / "predictions.json", json.dumps({"source": str(source), "checkpoint": str(checkpoint),
                                                            "tau": tau, "frames": rows}, indent=2))
    return out


def _run_pipeline(pipeline, rgb: np.ndarray, frame_id: str) -> dict:
    results = {"img": np.ascontiguousarray(rgb), "frame_id": frame_id, "ori_size": (rgb.shape[1], rgb.shape[0]),
               "gt_label": -1, "rng": np.random.default_rng(0)}
    for transform in pipeline:
        results = transform(results)
    return results


def _class_names(cfg) -> list[str]:
    from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
    from wsvol.data.folds import read_class_map

    ds = cfg.test_dataloader.dataset
    path = Path(ds.get("class_map") or Path(ds.folds_root) / "class_id.yaml")
    names = read_class_map(path) if path.is_file() else YOUTUBE_OBJECTS_CLASS_MAP
    return [n for n, _ in sorted(names.items(), key=lambda kv: kv[1])]
