"""What every CAM method shares: the hook on the target layer, the class targets, one backward
pass per batch, the token→grid reshape of ViTs, bilinear upsampling and min-max normalization.

A method subclasses :class:`BaseCAM` and says only how the feature maps ``A`` (B, K, h, w) and
their gradients ``G = ∂y_c/∂A`` combine: :meth:`BaseCAM.channel_weights` (→ ``M = Σ_k w_k A_k``)
or, for position-wise methods, :meth:`BaseCAM.combine`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsvol.registry import CAM_METHODS

#: Whose CAM a model or a pseudo-label source gives: ``true``, the frame's true class (its tag), as
#: wsolevaluation and TCAM's code score CAM baselines and make pseudo-labels; ``predicted``, the
#: predicted class (what ``localize`` and ``wsvol predict`` always use: a user's video has no tag).
CAM_TARGETS = ("true", "predicted")

#: ``reshape(activation, image_size) -> (B, K, h, w)`` for layers that do not output NCHW maps.
Reshape = Callable[[Tensor, tuple[int, int]], Tensor]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule at dotted ``name``; integer parts index containers (``blocks.-1.norm1``)."""
    module = model
    for i, part in enumerate(name.split(".")):
        if isinstance(module, (nn.Sequential, nn.ModuleList)) and part.lstrip("-").isdigit():
            try:
                module = module[int(part)]
                continue
            except IndexError:
                pass
        elif hasattr(module, part) and isinstance(getattr(module, part), nn.Module):
            module = getattr(module, part)
            continue
        done = ".".join(name.split(".")[:i]) or type(model).__name__
        children = [n for n, _ in module.named_children()]
        close = difflib.get_close_matches(part, children, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"target layer {name!r}: {done} has no submodule {part!r}{hint} "
                         f"(children: {', '.join(children) or 'none'})")
    return module


def find_vit(model: nn.Module) -> nn.Module | None:
    """The first submodule that looks like a timm ViT (``num_prefix_tokens`` + ``patch_embed``)."""
    for module in model.modules():
        if hasattr(module, "num_prefix_tokens") and hasattr(module, "patch_embed"):
            return module
    return None


def tokens_to_grid(tokens: Tensor, vit: nn.Module, image_size: tuple[int, int]) -> Tensor:
    """(B, P+N, D) tokens of a timm ViT → (B, D, gh, gw) patch grid, dropping the P prefix tokens.

    P (class + register/distillation tokens) is the model's ``num_prefix_tokens``; the grid is
    ``patch_embed.grid_size``, or ``patch_embed.dynamic_feat_size(image_size)`` for models built
    with ``dynamic_img_size`` that get another input size.
    """
    if tokens.ndim != 3:
        raise ValueError(f"expected ViT tokens (B, N, D), got shape {tuple(tokens.shape)}")
    prefix = int(vit.num_prefix_tokens)
    patches = tokens[:, prefix:]
    gh, gw = vit.patch_embed.grid_size
    if gh * gw != patches.shape[1] and hasattr(vit.patch_embed, "dynamic_feat_size"):
        gh, gw = vit.patch_embed.dynamic_feat_size(tuple(image_size))
    if gh * gw != patches.shape[1]:
        raise ValueError(f"{tokens.shape[1]} tokens minus {prefix} prefix tokens do not fill the "
                         f"{gh}x{gw} patch grid of the ViT (input {tuple(image_size)})")
    return patches.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], gh, gw)


def minmax_normalize(maps: Tensor, eps: float = 0.0) -> Tensor:
    """Scale each map of (B, ...) to [0, 1] independently; a constant map becomes zeros.

    With ``eps`` > 0 this is ``(x - min) / (max - min + eps)``, as CLIP-ES's reference writes it.
    """
    flat = maps.flatten(1)
    lo, hi = torch.aminmax(flat, dim=1, keepdim=True)  # one pass for both
    span = hi - lo
    if eps > 0:
        return ((flat - lo) / (span + eps)).reshape(maps.shape)
    # a constant map has x - min = 0 everywhere: dividing by 1 leaves the zeros; a NaN stays NaN
    # (the evaluation and the pseudo-label cache stop on it, naming the frame)
    return (flat - lo).div_(torch.where(span > 0, span, 1)).reshape(maps.shape)


