"""Random-init stand-ins for the weight files users bring, written in their published layouts.

Each writer follows the publishing project's own code (see docs/weights.md and the notes in
each docstring): the container, the key names and shapes, the dtypes and any wrapper. Nothing is
downloaded; the tensors are random, so a test can tell which file a model's weights came from.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch


class Payload:
    """Pickles to a call of ``os.system('touch <marker>')``: a file that runs code when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def payload_bytes(marker: Path) -> bytes:
    """A protocol-2 pickle that creates ``marker`` when loaded with plain ``pickle``."""
    return pickle.dumps(Payload(marker), protocol=2)


def random_state(layout: Mapping[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """fp32 random init in ``layout``: N(0, 0.02) everywhere, norms and LayerScale around 1."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in layout.items():
        t = torch.randn(shape, generator=g) * 0.02
        if key.endswith("gamma") or (("norm" in key or "ln" in key) and key.endswith(".weight")):
            t += 1
        out[key] = t
    return out


# -- DINO, DeiT, DINOv2 ------------------------------------------------------------------------
def vit_layout(embed_dim: int = 384, depth: int = 12, patch: int = 16, img: int = 224,
               num_classes: int = 0, layer_scale: bool = False, mask_token: bool = False,
               registers: int = 0) -> dict[str, tuple[int, ...]]:
    """``state_dict()`` names and shapes of the published ViTs, in their order:

    - DINO (facebookresearch/dino ``vision_transformer.VisionTransformer``, qkv_bias, no head:
      hub ``dino_vits16`` builds ``vit_small(patch_size=16, num_classes=0)``);
    - DeiT (timm 0.3.2 ``VisionTransformer`` as facebookresearch/deit builds it): the same plus
      the 1000-class ``head``;
    - DINOv2 (facebookresearch/dinov2 ``DinoVisionTransformer`` as hub ``dinov2_vits14`` builds
      it: img_size 518, patch 14, init_values 1.0 → ``ls1``/``ls2.gamma``, block_chunks 0):
      cls_token, pos_embed, [register_tokens], mask_token first.
    """
    d, g = embed_dim, img // patch
    out: dict[str, tuple[int, ...]] = {"cls_token": (1, 1, d), "pos_embed": (1, g * g + 1, d)}
    if registers:
        out["register_tokens"] = (1, registers, d)
    if mask_token:
        out["mask_token"] = (1, d)
    out.update({"patch_embed.proj.weight": (d, 3, patch, patch), "patch_embed.proj.bias": (d,)})
    for i in range(depth):
        b = f"blocks.{i}."
        out.update({
            b + "norm1.weight": (d,), b + "norm1.bias": (d,),
            b + "attn.qkv.weight": (3 * d, d), b + "attn.qkv.bias": (3 * d,),
            b + "attn.proj.weight": (d, d), b + "attn.proj.bias": (d,),
        })  # fmt: skip
        if layer_scale:
            out[b + "ls1.gamma"] = (d,)
        out.update({
            b + "norm2.weight": (d,), b + "norm2.bias": (d,),
            b + "mlp.fc1.weight": (4 * d, d), b + "mlp.fc1.bias": (4 * d,),
            b + "mlp.fc2.weight": (d, 4 * d), b + "mlp.fc2.bias": (d,),
        })  # fmt: skip
        if layer_scale:
            out[b + "ls2.gamma"] = (d,)
    out.update({"norm.weight": (d,), "norm.bias": (d,)})
    if num_classes:
        out.update({"head.weight": (num_classes, d), "head.bias": (num_classes,)})
    return out


def dino_layout(**kw) -> dict[str, tuple[int, ...]]:
    """DINO ViT-S/16 (``dino_deitsmall16_pretrain.pth``)."""
    return vit_layout(**kw)


def deit_layout(**kw) -> dict[str, tuple[int, ...]]:
    """DeiT-S/16 (``deit_small_patch16_224-cd65a155.pth``): DINO's keys + the ImageNet head."""
    return vit_layout(num_classes=1000, **kw)


def dinov2_layout(registers: int = 0, **kw) -> dict[str, tuple[int, ...]]:
    """DINOv2 ViT-S/14 (``dinov2_vits14_pretrain.pth``): 37×37 grid, LayerScale, mask_token."""
    return vit_layout(**{"patch": 14, "img": 518, **kw}, layer_scale=True, mask_token=True, registers=registers)


def write_dino(path: Path, seed: int = 0, **kw) -> dict[str, torch.Tensor]:
    """``dino_deitsmall16_pretrain.pth``: ``torch.save`` of the teacher backbone's plain state dict."""
    state = random_state(dino_layout(**kw), seed)
    torch.save(state, path)
    return state


def write_deit(path: Path, seed: int = 0, **kw) -> dict[str, torch.Tensor]:
    """``deit_small_patch16_224-cd65a155.pth``: ``{"model": state dict}`` with the head."""
    state = random_state(deit_layout(**kw), seed)
    torch.save({"model": state}, path)
    return state


def write_dinov2(path: Path, seed: int = 0, **kw) -> dict[str, torch.Tensor]:
    """``dinov2_vits14_pretrain.pth``: a plain state dict (mask_token, LayerScale, 37×37 grid)."""
    state = random_state(dinov2_layout(**kw), seed)
    torch.save(state, path)
    return state


def write_resnet50(path: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """``resnet50-0676ba61.pth``: torchvision's ResNet-50 state dict (with its ImageNet ``fc``) as
    published: without BatchNorm's ``num_batches_tracked`` (the 2017 file, re-saved unchanged;
    pytorch/vision#3620), which torch.nn's BatchNorm fills in when loading."""
    from torchvision.models import resnet50

    torch.manual_seed(seed)
    state = {k: v for k, v in resnet50().state_dict().items() if not k.endswith(".num_batches_tracked")}
    torch.save(state, path)
    return state


# -- CLIP ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipCfg:
    """The arguments OpenAI's ``build_model`` reads off the state dict (clip/model.py)."""

    embed_dim: int = 512
    image_resolution: int = 224
    vision_layers: int = 12
    vision_width: int = 768
    vision_patch_size: int = 16
    context_length: int = 77
    vocab_size: int = 49408
    transformer_width: int = 512
    transformer_heads: int = 8
    transformer_layers: int = 12

    def overrides(self) -> dict[str, Any]:
        """open_clip ``create_model`` overrides that build this architecture."""
        return dict(embed_dim=self.embed_dim,
                    vision_cfg=dict(image_size=self.image_resolution, layers=self.vision_layers,
                                    width=self.vision_width, patch_size=self.vision_patch_size),
                    text_cfg=dict(context_length=self.context_length, vocab_size=self.vocab_size,
                                  width=self.transformer_width, heads=self.transformer_heads,
                                  layers=self.transformer_layers))


VIT_B_16 = ClipCfg()
#: OpenAI's key pattern (heads = width // 64) at ~3.4 M parameters, mostly the token embedding
TINY_CLIP = ClipCfg(embed_dim=32, image_resolution=32, vision_layers=2, vision_width=64, vision_patch_size=16,
                    transformer_width=64, transformer_heads=1, transformer_layers=2)


def build_openai_layout_clip(cfg: ClipCfg = VIT_B_16, seed: int = 0):
    """open_clip's ``CLIP`` as ``build_model_from_openai_state_dict`` builds it (QuickGELU): its
    state-dict keys are OpenAI's, fp32, random init."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    torch.manual_seed(seed)
    return CLIP(
        cfg.embed_dim,
        vision_cfg=CLIPVisionCfg(layers=cfg.vision_layers, width=cfg.vision_width,
                                 patch_size=cfg.vision_patch_size, image_size=cfg.image_resolution),
        text_cfg=CLIPTextCfg(context_length=cfg.context_length, vocab_size=cfg.vocab_size,
                             width=cfg.transformer_width, heads=cfg.transformer_heads,
                             layers=cfg.transformer_layers),
        quick_gelu=True,
    ).eval()


def write_openai_clip_torchscript(path: Path, cfg: ClipCfg = VIT_B_16, seed: int = 0) -> dict[str, torch.Tensor]:
    """A TorchScript archive in the layout of OpenAI's ``ViT-B-16.pt``; returns its state dict.

    Faithful: the zip's records (data.pkl, data/<key>, constants.pkl, code/), a traced module
    tree whose ``state_dict()`` has OpenAI's keys and dtypes (Conv/Linear/MHA weights and the two
    projections fp16 as OpenAI's ``convert_weights`` leaves them; LayerNorms, embeddings and the
    0-dim logit_scale fp32), the causal mask a graph constant, and the int64 scalar buffers
    input_resolution/context_length/vocab_size. Not faithful: the class names (open_clip's,
    not OpenAI's), the traced code and the archive version — no reader may depend on those.
    """
    import warnings

    from open_clip.model import convert_weights_to_lp

    model = build_openai_layout_clip(cfg, seed)
    mask = model._buffers.pop("attn_mask")  # OpenAI: a plain attribute → traced as a constant
    model.__dict__["attn_mask"] = mask
    del model.context_length, model.vocab_size  # python ints in open_clip; tensors in OpenAI's archive
    model.register_buffer("input_resolution", torch.tensor(cfg.image_resolution))
    model.register_buffer("context_length", torch.tensor(cfg.context_length))
    model.register_buffer("vocab_size", torch.tensor(cfg.vocab_size))
    convert_weights_to_lp(model, torch.float16)  # = OpenAI's convert_weights (same layer set)
    image = torch.zeros(1, 3, cfg.image_resolution, cfg.image_resolution, dtype=torch.float16)
    text = torch.zeros(1, cfg.context_length, dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated; OpenAI shipped it all the same
        traced = torch.jit.trace_module(
            model, dict(forward=(image, text), encode_image=(image,), encode_text=(text,)), check_trace=False)
        torch.jit.save(traced, str(path))
    return {k: v.clone() for k, v in model.state_dict().items()}


def write_open_clip_state_dict(path: Path, cfg: ClipCfg = VIT_B_16, seed: int = 0,
                               dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """open_clip's hub file: ``open_clip_pytorch_model.bin`` (torch.save) or
    ``open_clip_model.safetensors``: the CLIP state dict, OpenAI's key names without its 3 ints."""
    state = {k: v.to(dtype) if v.is_floating_point() else v
             for k, v in build_openai_layout_clip(cfg, seed).state_dict().items()}
    if str(path).endswith(".safetensors"):
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return state


# -- CLIPSeg ---------------------------------------------------------------------------------------
#: ``config.json`` of a tiny CLIPSeg in CIDAS/clipseg-rd64-refined's form (complex transposed
#: convolution, eos_token_id 2); ~6 MB, most of it CLIP's token embedding
TINY_CLIPSEG: dict[str, Any] = {
    "model_type": "clipseg", "architectures": ["CLIPSegForImageSegmentation"],
    "text_config": {"vocab_size": 49408, "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                    "num_attention_heads": 4, "max_position_embeddings": 77, "eos_token_id": 2},
    "vision_config": {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 3,
                      "num_attention_heads": 4, "image_size": 32, "patch_size": 8},
    "projection_dim": 16, "reduce_dim": 8, "extract_layers": [0, 1, 2], "decoder_num_attention_heads": 2,
    "decoder_intermediate_size": 16, "use_complex_transposed_convolution": True,
}  # fmt: skip


def clipseg_layout(config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """``CLIPSegForImageSegmentation(config).state_dict()`` names and shapes (transformers'
    modeling_clipseg; the test against transformers checks this transcription)."""
    text, vision = config["text_config"], config["vision_config"]
    out: dict[str, tuple[int, ...]] = {"clip.logit_scale": ()}

    def encoder(prefix: str, d: int, inner: int, layers: int) -> None:
        for i in range(layers):
            b = f"{prefix}layers.{i}."
            for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                out.update({f"{b}self_attn.{proj}.weight": (d, d), f"{b}self_attn.{proj}.bias": (d,)})
            out.update({f"{b}layer_norm1.weight": (d,), f"{b}layer_norm1.bias": (d,),
                        f"{b}mlp.fc1.weight": (inner, d), f"{b}mlp.fc1.bias": (inner,),
                        f"{b}mlp.fc2.weight": (d, inner), f"{b}mlp.fc2.bias": (d,),
                        f"{b}layer_norm2.weight": (d,), f"{b}layer_norm2.bias": (d,)})

    t, v = text["hidden_size"], vision["hidden_size"]
    out["clip.text_model.embeddings.token_embedding.weight"] = (text["vocab_size"], t)
    out["clip.text_model.embeddings.position_embedding.weight"] = (text["max_position_embeddings"], t)
    encoder("clip.text_model.encoder.", t, text["intermediate_size"], text["num_hidden_layers"])
    out.update({"clip.text_model.final_layer_norm.weight": (t,), "clip.text_model.final_layer_norm.bias": (t,)})
    p = vision["patch_size"]
    out["clip.vision_model.embeddings.class_embedding"] = (v,)
    out["clip.vision_model.embeddings.patch_embedding.weight"] = (v, 3, p, p)
    out["clip.vision_model.embeddings.position_embedding.weight"] = ((vision["image_size"] // p) ** 2 + 1, v)
    out.update({"clip.vision_model.pre_layrnorm.weight": (v,), "clip.vision_model.pre_layrnorm.bias": (v,)})
    encoder("clip.vision_model.encoder.", v, vision["intermediate_size"], vision["num_hidden_layers"])
    out.update({"clip.vision_model.post_layernorm.weight": (v,), "clip.vision_model.post_layernorm.bias": (v,)})
    proj, r = config["projection_dim"], config["reduce_dim"]
    out.update({"clip.visual_projection.weight": (proj, v), "clip.text_projection.weight": (proj, t)})
    out.update({"decoder.film_mul.weight": (r, proj), "decoder.film_mul.bias": (r,),
                "decoder.film_add.weight": (r, proj), "decoder.film_add.bias": (r,)})
    if config.get("use_complex_transposed_convolution"):
        k = p // 4
        out.update({"decoder.transposed_convolution.0.weight": (r, r, 3, 3),
                    "decoder.transposed_convolution.0.bias": (r,),
                    "decoder.transposed_convolution.2.weight": (r, r // 2, k, k),
                    "decoder.transposed_convolution.2.bias": (r // 2,),
                    "decoder.transposed_convolution.4.weight": (r // 2, 1, k, k),
                    "decoder.transposed_convolution.4.bias": (1,)})
    else:
        out.update({"decoder.transposed_convolution.weight": (r, 1, p, p),
                    "decoder.transposed_convolution.bias": (1,)})
    n = len(config["extract_layers"])
    for i in range(n):
        out.update({f"decoder.reduces.{i}.weight": (r, v), f"decoder.reduces.{i}.bias": (r,)})
    encoder("decoder.", r, config["decoder_intermediate_size"], n)
    return out


def write_clipseg_folder(folder: Path, config: Mapping[str, Any] = TINY_CLIPSEG, seed: int = 0,
                         layout: str = "safetensors") -> dict[str, torch.Tensor]:
    """A CLIPSeg folder as published: ``config.json`` + weights, ``layout`` one of

    - ``safetensors``: ``model.safetensors`` (what ``save_pretrained`` writes today);
    - ``bin``: the 2022 ``pytorch_model.bin`` (``torch.save``), with the then-persistent
      ``clip.{text,vision}_model.embeddings.position_ids`` buffers;
    - ``shards``: ``model-0000{1,2}-of-00002.safetensors`` + ``model.safetensors.index.json``.

    Returns the state dict the model should end up with (no position_ids).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(dict(config), indent=2))
    state = random_state(clipseg_layout(config), seed)
    from safetensors.torch import save_file

    if layout == "safetensors":
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    elif layout == "bin":
        text, vision = config["text_config"], config["vision_config"]
        legacy = dict(state)
        legacy["clip.text_model.embeddings.position_ids"] = torch.arange(text["max_position_embeddings"])[None]
        n = (vision["image_size"] // vision["patch_size"]) ** 2 + 1
        legacy["clip.vision_model.embeddings.position_ids"] = torch.arange(n)[None]
        torch.save(legacy, folder / "pytorch_model.bin")
    elif layout == "shards":
        keys = list(state)
        names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        halves = [keys[: len(keys) // 2], keys[len(keys) // 2:]]
        for name, part in zip(names, halves):
            save_file({k: state[k] for k in part}, str(folder / name), metadata={"format": "pt"})
        index = {"metadata": {}, "weight_map": {k: n for n, part in zip(names, halves) for k in part}}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    else:
        raise ValueError(layout)
    return state
