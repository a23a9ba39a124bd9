"""A timm ResNet as an encoder: the input and every stage's maps (for a U-Net) and the last maps.

TCAM's encoder (WSOL variant): layer3 and layer4 keep the resolution, so the output stride is 8
(28×28 at 224). By default their first convolutions get stride 1 without dilation, as in the
wsolevaluation/TCAM code; ``dilated=True`` keeps the receptive field with dilation instead (timm's
``output_stride=8``). :func:`build_resnet` is shared with the ``resnet50_cam`` classifier, so the
encoder has exactly the classifier's layout and loads its checkpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
from torch import Tensor, nn

from wsvol.config.types import TimmArch
from wsvol.registry import BACKBONES
from wsvol.weights import load_timm_weights, load_weights
from wsvol.weights.formats import read_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_resnet(arch: str, dilated: bool = False, **timm_kwargs: Any) -> nn.Module:
    """A timm ResNet without its classifier or pooling, at output stride 8 (see the module notes)."""
    stride = {"output_stride": 8} if dilated else {}
    model = timm.create_model(arch, pretrained=False, num_classes=0, global_pool="", **stride, **timm_kwargs)
    if not dilated:
        for stage in ("layer3", "layer4"):
            _remove_stride(getattr(model, stage)[0])
    return model


def _remove_stride(block: nn.Module) -> None:
    """Make the first block of a ResNet stage keep the resolution (stride-2 convs → 1, pools → identity)."""
    for name, module in list(block.named_modules()):
        if isinstance(module, nn.Conv2d) and module.stride != (1, 1):
            module.stride = (1, 1)
        elif isinstance(module, nn.AvgPool2d) and module.stride not in (1, (1, 1)):
            parent = block.get_submodule(name.rpartition(".")[0]) if "." in name else block
            setattr(parent, name.rpartition(".")[2], nn.Identity())


@BACKBONES.register_module(name="timm_resnet")
class TimmResNet(nn.Module):
    """Any timm ResNet as an encoder: ``forward(x)`` → ``stages`` and ``features``.

    - ``stages``: [input, stem (conv1-bn-act, stride 2), layer1, layer2, layer3, layer4], the
      features a U-Net decoder takes (segmentation_models' ResNet encoder order);
    - ``features``: layer4's maps (B, K, H/8, W/8), what a GAP + linear head reads.

    Args:
        arch: timm ResNet name (``resnet50``, ``resnet18``, ...).
        pretrained: a weights file: a wsvol classifier checkpoint (``resnet50_cam``; its
            ``backbone.*`` weights are taken, e.g. ``{baseline_best_cl}``) or ImageNet weights in
            any published format; None: random init.
        dilated: as ``resnet50_cam``'s ``dilated`` (must match the checkpoint's classifier).
        frozen: no gradients and eval mode (BatchNorm statistics fixed), even under ``.train()``.
        mean, std: the input normalization it expects (what the CRF undoes).
        **timm_kwargs: passed to ``timm.create_model``.
    """

    def __init__(self, arch: TimmArch = "resnet50", pretrained: str | Path | None = None, dilated: bool = False,
                 frozen: bool = True, mean: tuple[float, float, float] = IMAGENET_MEAN,
                 std: tuple[float, float, float] = IMAGENET_STD, **timm_kwargs: Any) -> None:
        super().__init__()
        self.arch = arch
        self.model = build_resnet(arch, dilated, **timm_kwargs)
        for part in ("conv1", "bn1", "act1", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            if not hasattr(self.model, part):
                raise ValueError(f"timm_resnet: {arch!r} is not a timm ResNet (no {part!r})")
        self.num_features = int(self.model.num_features)
        #: channels of each of ``stages``: [3, stem, layer1, ..., layer4]
        self.stage_channels = [3, int(self.model.bn1.num_features),
                               *(self._out_channels(getattr(self.model, f"layer{i}")) for i in range(1, 5))]
        self.mean, self.std = tuple(mean), tuple(std)
        self.frozen = bool(frozen)
        if pretrained:
            self.load_pretrained(pretrained)
        if self.frozen:
            self.requires_grad_(False)
            self.eval()

    @staticmethod
    def _out_channels(stage: nn.Module) -> int:
        return int([m for m in stage.modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features)

    def load_pretrained(self, path: str | Path) -> None:
        """Load a wsvol classifier checkpoint's ``backbone.*`` weights, or ImageNet weights, strictly."""
        weights = read_weights(path)
        if any(k.startswith("backbone.") for k in weights.state):
            state = {k[len("backbone."):]: v for k, v in weights.state.items() if k.startswith("backbone.")}
            load_weights(self.model, state, str(path))
        else:
            load_timm_weights(self.model, weights, self.arch, None, "timm_resnet")

    def train(self, mode: bool = True) -> TimmResNet:
        """Train/eval mode; a frozen encoder stays in eval mode (its BatchNorm statistics fixed)."""
        return super().train(mode and not self.frozen)

    def forward(self, x: Tensor) -> dict[str, Any]:
        """Images (B, 3, H, W) → ``stages`` (list of 6 maps) and ``features`` (layer4)."""
        m = self.model
        stem = m.act1(m.bn1(m.conv1(x)))
        stages = [x, stem]
        y = m.maxpool(stem)
        for i in range(1, 5):
            y = getattr(m, f"layer{i}")(y)
            stages.append(y)
        return {"stages": stages, "features": y}
