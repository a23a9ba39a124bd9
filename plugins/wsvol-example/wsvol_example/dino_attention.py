"""DINO attention maps as pseudo-labels: where a self-supervised ViT's CLS token looks.

Caron et al., "Emerging Properties in Self-Supervised Vision Transformers" (ICCV 2021): in a
ViT trained with DINO, the last block's attention of the CLS token to the patch tokens
outlines the main object without any label. This source turns that attention into maps:

1. the last block's softmax attention (B, heads, T, T) from the ``timm_vit`` backbone;
2. the CLS row, patch columns only (register/distillation tokens dropped): (B, heads, N);
3. the mean over heads, or one chosen ``head``;
4. optionally, as in DINO's ``visualize_attention.py``, only the largest values that together
   hold ``keep_mass`` of the attention mass are kept (the rest set to 0; DINO thresholds each
   head to a binary mask, here the head-mean keeps its values so maps stay graded);
5. bilinear upsampling from the patch grid to the input size, min-max scaling to [0, 1].

The maps are class-agnostic: ``labels`` are validated like any source's but do not change them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from wsvol.cams import minmax_normalize
from wsvol.config import component
from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.pseudo_labels.base import PseudoLabelSource
from wsvol.registry import BACKBONES
from wsvol.weights import WEIGHTS, WeightsFile, resolve_named

#: The backbone used when the config names none: DINO ViT-S/16 at 224×224.
DINO_VITS16 = {"type": "timm_vit", "arch": "vit_small_patch16_224.dino", "img_size": 224,
               "num_last_blocks": 1}
_NEEDED = ("num_prefix_tokens", "grid_size", "img_size", "num_heads", "mean", "std")


def top_mass_mask(values: Tensor, mass: float) -> Tensor:
    """Per row of ``values`` (B, N) ≥ 0: the fewest largest entries holding ≥ ``mass`` of the row's sum.

    Entries tied with the smallest kept one are kept too.
    """
    ordered = values.sort(dim=-1, descending=True).values
    cumulative = ordered.cumsum(dim=-1)
    last = torch.searchsorted(cumulative, mass * cumulative[:, -1:])  # first index reaching mass
    last = last.clamp(max=values.shape[-1] - 1)  # rounding can leave the total just below mass·sum
    return values >= ordered.gather(-1, last)


class DinoAttention(PseudoLabelSource):
    """Class-agnostic maps: a self-supervised ViT's last-block CLS attention to the patches (DINO)."""

    def __init__(
        self,
        backbone: component("backbone") | None = None,
        pretrained: str | None = None,
        head: int | None = None,
        keep_mass: float | None = None,
        class_names: Sequence[str] = YOUTUBE_OBJECTS_CLASSES,
    ) -> None:
        """Build the (frozen) backbone.

        ``backbone``: a backbone config returning ``attn`` like ``timm_vit`` (default: DINO
        ViT-S/16 at 224); ``pretrained``: a weights file or the name ``dino_vits16``, passed to
        the backbone (None: random init, for tests); ``head``: one head's attention instead of
        the mean of heads; ``keep_mass``: keep the largest attention values holding this
        fraction of the mass (DINO's visualisation uses 0.6); ``class_names``: only to
        validate labels.
        """
        super().__init__()
        cfg = dict(DINO_VITS16 if backbone is None else backbone)
        pretrained = resolve_named(pretrained, self.weights_files(), "dino_attention.pretrained")
        if pretrained is not None:
            if cfg.get("pretrained") not in (None, pretrained):
                raise ValueError(
                    f"dino_attention: pretrained={pretrained!r} and backbone.pretrained="
                    f"{cfg['pretrained']!r} disagree; give the weights file once"
                )
            cfg["pretrained"] = pretrained
        self.backbone = BACKBONES.build(cfg).requires_grad_(False).eval()
        missing = [a for a in _NEEDED if not hasattr(self.backbone, a)]
        if missing:
            raise TypeError(
                f"dino_attention: backbone {cfg.get('type')!r} lacks {missing}; it needs a ViT "
                f"backbone that returns the last block's attention, like 'timm_vit'"
            )
        heads = self.backbone.num_heads
        if head is not None and not 0 <= head < heads:
            raise ValueError(f"dino_attention: head={head} but the backbone has {heads} heads (0..{heads - 1})")
        if keep_mass is not None and not 0.0 < keep_mass <= 1.0:
            raise ValueError(f"dino_attention: keep_mass={keep_mass} is not in (0, 1]")
        self.head = head
        self.keep_mass = keep_mass
        self.class_names = tuple(class_names)
        self.mean, self.std = tuple(self.backbone.mean), tuple(self.backbone.std)
        self.input_size = tuple(self.backbone.img_size)

    @classmethod
    def weights_files(cls) -> tuple[WeightsFile, ...]:
        """DINO ViT-S/16 (the default backbone), passed as ``pretrained``."""
        return (WEIGHTS["dino_vits16"],)

    @torch.no_grad()
    def attention_grid(self, images: Tensor) -> Tensor:
        """CLS→patch attention on the patch grid (B, h, w), head-selected and thresholded, unscaled."""
        attn = self.backbone(images)["attn"]  # (B, heads, T, T), prefix tokens first
        cls = attn[:, :, 0, self.backbone.num_prefix_tokens :]
        cls = cls.mean(dim=1) if self.head is None else cls[:, self.head]
        if self.keep_mass is not None:
            cls = cls * top_mass_mask(cls, self.keep_mass)
        return cls.reshape(-1, *self.backbone.grid_size)

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        """Maps (B, H, W) in [0, 1] for ``images`` (B, 3, H, W); ``labels`` are checked, then ignored."""
        self.check_inputs(images, labels)
        grid = self.attention_grid(images)
        maps = F.interpolate(grid[:, None], size=images.shape[-2:], mode="bilinear", align_corners=False)
        return minmax_normalize(maps[:, 0])
