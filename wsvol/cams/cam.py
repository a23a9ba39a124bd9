"""CAM (Zhou et al., 2016): the linear head's class weights applied to the last feature maps."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from wsvol.cams.base import BaseCAM, get_layer
from wsvol.registry import CAM_METHODS


@CAM_METHODS.register_module(name="cam")
class CAM(BaseCAM):
    """``M = Σ_k w_k^c A_k`` with ``w^c`` the head's weights for class c; no gradients, no ReLU.

    The head weights (C, K) come from ``fc`` (an ``nn.Linear`` or its dotted name in the model),
    else from ``model.cam_weights()`` (wsvol classifiers), else from timm's
    ``model.get_classifier()``. The map keeps its sign and is only min-max normalized
    (torchcam does the same; pytorch-grad-cam has no CAM).
    """

    relu = False
    uses_gradients = False

    def __init__(self, model: nn.Module, target_layer: nn.Module | str, *,
                 fc: nn.Module | str | None = None, **kwargs: Any) -> None:
        super().__init__(model, target_layer, **kwargs)
        self.fc = get_layer(model, fc) if isinstance(fc, str) else fc

    def head_weights(self) -> Tensor:
        """The (C, K) weights of the classifier's linear head."""
        if self.fc is not None:
            weight = getattr(self.fc, "weight", None)
        elif hasattr(self.model, "cam_weights"):
            weight = self.model.cam_weights()
        elif hasattr(self.model, "get_classifier"):
            weight = getattr(self.model.get_classifier(), "weight", None)
        else:
            raise ValueError(f"CAM needs the linear head's weights: {type(self.model).__name__} has no "
                             f"cam_weights() or get_classifier(); pass fc=<nn.Linear or its name>")
        if not isinstance(weight, Tensor) or weight.ndim != 2:
            raise ValueError(f"CAM needs a linear head with (C, K) weights, got "
                             f"{None if weight is None else tuple(weight.shape)}")
        return weight

    def channel_weights(self, acts: Tensor, grads: Any, targets: Tensor) -> Tensor:
        weight = self.head_weights().detach().float()
        if weight.shape[1] != acts.shape[1]:
            raise ValueError(f"the head has {weight.shape[1]} inputs but target layer {self.layer_name!r} "
                             f"has {acts.shape[1]} channels")
        return weight[targets]
