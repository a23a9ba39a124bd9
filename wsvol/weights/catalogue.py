"""The weights files wsvol knows by name: what each is, where users get it, who uses it.

One catalogue for the whole project. A component declares the files it needs with a
``weights_files()`` classmethod returning entries of :data:`WEIGHTS` (a third-party plugin may
declare files of its own there too); timm backbones find theirs through :data:`TIMM_WEIGHTS`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass


class WeightsError(FileNotFoundError):
    """Weights that cannot be found or loaded; the message says what to put where."""


@dataclass(frozen=True)
class WeightsFile:
    """A named weights file; the resolver finds it and passes its path as the component's ``arg``."""

    name: str  #: stable key, e.g. ``"clip_vit_b16_openai"``
    filename: str  #: the file (or folder) name a user is expected to have, e.g. ``"ViT-B-16.pt"``
    source: str  #: where a user gets it (URL and a word on what it is)
    arg: str = "pretrained"  #: the constructor argument that receives the local path


@dataclass(frozen=True)
class KnownWeights:
    """A named weights file and the components that use it."""

    file: WeightsFile
    used_by: tuple[str, ...]


_DEIT = "https://dl.fbaipublicfiles.com/deit"
_DINO = "https://dl.fbaipublicfiles.com/dino"
_HF = "https://huggingface.co/timm"
_CLIP = ("https://openaipublic.azureedge.net/clip/models/"
         "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt")

#: Every weights file of the catalogue, by name.
WEIGHTS: dict[str, WeightsFile] = {wf.name: wf for wf in (
    WeightsFile(
        "clip_vit_b16_openai", "ViT-B-16.pt",
        f"OpenAI CLIP ViT-B/16 (the TorchScript archive CLIP-ES and TrCAM-V load): {_CLIP} ; the same "
        f"weights as a plain state dict: open_clip_pytorch_model.bin from {_HF}/vit_base_patch16_clip_224.openai"),
    WeightsFile(
        "deit_s16_in1k", "deit_small_patch16_224-cd65a155.pth",
        f"DeiT-S/16, ImageNet-1k (Touvron et al.): {_DEIT}/deit_small_patch16_224-cd65a155.pth ; "
        f"or model.safetensors of {_HF}/deit_small_patch16_224.fb_in1k (give its path in the config)"),
    WeightsFile(
        "dino_vits16", "dino_deitsmall16_pretrain.pth",
        f"DINO ViT-S/16 (Caron et al.): {_DINO}/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth ; "
        f"or model.safetensors of {_HF}/vit_small_patch16_224.dino (give its path in the config)"),
    WeightsFile(
        "deit_b16_in1k", "deit_base_patch16_224-b5f2ef4d.pth",
        f"DeiT-B/16, ImageNet-1k: {_DEIT}/deit_base_patch16_224-b5f2ef4d.pth ; "
        f"or model.safetensors of {_HF}/deit_base_patch16_224.fb_in1k (give its path in the config)"),
    WeightsFile(
        "dino_vitb16", "dino_vitbase16_pretrain.pth",
        f"DINO ViT-B/16: {_DINO}/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth ; "
        f"or model.safetensors of {_HF}/vit_base_patch16_224.dino (give its path in the config)"),
    WeightsFile(
        "clipseg_rd64_refined", "clipseg-rd64-refined",
        "CLIPSeg rd64-refined (the wsvol-clipseg plugin): download the folder "
        "https://huggingface.co/CIDAS/clipseg-rd64-refined (config.json and model.safetensors or "
        "pytorch_model.bin; its tokenizer and preprocessor files are optional), e.g. `hf download "
        "CIDAS/clipseg-rd64-refined --local-dir <folder>` or `git clone "
        "https://huggingface.co/CIDAS/clipseg-rd64-refined`"),
    WeightsFile(
        "resnet50_in1k", "resnet50-0676ba61.pth",
        "torchvision ResNet-50 ImageNet-1k V1 (what wsolevaluation/TCAM start from): "
        "https://download.pytorch.org/models/resnet50-0676ba61.pth"),
)}  # fmt: skip

#: timm architectures (name without/with pretrained tag) → the name of their weights in :data:`WEIGHTS`.
TIMM_WEIGHTS: dict[str, str] = {
    "deit_small_patch16_224": "deit_s16_in1k",
    "vit_small_patch16_224.dino": "dino_vits16",
    "deit_base_patch16_224": "deit_b16_in1k",
    "vit_base_patch16_224.dino": "dino_vitb16",
    "resnet50": "resnet50_in1k",
}


def known_weights() -> dict[str, KnownWeights]:
    """Every named weights file: the catalogue's and those registered components (plugins included)
    declare, each with the components that use it."""
    from wsvol.registry import Registries

    found: dict[str, tuple[WeightsFile, list[str]]] = {name: (wf, []) for name, wf in WEIGHTS.items()}

    def add(wf: WeightsFile, user: str) -> None:
        file, users = found.setdefault(wf.name, (wf, []))
        if file.filename != wf.filename:  # a plugin's clash must not hide every other weights
            warnings.warn(f"weights name {wf.name!r} is declared with file {file.filename!r} by "
                          f"{', '.join(users)} and with {wf.filename!r} by {user}; keeping the first",
                          stacklevel=3)
            return
        users.append(user)

    for registry in Registries.all().values():
        for name in registry.entries():
            files = getattr(registry.get(name), "weights_files", None)
            if callable(files):
                for wf in files():
                    add(wf, f"{registry.kind} {name}")
    for arch, name in TIMM_WEIGHTS.items():
        add(WEIGHTS[name], f"model resnet50_cam (backbone: {arch})" if arch.startswith("resnet") else
            f"backbone timm_vit (arch: {arch}), model vit_classifier (backbone: {arch.split('.')[0]})")
    return {n: KnownWeights(wf, tuple(users)) for n, (wf, users) in sorted(found.items())}
