"""Classifiers trained from video tags, whose CAMs give baseline maps and pseudo-labels.

``resnet50_cam`` is the TCAM-protocol CNN (timm ResNet at output stride 8, GAP + linear);
``vit_classifier`` is a timm ViT with a linear head on its pooled (CLS) token. Both are mmengine
models: ``forward(inputs, data_samples, mode)`` with modes ``tensor`` (logits), ``loss``
(``{'loss_cls': CE}`` on ``gt_label``) and ``predict`` (one dict per frame: its data-sample keys
+ ``cam``, ``pred_label``, ``scores``; the CAM is computed with the CAM method of the ``cam``
config, e.g. ``model.cam.type=gradcam`` at test time, for the frame's true class where the
frames carry one, as wsolevaluation and TCAM's code score CAMs, or for the predicted class:
``cam_target``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import timm
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor, nn

from wsvol.cams import build_cam
from wsvol.cams.base import CAM_TARGETS
from wsvol.config import component
from wsvol.config.types import TimmArch, bounded
from wsvol.models.backbones.resnet import build_resnet
from wsvol.models.initialization import init_head
from wsvol.registry import MODELS
from wsvol.weights import load_timm_weights, load_weights
from wsvol.weights.formats import read_weights
from wsvol.weights.pos_embed import resize_options


class TagClassifier(BaseModel):
    """A timm backbone + linear head trained on frame tags, with CAMs in ``predict`` mode.

    Subclasses build ``self.backbone`` and ``self.head`` and define :meth:`features` (what the
    head reads) and the default target layer.
    """

    #: a CAM has any range: the evaluation min-max normalizes it (as torchcam's ``normalized=True``)
    map_normalization: str = "minmax"

    def __init__(self, num_classes: int, pretrained: str | None, cam: component("cam_method") | str | None,
                 target_layer: str | None, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None, cam_target: Literal["true", "predicted"] = "true") -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if cam_target not in CAM_TARGETS:
            raise ValueError(f"cam_target must be one of {', '.join(CAM_TARGETS)}, got {cam_target!r}")
        self.cam_target = cam_target
        self.num_classes = int(num_classes)
        self._pretrained = pretrained
        self._arch = ""  # the timm architecture of the backbone (subclasses set it)
        self._pos_embed_resize: str | dict | None = None
        self._cam_cfg = cam
        self._target_layer = target_layer

    def _finish_init(self) -> None:
        """Load ``pretrained`` and build the CAM method (subclasses call it at the end of __init__)."""
        if self._pretrained:
            self.load_pretrained(self._pretrained)
        self.set_cam(self._cam_cfg or "layercam", self._target_layer or self.default_target_layer())

    def init_weights(self) -> None:
        """No-op: weights are set at construction (timm init or ``pretrained``); mmengine's
        pass would call timm's ``init_weights`` on the backbone and wipe loaded weights."""
        self._is_init = True

    def default_target_layer(self) -> str:
        """Dotted name (in this model) of the layer whose maps CAM methods read."""
        raise NotImplementedError

    def features(self, x: Tensor) -> Tensor:
        """(B, K) features read by the linear head."""
        raise NotImplementedError

    def set_cam(self, cam: dict | str, target_layer: str | None = None) -> None:
        """Switch the CAM method used in ``predict`` mode (``"gradcam"`` or ``dict(type=..., ...)``)."""
        cfg = {"type": cam} if isinstance(cam, str) else dict(cam)
        layer = cfg.pop("target_layer", None) or target_layer or self.default_target_layer()
        # A plain object, not a submodule: it holds a reference back to this model.
        self.cam_method = build_cam(cfg, self, target_layer=layer)

    def cam_weights(self) -> Tensor:
        """(C, K) weights of the linear head (what CAM multiplies the feature maps with)."""
        return self.head.weight

    def load_pretrained(self, path: str | Path) -> None:
        """Load backbone weights in any published format (timm/DINO/DeiT/DINOv2 keys; the file's
        own classifier is dropped; see :func:`wsvol.weights.load_timm_weights`) or a whole
        classifier state dict (keys ``backbone.*`` and ``head.*``)."""
        weights = read_weights(path)
        if any(k.startswith("backbone.") for k in weights.state):
            load_weights(self, weights.state, str(path))
            return
        load_timm_weights(self.backbone, weights, self._arch, self._pos_embed_resize,
                          f"{type(self).__name__}.pos_embed_resize")
        print_log(f"loaded backbone weights from {path}", logger="current")

    def forward(self, inputs: Tensor | Sequence[Tensor], data_samples: Sequence[Mapping] | None = None,
                mode: str = "tensor") -> Any:
        """``tensor`` → logits; ``loss`` → ``{'loss_cls'}``; ``predict`` → one dict per frame."""
        x = torch.stack(list(inputs)) if isinstance(inputs, (list, tuple)) else inputs
        if mode == "tensor":
            return self.head(self.features(x))
        if mode == "loss":
            return {"loss_cls": F.cross_entropy(self(x), self._labels(data_samples, x.device))}
        if mode == "predict":
            return self.predict(x, data_samples)
        raise ValueError(f"unknown forward mode {mode!r}; expected 'tensor', 'loss' or 'predict'")

    def predict(self, x: Tensor, data_samples: Sequence[Mapping] | None = None) -> list[dict]:
        """One dict per frame: its data-sample keys + ``cam`` (H, W), ``pred_label``, ``scores`` (CPU),
        ``map_normalization``. The CAM is of each frame's ``gt_label`` when ``cam_target`` is
        ``true`` and every sample has one, else of the predicted class."""
        samples = list(data_samples) if data_samples is not None else [{} for _ in range(len(x))]
        if len(samples) != len(x):
            raise ValueError(f"{len(samples)} data samples for {len(x)} images")
        targets = None
        if self.cam_target == "true" and samples and all("gt_label" in s for s in samples):
            targets = self._labels(samples, x.device)
        maps, logits = self.cam_method(x, targets)
        scores, maps = logits.softmax(1).cpu(), maps.cpu()
        return [{**sample, "cam": maps[i], "pred_label": int(scores[i].argmax()), "scores": scores[i],
                 "map_normalization": self.map_normalization}
                for i, sample in enumerate(samples)]

    def localize(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Images (B, 3, H, W) → class probabilities (B, C) and the CAM method's maps (B, H, W) of
        the predicted class, on their device. Gradient CAMs run a backward pass inside: only
        ``cam`` (from the head weights, forward only) can be exported."""
        maps, logits = self.cam_method(x)  # targets=None: the predicted class
        return logits.softmax(1), maps

    @staticmethod
    def _labels(data_samples: Sequence[Mapping] | None, device: torch.device) -> Tensor:
        if not data_samples:
            raise ValueError("mode='loss' needs data_samples with a 'gt_label' each")
        labels = []
        for i, sample in enumerate(data_samples):
            if "gt_label" not in sample:
                raise KeyError(f"data sample {i} ({sample.get('frame_id', '?')}) has no 'gt_label'")
            labels.append(int(sample["gt_label"]))
        return torch.tensor(labels, device=device)


@MODELS.register_module(name="resnet50_cam")
class ResNetCAM(TagClassifier):
    """TCAM-protocol ResNet: output stride 8 (28×28 maps at 224²), global average pooling, linear head.

    Args:
        backbone: any timm ResNet name (``resnet50``, ``resnet18``, ...).
        num_classes: number of tags.
        pretrained: local backbone weight file (torch or safetensors) or None (random init).
        cam: CAM method config used in ``predict`` (``dict(type='layercam')`` by default).
        target_layer: dotted name of the CAM layer (default ``backbone.layer4``).
        dilated: False (default): the strides of layer3/layer4 become 1 without dilation, as
            in the wsolevaluation/TCAM reference code; True: they keep their receptive field
            with dilation (timm ``output_stride=8``, torchvision's ``replace_stride_with_dilation``).
        backbone_kwargs: more arguments of ``timm.create_model``.
        cam_target: ``true`` (default): ``predict`` gives the CAM of each frame's true class (its
            ``gt_label``), as the reference evaluations do; ``predicted``: of the predicted class.
    """

    def __init__(self, backbone: TimmArch = "resnet50", num_classes: bounded(int, 1) = 10, pretrained: str | None = None,
                 cam: component("cam_method") | str | None = None, target_layer: str | None = None, dilated: bool = False,
                 backbone_kwargs: dict | None = None, **kwargs: Any) -> None:
        super().__init__(num_classes, pretrained, cam, target_layer, **kwargs)
        self._arch = backbone
        self.backbone = build_resnet(backbone, dilated, **(backbone_kwargs or {}))
        self.head = nn.Linear(self.backbone.num_features, self.num_classes)
        init_head(self.head)  # as TCAM's stage-A classifier (its WGAP head)
        self._finish_init()

    def default_target_layer(self) -> str:
        return "backbone.layer4"

    def features(self, x: Tensor) -> Tensor:
        return self.feature_maps(x).mean(dim=(2, 3))

    def feature_maps(self, x: Tensor) -> Tensor:
        """(B, K, H/8, W/8) maps of the last stage."""
        return self.backbone.forward_features(x)


@MODELS.register_module(name="vit_classifier")
class ViTClassifier(TagClassifier):
    """A timm ViT (DeiT/DINO ViT-S/16, ...) with a linear head on its pooled token (CLS by default).

    Args: as :class:`ResNetCAM`; the default CAM layer is the last block's input LayerNorm
    (``backbone.blocks.<last>.norm1``): the last block's output patch tokens do not reach the CLS
    token any more, so their gradients would be zero. ``pos_embed_resize``: how the weights'
    position embeddings are resized to the backbone's ``img_size``, as in ``timm_vit`` (None:
    the original model's way).
    """

    def __init__(self, backbone: TimmArch = "vit_small_patch16_224", num_classes: bounded(int, 1) = 10,
                 pretrained: str | None = None, cam: component("cam_method") | str | None = None,
                 target_layer: str | None = None, backbone_kwargs: dict | None = None,
                 pos_embed_resize: str | dict | None = None, **kwargs: Any) -> None:
        super().__init__(num_classes, pretrained, cam, target_layer, **kwargs)
        self._arch = backbone
        self._pos_embed_resize = pos_embed_resize
        resize_options(pos_embed_resize, "timm", "vit_classifier.pos_embed_resize")
        self.backbone = timm.create_model(backbone, pretrained=False, num_classes=0,
                                          **(backbone_kwargs or {}))
        if not hasattr(self.backbone, "blocks") or not hasattr(self.backbone, "num_prefix_tokens"):
            raise ValueError(f"backbone {backbone!r} is not a timm ViT (no blocks/num_prefix_tokens)")
        self.head = nn.Linear(self.backbone.num_features, self.num_classes)
        self._finish_init()

    def default_target_layer(self) -> str:
        return f"backbone.blocks.{len(self.backbone.blocks) - 1}.norm1"

    def features(self, x: Tensor) -> Tensor:
        return self.backbone.forward_head(self.backbone.forward_features(x), pre_logits=True)
