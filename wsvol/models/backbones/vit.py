"""A timm vision transformer as a backbone: CLS tokens of the last blocks + the last block's attention.

``forward(x)`` returns

- ``cls_tokens`` (B, num_last_blocks, D): the CLS token after each of the last blocks, passed
  through the model's final norm — DINO's ``get_intermediate_layers`` / linear-probe convention,
  which the reference code feeds to its classifier;
- ``attn`` (B, heads, T, T): the last block's softmax attention over all T = prefix + patch
  tokens (prefix = CLS, then register/distillation tokens, as timm orders them).

timm's fused attention (``F.scaled_dot_product_attention``) never materializes the weights. The
last block's attention therefore takes timm's own unfused path (its ``fused_attn`` switch), which
computes softmax(q·kᵀ·scale) once and hands it to ``attn_drop``; a forward hook there keeps it,
so the attention is computed once and the block's output is timm's own. Every other block keeps
its fused path; nothing in timm is patched. An attention module without that switch gets a hook
that recomputes the weights from its own ``qkv``/``q_norm``/``k_norm`` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from wsvol.config.types import TimmArch
from wsvol.registry import BACKBONES
from wsvol.weights import load_timm_weights
from wsvol.weights.formats import read_weights
from wsvol.weights.pos_embed import resize_options

_ATTN_PARTS = ("qkv", "q_norm", "k_norm", "num_heads", "head_dim", "scale")


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


@BACKBONES.register_module(name="timm_vit")
class TimmViT(nn.Module):
    """Any timm vision transformer (DeiT, DINO ViT, ViT with registers, hybrid ViT with a ResNet stem, ...) as a backbone.

    Args:
        arch: timm model name, e.g. ``vit_small_patch16_224.dino`` (the reference's DINO ViT-S/16)
            or ``deit_small_patch16_224`` (the paper's DeiT-S).
        img_size: network input size (int or (H, W)); positional embeddings are sized for it.
        pretrained: ``None`` for random init, or a local weights file in any published format
            (DINO's, DeiT's, DINOv2's ``.pth``, timm's safetensors, a state dict under a
            ``state_dict``/``model`` key; a classifier in it is ignored), loaded strictly; no network.
        pos_embed_resize: how the weights' position embeddings are resized to ``img_size``: None
            for the original model's way (DINO, DINOv2: bicubic at scale (n + 0.1) / M, no
            antialias; DeiT: bicubic, no antialias; others: timm's antialiased bicubic), a preset
            name (``dino``, ``dinov2``, ``deit``, ``timm``, ...) or a dict of ``mode``,
            ``antialias``, ``offset`` (the rest from the original's).
        frozen: no gradients and eval mode for the transformer, even under ``.train()``
            (the reference code freezes it).
        num_last_blocks: how many of the last blocks give a CLS token.
        **timm_kwargs: passed to ``timm.create_model`` (e.g. ``depth``, ``embed_dim``,
            ``num_heads``, ``reg_tokens``, ``qk_norm``; for a hybrid such as
            ``vit_tiny_r_s16_p8_224``, ``patch_size`` counts stem-feature pixels).

    ``patch_size`` (attribute) is input pixels per token: the patch size, or for a hybrid its
    stem's stride times its patch size.
    """

    def __init__(
        self,
        arch: TimmArch = "vit_small_patch16_224.dino",
        img_size: int | tuple[int, int] = 224,
        pretrained: str | Path | None = None,
        pos_embed_resize: str | dict | None = None,
        frozen: bool = True,
        num_last_blocks: int = 4,
        **timm_kwargs: Any,
    ) -> None:
        super().__init__()
        model = timm.create_model(arch, pretrained=False, num_classes=0, img_size=_pair(img_size), **timm_kwargs)
        resize_options(pos_embed_resize, "timm", "timm_vit.pos_embed_resize")  # a bad value fails with or without weights
        if pretrained is not None:
            load_timm_weights(model, read_weights(pretrained), arch, pos_embed_resize, "timm_vit.pos_embed_resize")
        self.model = model
        for part in ("forward_intermediates", "blocks", "patch_embed", "cls_token"):
            if getattr(model, part, None) is None:
                raise TypeError(
                    f"timm model {arch!r} is not a vision transformer with a class token (no {part!r})"
                )
        attn = model.blocks[-1].attn
        missing = [p for p in _ATTN_PARTS if not hasattr(attn, p)]
        if missing:
            raise TypeError(
                f"the last block of {arch!r} has attention {type(attn).__name__} without {missing}"
            )
        if not 1 <= num_last_blocks <= len(model.blocks):
            raise ValueError(
                f"num_last_blocks={num_last_blocks} but {arch!r} has {len(model.blocks)} blocks"
            )

        self.arch = arch
        self.frozen = frozen
        self.num_last_blocks = num_last_blocks
        self.embed_dim: int = model.embed_dim
        self.num_heads: int = attn.num_heads
        self.num_prefix_tokens: int = model.num_prefix_tokens
        self.img_size: tuple[int, int] = _pair(model.patch_embed.img_size)
        self.grid_size: tuple[int, int] = _pair(model.patch_embed.grid_size)
        # input pixels per token: the patch size, or a hybrid's stem stride × its patch size
        self.patch_size: tuple[int, int] = (self.img_size[0] // self.grid_size[0], self.img_size[1] // self.grid_size[1])
        self.num_patches: int = self.grid_size[0] * self.grid_size[1]
        self.mean: tuple[float, ...] = tuple(model.pretrained_cfg["mean"])
        self.std: tuple[float, ...] = tuple(model.pretrained_cfg["std"])

        self._attn: torch.Tensor | None = None
        if isinstance(getattr(attn, "fused_attn", None), bool) and isinstance(getattr(attn, "attn_drop", None), nn.Module):
            attn.fused_attn = False  # timm's unfused path: the weights are computed once, here
            attn.attn_drop.register_forward_hook(self._keep_weights)
        else:
            attn.register_forward_hook(self._keep_attention, with_kwargs=True)
        if frozen:
            model.requires_grad_(False)
            model.eval()

    def _keep_weights(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self._attn = args[0]  # the softmax weights, before attention dropout

    def _keep_attention(
        self, module: nn.Module, args: tuple, kwargs: dict, output: torch.Tensor
    ) -> None:
        if kwargs.get("attn_mask") is not None or kwargs.get("is_causal", False):
            raise NotImplementedError("TimmViT does not recompute masked or causal attention")
        x = args[0] if args else kwargs["x"]
        B, T, _ = x.shape
        qkv = module.qkv(x).reshape(B, T, 3, module.num_heads, module.head_dim)
        q, k = (
            module.q_norm(qkv[:, :, 0].transpose(1, 2)),
            module.k_norm(qkv[:, :, 1].transpose(1, 2)),
        )
        self._attn = ((q * module.scale) @ k.transpose(-2, -1)).softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Images (B, 3, H, W) → {'cls_tokens': (B, n, D), 'attn': (B, heads, T, T)}."""
        self._attn = None
        outs = self.model.forward_intermediates(
            x, indices=self.num_last_blocks, return_prefix_tokens=True, norm=True,
            output_fmt="NLC", intermediates_only=True,
        )  # fmt: skip
        cls_tokens = torch.stack([prefix[:, 0] for _, prefix in outs], dim=1)
        attn, self._attn = self._attn, None
        return {"cls_tokens": cls_tokens, "attn": attn}

    def train(self, mode: bool = True) -> TimmViT:
        """Set train/eval mode; a frozen transformer stays in eval mode."""
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self
