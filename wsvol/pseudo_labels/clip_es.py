"""CLIP-ES pseudo-labels: GradCAM of CLIP against background words, refined by attention.

Follows Lin et al., "CLIP is Also an Efficient Segmenter" (CVPR 2023) as TrCAM-V uses it: the
frame's class prompt competes with 25 background-word prompts in a softmax; GradCAM of the class
score at the last block's input LayerNorm gives a patch-grid map, which class-aware attention
refinement (Sinkhorn-normalized, squared attention of the last blocks, restricted to the boxes of
the map's strong region) sharpens. open_clip provides the model; its attention weights are
recomputed from each block's own q/k, so open_clip itself is used unmodified.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsvol.cams import minmax_normalize
from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.pseudo_labels.base import PseudoLabelSource
from wsvol.registry import PSEUDO_LABEL_SOURCES
from wsvol.utils.components import component_boxes_mask
from wsvol.weights import WEIGHTS, WeightsFile, load_weights, resolve_named
from wsvol.weights.formats import CLIP_FORMATS, read_weights
from wsvol.weights.pos_embed import resize_abs_pos_embed, resize_options

#: CLIP-ES background words (its ``BACKGROUND_CATEGORY`` for VOC, which TrCAM-V reuses).
BACKGROUND_WORDS = (
    "ground", "land", "grass", "tree", "building", "wall", "sky", "lake", "water", "river", "sea",
    "railway", "railroad", "keyboard", "helmet", "cloud", "house", "mountain", "ocean", "road",
    "rock", "street", "valley", "bridge", "sign",
)  # fmt: skip
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLINGS = ("patch_mean", "cls")


@dataclass
class ClipESResult:
    """Every stage of one CLIP-ES pass over a batch (grid = the ViT's patch grid, h × w)."""

    probs: Tensor  #: (B, 1 + K) softmax over [frame's class, K background words]
    cam: Tensor  #: (B, h, w) GradCAM of probs[:, 0], min-max scaled to [0, 1]
    attn: Tensor  #: (B, N, N) attention among the N = h·w patch tokens, mean of heads and blocks
    refined: Tensor  #: (B, h, w) attention-refined map, before scaling
    maps: Tensor  #: (B, H, W) refined map upsampled to the input size, in [0, 1]


def block_attention(block: nn.Module, x: Tensor) -> Tensor:
    """Head-averaged softmax attention (B, L, L) of ``block.attn`` on its input ``x`` (B, L, D).

    Recomputed from the block's own ``in_proj`` q/k, as ``nn.MultiheadAttention`` with
    ``need_weights=True`` would return it (open_clip calls it with ``need_weights=False``).
    """
    mha = block.attn
    b, n, d = x.shape
    heads = mha.num_heads
    q, k, _ = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
    q = q.reshape(b, n, heads, d // heads).transpose(1, 2)
    k = k.reshape(b, n, heads, d // heads).transpose(1, 2)
    scores = (q * (d // heads) ** -0.5) @ k.transpose(-2, -1)
    return scores.softmax(-1).mean(1)


def sinkhorn_affinity(attn: Tensor, iters: int = 3) -> Tensor:
    """CLIP-ES affinity: ``iters`` rounds of column- then row-normalization, symmetrized, squared."""
    t = attn
    for _ in range(iters):
        t = t / t.sum(-2, keepdim=True)
        t = t / t.sum(-1, keepdim=True)
    t = (t + t.transpose(-1, -2)) / 2
    return t @ t


def cam_box_mask(cam: Tensor, threshold: float = 0.4) -> Tensor:
    """CLIP-ES ``scoremap2bbox`` (multi-contour) as a mask: boxes of all contours of the strong region.

    ``cam`` is one map (h, w) or a batch (B, h, w); the mask has its shape and device. The map
    is quantized as ``uint8(cam·255)``; the region is ``uint8 > int(threshold·max)``; every
    contour's bounding box (x0, y0, x0 + w, y0 + h), with x1/y1 clipped to W-1/H-1, is set as the
    slice ``[y0:y1, x0:x1]`` — the reference's exclusive ends, so a box touching the right or
    bottom border loses its last column or row, as in the reference. OpenCV's contours are the
    borders of the region's 8-connected components (holes' borders lie inside them), so the
    mask is built from those components, batched on the device
    (:func:`~wsvol.utils.components.component_boxes_mask`).
    """
    single = cam.ndim == 2
    batch = cam.detach().float()[None] if single else cam.detach().float()
    u8 = (batch * 255).to(torch.uint8)  # truncation, as numpy's astype(uint8)
    level = torch.floor(threshold * u8.amax((1, 2), keepdim=True).double())
    mask = component_boxes_mask(u8 > level)
    return mask[0] if single else mask


def refine_cam(cam: Tensor, attn: Tensor, threshold: float = 0.4, iters: int = 3) -> Tensor:
    """Class-aware attention refinement: ``(affinity ⊙ box-mask columns) · cam`` per frame.

    ``cam`` (B, h, w) in [0, 1], ``attn`` (B, N, N) with N = h·w; returns (B, h, w). The mask
    keeps the affinity columns (source patches) inside the boxes of ``cam``'s strong region.
    """
    b, h, w = cam.shape
    affinity = sinkhorn_affinity(attn.float(), iters)
    mask = cam_box_mask(cam, threshold)
    refined = (affinity * mask.view(b, 1, h * w)) @ cam.float().reshape(b, h * w, 1)
    return refined.view(b, h, w)


def load_clip(model_name: str, pretrained: str | os.PathLike | None, overrides: dict | None = None,
              pos_embed_resize: str | dict | None = None) -> nn.Module:
    """An open_clip CLIP ``create_model(model_name, **overrides)`` (fp32, CPU) with ``pretrained``.

    ``pretrained`` is None (random init) or a local file: OpenAI's TorchScript archive
    ``ViT-B-16.pt`` (read without running it) or open_clip's state dict (safetensors or torch
    file). It loads strictly; image position embeddings of another grid are resized with
    ``pos_embed_resize`` (None: CLIP-ES's bilinear ``upsample_pos_emb``). OpenAI's weights were
    trained with QuickGELU, which is not stored in them: a GELU ``model_name`` is refused.
    """
    import open_clip
    from open_clip.transformer import QuickGELU

    opts = resize_options(pos_embed_resize, "clip_es", "clip_es.pos_embed_resize")
    if pretrained is None:
        return open_clip.create_model(model_name, **(overrides or {}))
    quiet = _Without("initialized randomly")  # open_clip's notice; the weights are loaded below
    logging.getLogger().addFilter(quiet)
    try:
        model = open_clip.create_model(model_name, **(overrides or {}))
    finally:
        logging.getLogger().removeFilter(quiet)
    weights = read_weights(pretrained, expect=CLIP_FORMATS, user="clip_es")
    blocks = getattr(getattr(getattr(model, "visual", None), "transformer", None), "resblocks", ())
    act = getattr(getattr(blocks[0], "mlp", None), "gelu", None) if len(blocks) else None
    if weights.format == "openai_clip" and act is not None and not isinstance(act, QuickGELU):
        raise ValueError(
            f"clip_es: {weights.path} holds OpenAI's CLIP weights, trained with QuickGELU, but model "
            f"{model_name!r} uses {type(act).__name__}: use model_name 'ViT-B-16-quickgelu' (or another "
            "'-quickgelu' model)")
    state = dict(weights.state)
    pos, own = state.get("visual.positional_embedding"), getattr(model.visual, "positional_embedding", None)
    if pos is not None and own is not None and pos.shape != own.shape and pos.dim() == 2:
        state["visual.positional_embedding"] = resize_abs_pos_embed(
            pos, tuple(model.visual.grid_size), num_prefix_tokens=1, **opts)
    load_weights(model, state, str(weights.path))
    return model


class _Without(logging.Filter):
    """Drops log records whose message contains ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        return self.text not in record.getMessage()


def _check_architecture(model: nn.Module, model_name: str) -> None:
    """Raise unless ``model`` is a CLIP whose image tower is a plain open_clip ViT."""
    visual = getattr(model, "visual", None)
    blocks = getattr(getattr(visual, "transformer", None), "resblocks", None)
    problem = None
    if blocks is None or not hasattr(visual, "ln_post"):
        problem = "its image tower is not an open_clip VisionTransformer"
    elif getattr(visual, "attn_pool", None) is not None or getattr(
        visual, "final_ln_after_pool", False
    ):
        problem = "its image tower uses attentional pooling or a final LayerNorm after pooling"
    elif getattr(visual, "proj", None) is None:
        problem = "its image tower has no projection"
    elif not all(
        isinstance(getattr(b, "attn", None), nn.MultiheadAttention)
        and b.attn.in_proj_weight is not None
        for b in blocks
    ):
        problem = "its blocks do not use nn.MultiheadAttention with a packed in_proj"
    if problem:
        raise ValueError(f"clip_es: model {model_name!r} is not supported: {problem}")


@PSEUDO_LABEL_SOURCES.register_module(name="clip_es")
class ClipES(PseudoLabelSource):
    """CLIP-ES pseudo-label maps from an open_clip ViT (default: ViT-B/16 with QuickGELU, OpenAI)."""

    def __init__(
        self,
        class_names: Sequence[str] = YOUTUBE_OBJECTS_CLASSES,
        model_name: str = "ViT-B-16-quickgelu",
        pretrained: str | None = None,
        model_overrides: dict | None = None,
        pos_embed_resize: str | dict | None = None,
        template: str = "a clean origami {}.",
        background_words: Sequence[str] = BACKGROUND_WORDS,
        logit_scale: float | None = 100.0,
        image_pooling: str = "patch_mean",
        attn_layers: int = 8,
        sinkhorn_iters: int = 3,
        box_threshold: float = 0.4,
        imagenet_norm: bool = False,
    ) -> None:
        """Build the model and the prompts' text features.

        ``pretrained`` is a weights file (OpenAI's ``ViT-B-16.pt`` or open_clip's state dict),
        the weights name ``clip_vit_b16_openai`` (found by :mod:`wsvol.weights`), or None
        (random init); ``pos_embed_resize`` resizes its image position embeddings when
        ``model_overrides`` sets another image size (None: CLIP-ES's bilinear
        ``upsample_pos_emb``; a preset name or a dict of mode, antialias, offset); ``logit_scale`` None uses the
        model's learned scale; ``image_pooling`` "patch_mean" is the reference's image embedding
        (ln_post tokens averaged over patches, then projected), "cls" is CLIP's usual class-token
        embedding; ``imagenet_norm`` only switches the ``mean``/``std`` the pipeline normalizes
        with, to reproduce the reference's ImageNet normalization.
        """
        super().__init__()
        if "{}" not in template:
            raise ValueError(f"clip_es: template {template!r} has no '{{}}' for the class name")
        if image_pooling not in POOLINGS:
            raise ValueError(f"clip_es: image_pooling {image_pooling!r} is not one of {POOLINGS}")
        if attn_layers < 1 or sinkhorn_iters < 1:
            raise ValueError(
                f"clip_es: attn_layers ({attn_layers}) and sinkhorn_iters ({sinkhorn_iters}) must be >= 1"
            )
        if not 0.0 <= box_threshold < 1.0:
            raise ValueError(f"clip_es: box_threshold {box_threshold} is not in [0, 1)")
        if not class_names or not background_words:
            raise ValueError("clip_es: class_names and background_words must not be empty")
        self.class_names = tuple(class_names)
        self.background_words = tuple(background_words)
        self.template = template
        self.logit_scale = logit_scale
        self.image_pooling = image_pooling
        self.attn_layers = attn_layers
        self.sinkhorn_iters = sinkhorn_iters
        self.box_threshold = box_threshold
        self.mean, self.std = (
            (IMAGENET_MEAN, IMAGENET_STD) if imagenet_norm else (CLIP_MEAN, CLIP_STD)
        )

        pretrained = resolve_named(pretrained, self.weights_files(), "clip_es.pretrained")
        model = load_clip(model_name, pretrained, model_overrides, pos_embed_resize)
        _check_architecture(model, model_name)
        self.model = model.float().eval().requires_grad_(False)
        self.input_size = tuple(int(s) for s in self.model.visual.image_size)
        self.grid_size = tuple(int(s) for s in self.model.visual.grid_size)

        import open_clip

        tokenizer = open_clip.get_tokenizer(model_name)
        prompts = [template.format(n) for n in (*self.class_names, *self.background_words)]
        with torch.no_grad():
            tokens = tokenizer(prompts, context_length=self.model.context_length)
            text = F.normalize(self.model.encode_text(tokens).float(), dim=-1)
        self.register_buffer("class_text", text[: len(self.class_names)], persistent=False)
        self.register_buffer("background_text", text[len(self.class_names) :], persistent=False)

    @classmethod
    def weights_files(cls) -> tuple[WeightsFile, ...]:
        """The OpenAI CLIP ViT-B/16 weights, passed as ``pretrained``."""
        return (WEIGHTS["clip_vit_b16_openai"],)

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        """Pseudo-label maps (B, H, W) in [0, 1] for normalized ``images`` of classes ``labels``."""
        return self.run(images, labels).maps

    def run(self, images: Tensor, labels: Tensor) -> ClipESResult:
        """The full CLIP-ES pass over a batch, every stage kept (one backward for the batch)."""
        from wsvol.cams import GradCAM

        labels = self.check_inputs(images, labels)
        visual = self.model.visual
        blocks = list(visual.transformer.resblocks)
        watched = blocks[-self.attn_layers :]
        batch_first = getattr(visual.transformer, "batch_first", True)
        attn_inputs: list[Tensor] = []

        def keep_attn_input(_module, _args, out: Tensor) -> None:
            attn_inputs.append(out.detach() if batch_first else out.detach().transpose(0, 1))

        def patch_grid(tokens: Tensor, _size) -> Tensor:  # (B, 1 + N, D) or (1 + N, B, D) → (B, D, h, w)
            tokens = tokens if batch_first else tokens.transpose(0, 1)
            return tokens[:, 1:].transpose(1, 2).reshape(tokens.shape[0], -1, *self.grid_size)

        # GradCAM of the frame class's softmax score at the last block's input LayerNorm
        gradcam = GradCAM(_ClassScore(self, labels), blocks[-1].ln_1, reshape=patch_grid)
        handles = [b.ln_1.register_forward_hook(keep_attn_input) for b in watched]
        try:
            with torch.inference_mode(False):
                x = images.clone() if images.is_inference() else images
                grid, probs = gradcam.raw(x.to(visual.conv1.weight.dtype), targets=0)
        finally:
            for handle in handles:
                handle.remove()

        with torch.no_grad():
            cam = minmax_normalize(grid, eps=1e-7)
            attn = torch.stack(
                [block_attention(blk, a) for blk, a in zip(watched, attn_inputs, strict=True)]
            )
            attn = attn.float().mean(0)[:, 1:, 1:]
            refined = refine_cam(cam, attn, self.box_threshold, self.sinkhorn_iters)
            grid = minmax_normalize(refined, eps=1e-7)
            maps = F.interpolate(
                grid[:, None], size=images.shape[-2:], mode="bilinear", align_corners=False
            )
            maps = minmax_normalize(maps[:, 0])
        return ClipESResult(probs=probs, cam=cam, attn=attn, refined=refined, maps=maps)

    def _probs(self, image_features: Tensor, labels: Tensor) -> Tensor:
        """Softmax over [class, background words] of scale · cosine; (B, 1 + K)."""
        scale = (
            self.model.logit_scale.exp().float() if self.logit_scale is None else self.logit_scale
        )
        text = torch.cat(
            [self.class_text[labels][:, None], self.background_text.expand(len(labels), -1, -1)],
            dim=1,
        )
        return (scale * torch.einsum("bd,bkd->bk", image_features, text)).softmax(-1)


class _ClassScore(nn.Module):
    """CLIP as a CAM method sees it: images → the softmax over [each frame's class, the background
    words] (B, 1 + K), so that the frame's class is target 0."""

    def __init__(self, source: ClipES, labels: Tensor) -> None:
        super().__init__()
        self.__dict__["source"] = source  # not a submodule: the source holds the model
        self.labels = labels

    def forward(self, images: Tensor) -> Tensor:
        source = self.source
        visual = source.model.visual
        store: dict[str, Tensor] = {}
        handle = visual.ln_post.register_forward_hook(lambda _m, _a, out: store.update(tokens=out))
        try:
            visual(images)
        finally:
            handle.remove()
        tokens = store["tokens"]  # (B, 1 + N, D), ln_post applied to every token
        pooled = tokens[:, 1:].mean(1) if source.image_pooling == "patch_mean" else tokens[:, 0]
        return source._probs(F.normalize((pooled @ visual.proj).float(), dim=-1), self.labels)
