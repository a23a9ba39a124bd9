"""TCAM (Belharbi et al., WACV 2023): a U-Net localizer on a frozen tag classifier, trained from CAM-TMP seeds.

The model is TrCAM-V's (:class:`~wsvol.models.trcamv.TrCAMV`: the same training step — seeds drawn
every step from the frame's pseudo-label map, partial CE, CRF, size barrier — and the same
``predict``/``localize``) with TCAM's parts as defaults:

- backbone ``timm_resnet`` (ResNet-50 at output stride 8, laid out like ``resnet50_cam``), frozen; its weights come from the
  stage-A classifier's best-classification checkpoint (``pretrained: "{baseline_best_cl}"``);
- classification head ``gap_linear`` (GAP + linear), frozen, from the same checkpoint
  (``cls_head_checkpoint: "{baseline_best_cl}"``); it gives the class, never a loss;
- localization head ``unet_decoder`` (256/128/64/32/16 → 2 channels at input resolution);
- pixel sampler ``otsu_roi`` with its defaults (1 fg pixel from the top 60 % of the Otsu ROI,
  weighted; 1 bg pixel uniform from the lowest 10 %; 3×3 dilation);
- losses: partial CE (1), CRF (σ_rgb 15, σ_xy 100, λ 2e-9 on the reference's
  lattice, 1.2e-9 on the exact W: ``wsvol.losses.crf``), size barrier on both regions (λ 0.01,
  t from 1, ×1.01 per epoch with the ``size_barrier_schedule`` hook, at most 10).

CAM-TMP is not in the model: it is the training dataset's ``pseudo_label_transform``
(``temporal_max``) over the cached CAMs, so inference uses one frame and no neighbours.
"""

from __future__ import annotations

from wsvol.models.trcamv import TrCAMV
from wsvol.registry import MODELS


@MODELS.register_module(name="tcam")
class TCAM(TrCAMV):
    """TCAM: ``trcamv``'s training step and inference with TCAM's encoder, heads and losses as defaults.

    Args: those of ``trcamv``; a sub-config without ``type`` updates TCAM's default (e.g.
    ``backbone: {arch: resnet18, pretrained: "{baseline_best_cl}"}``).
    """

    # timm_resnet's ``dilated`` default is resnet50_cam's, so it computes what the stage-A classifier
    # computed (the config check compares them when the backbone loads the baseline's checkpoint)
    default_backbone = {"type": "timm_resnet", "arch": "resnet50", "frozen": True}
    default_cls_head = {"type": "gap_linear"}
    default_loc_head = {"type": "unet_decoder"}
    default_pixel_sampler = {"type": "otsu_roi"}
    default_losses = {
        "pce": {"type": "partial_ce", "loss_weight": 1.0},
        "size": {"type": "size_barrier", "loss_weight": 0.01, "t0": 1.0, "mu": 1.01, "t_max": 10.0},
        "crf": {"type": "crf", "loss_weight": 1.2e-9, "sigma_rgb": 15.0, "sigma_xy": 100.0, "scale": 1.0},
    }
