"""Pseudo-labels from a trained tag classifier: its CAM (any registered CAM method) per frame.

The classifier is a checkpoint written by ``wsvol train``. Its architecture is the ``model``
config given here or, by default, the ``model`` of the ``config.yaml`` that ``wsvol train`` saved
in the same work dir; that file also gives the input size (the eval pipeline's ``resize``) and the
normalization (its ``normalize``) unless they are given.

The map is the CAM of the frame's **true** class (its video tag), as pseudo-labels are in the
reference (the tag is known for every training frame); ``target="predicted"`` uses the
classifier's predicted class instead, which is what ``wsvol predict`` shows on an untagged video.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import torch
import yaml
from torch import Tensor, nn

from wsvol.cams.base import CAM_TARGETS, minmax_normalize
from wsvol.config import component
from wsvol.pseudo_labels.base import PseudoLabelSource
from wsvol.registry import PSEUDO_LABEL_SOURCES

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RUN_CONFIG = "config.yaml"


def run_config(checkpoint: Path) -> dict | None:
    """The ``config.yaml`` of the work dir holding ``checkpoint`` (its folder or the one above)."""
    for folder in (checkpoint.parent, checkpoint.parent.parent):
        path = folder / RUN_CONFIG
        if path.is_file():
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"{path}: not a config mapping")
            return data
    return None


def eval_preprocessing(cfg: Mapping) -> tuple[tuple[int, int] | None, tuple | None, tuple | None]:
    """(input size (H, W), mean, std) of a run config's test (else val) pipeline; None where absent."""
    for key in ("test_dataloader", "val_dataloader"):
        pipeline = ((cfg.get(key) or {}).get("dataset") or {}).get("pipeline") or []
        size = mean = std = None
        for t in pipeline:
            if not isinstance(t, Mapping):
                continue
            if t.get("type") == "resize" and "size" in t:
                s = t["size"]
                size = (int(s), int(s)) if isinstance(s, int) else (int(s[0]), int(s[1]))
            elif t.get("type") == "normalize":
                mean = tuple(t.get("mean", IMAGENET_MEAN))
                std = tuple(t.get("std", IMAGENET_STD))
        if pipeline:
            return size, mean, std
    return None, None, None


def load_classifier(checkpoint: Path, model_cfg: Mapping | nn.Module) -> nn.Module:
    """Build the classifier (without its ``pretrained`` file: the checkpoint holds every weight)
    and load the checkpoint strictly; mismatches are reported key by key."""
    from wsvol.weights import load_checkpoint_file, load_weights

    if isinstance(model_cfg, nn.Module):
        model = model_cfg
    else:
        from wsvol.registry import MODELS

        cfg = dict(model_cfg)
        if "pretrained" in cfg:
            cfg["pretrained"] = None
        model = MODELS.build(cfg)
    ckpt = load_checkpoint_file(checkpoint)
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, Mapping) else ckpt
    if not isinstance(state, Mapping):
        raise ValueError(f"{checkpoint}: no state dict in the checkpoint")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    load_weights(model, state, str(checkpoint))
    return model.eval().requires_grad_(False)


@PSEUDO_LABEL_SOURCES.register_module(name="cam")
class CamSource(PseudoLabelSource):
    """CAM maps of a classifier checkpoint written by ``wsvol train``.

    Args:
        checkpoint: the ``.pth`` file (e.g. ``work_dirs/<cfg>/<run>/best_corloc_epoch_9.pth``).
        model: the classifier config; default: ``model`` of the run's ``config.yaml``.
        cam: CAM method (``"layercam"``, ``dict(type="gradcampp")`` ...); default: the model
            config's ``cam``, else LayerCAM.
        target_layer: dotted CAM layer; default: the classifier's own.
        target: ``"true"``: the frame's tag (pseudo-labels, the default); ``"predicted"``: the argmax.
        input_size, mean, std: the network input (H, W) and normalization; default: the run
            config's eval pipeline (``resize``, ``normalize``), else 224×224 and ImageNet's.
        class_names: for messages; default ``class 0`` ... ``class C-1``.
        resolution: ``"input"``: maps upsampled (bilinear) to the input size, then min-max
            normalized; ``"feature"``: min-max normalized at the CAM layer's resolution (input/8
            for ``resnet50_cam``), as TCAM stores its CAMs; set ``pseudo_labels.size`` to that size
            (e.g. [28, 28] for 224 inputs) to store them unchanged.
    """

    def __init__(self, checkpoint: str, model: component("model") | None = None,
                 cam: component("cam_method") | str | None = None, target_layer: str | None = None,
                 target: Literal["true", "predicted"] = "true",
                 input_size: int | Sequence[int] | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 class_names: Sequence[str] | None = None,
                 resolution: Literal["input", "feature"] = "input") -> None:
        super().__init__()
        from wsvol.cams import build_cam

        if target not in CAM_TARGETS:
            raise ValueError(f"cam source: target must be 'true' or 'predicted', got {target!r}")
        if resolution not in ("input", "feature"):
            raise ValueError(f"cam source: resolution must be 'input' or 'feature', got {resolution!r}")
        self.resolution = resolution
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"cam source: checkpoint {path} not found")
        run = run_config(path) or {}
        if model is None:
            if "model" not in run:
                raise ValueError(f"cam source: no `model` given and no {RUN_CONFIG} with a model next to "
                                 f"{path}; give the classifier config as `model`")
            model = run["model"]
        size, run_mean, run_std = eval_preprocessing(run)
        self.model = load_classifier(path, model)
        cam_cfg = cam or (model.get("cam") if isinstance(model, Mapping) else None) or "layercam"
        if target_layer is None:
            default = getattr(self.model, "default_target_layer", None)
            if default is None:
                raise ValueError("cam source: give `target_layer` (the model has no default_target_layer)")
            target_layer = default()
        # a plain attribute, not a submodule: the CAM object holds the model
        self.cam_method = build_cam(cam_cfg, self.model, target_layer=target_layer)
        self.target = target
        if input_size is not None:
            size = (int(input_size), int(input_size)) if isinstance(input_size, int) else tuple(input_size)
        self.input_size = tuple(int(s) for s in (size or (224, 224)))
        self.mean = tuple(mean or run_mean or IMAGENET_MEAN)
        self.std = tuple(std or run_std or IMAGENET_STD)
        num = int(getattr(self.model, "num_classes", 0) or len(class_names or ()))
        self.class_names = tuple(class_names) if class_names else tuple(f"class {i}" for i in range(num))
        self.checkpoint = path

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        """CAMs (B, H, W) in [0, 1] of the true classes ``labels`` (or of the predicted ones)."""
        labels = self.check_inputs(images, labels)
        targets = labels if self.target == "true" else None
        with torch.no_grad():  # the CAM method turns gradients on where it needs them
            if self.resolution == "feature":
                return minmax_normalize(self.cam_method.raw(images, targets=targets)[0])
            maps, _ = self.cam_method(images, targets=targets)
        return maps
