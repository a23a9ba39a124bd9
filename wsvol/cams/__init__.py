"""Class activation maps: CAM, GradCAM, GradCAM++, Smooth-GradCAM++, XGradCAM, LayerCAM.

Build a method by its registered name, then call it on a batch::

    from wsvol.cams import build_cam

    cam = build_cam("gradcampp", model, target_layer="layer4")
    maps, logits = cam(images)              # maps (B, H, W) in [0, 1], for the predicted classes
    maps, _ = cam(images, targets=[3, 7])   # or for given classes
    raw, _ = cam.raw(images)                # (B, h, w) at the layer's resolution, not normalized

``model`` maps images to (B, C) logits; ``target_layer`` is a module or a dotted name
(``"backbone.blocks.-1.norm1"`` for a ViT: its tokens are put back on the patch grid with the
model's own ``num_prefix_tokens`` and ``patch_embed.grid_size``). Arguments of a method go
along: ``build_cam(dict(type="smooth_gradcampp", n=8, sigma=0.2), model, "layer4")``.
Callers may be under ``torch.no_grad()``; parameters' ``.grad`` are never touched.

A new method is one file with a :class:`BaseCAM` subclass that defines ``channel_weights``
(or ``combine``), registered with ``@CAM_METHODS.register_module(name=...)``.
"""

from wsvol.cams.base import BaseCAM, build_cam, minmax_normalize, tokens_to_grid
from wsvol.cams.cam import CAM
from wsvol.cams.gradcam import GradCAM
from wsvol.cams.gradcampp import GradCAMpp
from wsvol.cams.layercam import LayerCAM
from wsvol.cams.smooth_gradcampp import SmoothGradCAMpp
from wsvol.cams.xgradcam import XGradCAM

__all__ = ["BaseCAM", "CAM", "GradCAM", "GradCAMpp", "LayerCAM", "SmoothGradCAMpp", "XGradCAM",
           "build_cam", "minmax_normalize", "tokens_to_grid"]
