"""Tiny localizer checkpoints and videos the predict and export tests share: a random-init TrCAM-V
at 32² saved as ``wsvol train`` saves it, and short mp4 clips."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch
from mmengine.config import Config

from wsvol.models.trcamv import TrCAMV

PIPELINE = [{"type": "resize", "size": [32, 32]}, {"type": "normalize"}, {"type": "pack_inputs"}]
TINY_TRCAMV = {"type": "trcamv", "num_classes": 3, "train_cls_head": True,
               "backbone": {"img_size": 32, "depth": 1, "embed_dim": 24, "num_heads": 2, "num_last_blocks": 1},
               "loc_head": {"widths": [8, 4]}}  # fmt: skip
CLASSES = ("ant", "bee", "cat")


def tiny_cfg() -> Config:
    return Config({"model": TINY_TRCAMV, "test_dataloader": {"dataset": {"pipeline": PIPELINE}}})


def save_checkpoint(path: Path, meta: dict | None = None, classes=CLASSES, cfg: Config | None = None) -> TrCAMV:
    """A random-init tiny TrCAM-V saved as wsvol train saves it (meta.wsvol + mmengine's dataset_meta)."""
    torch.manual_seed(0)
    cfg = cfg or tiny_cfg()
    model = TrCAMV(**{k: v for k, v in cfg.model.to_dict().items() if k != "type"}).eval()
    ckpt = {"state_dict": model.state_dict(), "meta": {}}
    if meta is not None:
        ckpt["meta"]["wsvol"] = meta
    if classes is not None:
        ckpt["meta"]["dataset_meta"] = {"classes": tuple(classes)}
    torch.save(ckpt, path)
    return model


def write_video(path: Path, n: int, size: tuple[int, int] = (80, 60), rate: int = 10) -> None:
    """``n`` frames, a bright square moving on a dark ground."""
    w, h = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(n):
            img = np.full((h, w, 3), 30, np.uint8)
            img[h // 4 : h // 4 + h // 3, (3 * i) % (w // 2) : (3 * i) % (w // 2) + w // 3] = (220, 180, 60)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())


def decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