def resolve_targets(targets: int | Sequence[int] | Tensor | None, logits: Tensor) -> Tensor:
    """Class index per frame: the argmax of ``logits`` when ``targets`` is None, else ``targets``."""
    batch, num_classes = logits.shape
    if targets is None:
        return logits.argmax(1)
    t = torch.as_tensor(targets, device=logits.device).long().reshape(-1)
    if t.numel() == 1:
        t = t.expand(batch)
    if t.numel() != batch:
        raise ValueError(f"got {t.numel()} targets for a batch of {batch} images")
    bad = t[(t < 0) | (t >= num_classes)]
    if bad.numel():
        raise ValueError(f"target class {int(bad[0])} is out of range for a model with {num_classes} classes")
    return t


class BaseCAM:
    """Class activation maps of ``model`` at ``target_layer``; subclasses define the combination.

    Args:
        model: maps a (B, 3, H, W) batch to (B, C) logits (keep it in eval mode: BatchNorm in
            train mode mixes the frames of a batch).
        target_layer: the module whose output holds the maps, or its dotted name in ``model``
            (``"layer4"``, ``"backbone.blocks.-1.norm1"``).
        reshape: turns the layer's output into (B, K, h, w). ``"auto"``: 4-D outputs are used as
            they are, 3-D token outputs go through :func:`tokens_to_grid` with the first timm ViT
            found in ``model``; or pass a callable ``reshape(activation, image_size)``.

    Calling the object returns ``(maps, logits)``: maps (B, H, W) in [0, 1] at the input size
    (or ``size``), logits (B, C), both detached. :meth:`raw` gives the maps before upsampling and
    normalization.
    """

    #: ReLU on the combined map (CAM keeps the sign and is only min-max normalized).
    relu: bool = True
    #: Whether the method needs ∂y_c/∂A (CAM does not: no backward pass).
    uses_gradients: bool = True

    def __init__(self, model: nn.Module, target_layer: nn.Module | str, *,
                 reshape: Reshape | str | None = "auto") -> None:
        self.model = model
        self.layer_name = target_layer if isinstance(target_layer, str) else type(target_layer).__name__
        self.target_layer = get_layer(model, target_layer) if isinstance(target_layer, str) else target_layer
        if not isinstance(self.target_layer, nn.Module):
            raise TypeError(f"target_layer must be an nn.Module or a dotted name, got {type(target_layer).__name__}")
        if reshape not in ("auto", None) and not callable(reshape):
            raise ValueError(f"reshape must be 'auto', None or a callable, got {reshape!r}")
        self.reshape = reshape

    # -- what a method defines -------------------------------------------------------------
    def channel_weights(self, acts: Tensor, grads: Any, targets: Tensor) -> Tensor:
        """(B, K) weights of the feature maps; the map is ``Σ_k w_k A_k``."""
        raise NotImplementedError(f"{type(self).__name__} must define channel_weights or combine")

    def combine(self, acts: Tensor, grads: Any, targets: Tensor) -> Tensor:
        """(B, h, w) map before ReLU from maps ``acts`` (B, K, h, w) and their gradients."""
        # a product and a sum over channels (as pytorch-grad-cam): a batched matmul would sum in an
        # order that changes with the batch size
        return (self.channel_weights(acts, grads, targets)[:, :, None, None] * acts).sum(1)

    # -- shared machinery ------------------------------------------------------------------
    @contextmanager
    def _capture(self, gradients: bool) -> Iterator[dict[str, Tensor]]:
        store: dict[str, Tensor] = {}

        def hook(module: nn.Module, inputs: Any, output: Any) -> Tensor:
            if not isinstance(output, Tensor):
                raise TypeError(f"target layer {self.layer_name!r} returns {type(output).__name__}, "
                                f"expected a Tensor")
            if gradients:
                # the graph starts here: the layers before ran without autograd (nothing upstream
                # needs a gradient), the layers after run with it, back to the caller's mode after
                torch.set_grad_enabled(True)
                output = output.detach().requires_grad_(True)
            store["act"] = output
            return output

        handle = self.target_layer.register_forward_hook(hook)
        try:
            yield store
        finally:
            handle.remove()

    def _to_grid(self, act: Tensor, image_size: tuple[int, int]) -> Tensor:
        if callable(self.reshape):
            return self.reshape(act, image_size)
        if act.ndim == 4:
            return act
        if act.ndim == 3 and self.reshape == "auto":
            vit = find_vit(self.model)
            if vit is not None:
                return tokens_to_grid(act, vit, image_size)
        raise ValueError(f"target layer {self.layer_name!r} outputs shape {tuple(act.shape)}, not "
                         f"(B, K, h, w) maps, and no timm ViT was found to reshape its tokens: "
                         f"pass reshape=callable")

    def activations_and_gradients(self, images: Tensor, targets: Any = None, gradients: bool = True
                                  ) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
        """One forward (and one backward of the summed target scores) → (A, ∂y/∂A, logits, targets).

        A and ∂y/∂A are float (B, K, h, w) grids. Gradients come from ``torch.autograd.grad`` on
        the hooked activation, so parameters' ``.grad`` are left untouched.
        """
        if not isinstance(images, Tensor) or images.ndim != 4:
            raise ValueError(f"images must be a (B, 3, H, W) tensor, got "
                             f"{tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__}")
        if gradients and torch.is_inference_mode_enabled():
            raise RuntimeError(f"{type(self).__name__} needs gradients: call it under torch.no_grad(), "
                               f"not torch.inference_mode()")
        size = tuple(images.shape[-2:])
        # autograd off up to the target layer, whose hook turns it on for the rest of the forward
        # (even under a caller's no_grad, e.g. mmengine's val loop); the caller's mode is restored
        with torch.set_grad_enabled(False), self._capture(gradients) as store:
            logits = self.model(images)
            if not isinstance(logits, Tensor) or logits.ndim != 2:
                raise TypeError(f"the model must return (B, C) logits, got "
                                f"{tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__}")
            if "act" not in store:
                raise RuntimeError(f"target layer {self.layer_name!r} was not called by the model's forward")
            targets = resolve_targets(targets, logits)
            act, grads = store["act"], None
            if gradients:
                score = logits.gather(1, targets[:, None]).sum()  # frames are independent: one backward
                (grads,) = torch.autograd.grad(score, act, allow_unused=True)
                if grads is None:
                    raise RuntimeError(f"the class scores do not depend on target layer {self.layer_name!r}")
                grads = self._to_grid(grads.float(), size)
        return self._to_grid(act.detach().float(), size), grads, logits.detach(), targets

    def raw(self, images: Tensor, targets: Any = None) -> tuple[Tensor, Tensor]:
        """(maps at the layer's resolution (B, h, w), logits (B, C)), before upsampling/normalization."""
        acts, grads, logits, targets = self.activations_and_gradients(images, targets, self.uses_gradients)
        maps = self.combine(acts, grads, targets)
        return (maps.clamp_min(0) if self.relu else maps), logits

    def __call__(self, images: Tensor, targets: Any = None, size: tuple[int, int] | None = None
                 ) -> tuple[Tensor, Tensor]:
        """(maps (B, H, W) in [0, 1], logits (B, C)) for ``targets`` (default: predicted class)."""
        maps, logits = self.raw(images, targets)
        size = tuple(images.shape[-2:]) if size is None else tuple(size)
        if tuple(maps.shape[-2:]) != size:
            maps = F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
        return minmax_normalize(maps), logits

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target_layer={self.layer_name!r})"


def build_cam(cfg: str | dict, model: nn.Module, target_layer: nn.Module | str | None = None,
              **kwargs: Any) -> BaseCAM:
    """Build a registered CAM method by name (``"gradcampp"``) or config (``dict(type=..., **args)``)."""
    cfg = {"type": cfg} if isinstance(cfg, str) else dict(cfg)
    if "type" not in cfg:
        raise ValueError(f"CAM config {cfg!r} has no 'type'")
    name = cfg.pop("type")
    cls = CAM_METHODS.module_dict.get(name) or CAM_METHODS.lookup(name)  # built-ins need no plugins
    cfg.update(kwargs)
    if target_layer is not None:
        cfg["target_layer"] = target_layer
    if "target_layer" not in cfg:
        raise ValueError(f"CAM method {name!r} needs a target_layer")
    try:
        return cls(model, **cfg)
    except TypeError as err:  # e.g. an argument of another method left in an overridden config
        raise TypeError(f"CAM method {name!r} ({cls.__name__}): {err}") from err
