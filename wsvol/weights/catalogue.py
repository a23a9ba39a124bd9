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
    source: str  #: where a user gets it (URLs and a word on each)
    arg: str = "pretrained"  #: the constructor argument that receives the local path
    title: str = ""  #: what it is, in a few words
    format: str = "state_dict"  #: its layout as published (a key of ``wsvol.weights.FORMATS``)
    #: other paths in the weights folder that hold the same weights (e.g. a Hugging Face download)
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Use:
    """A component that uses a named weights file: its kind, its type and the arguments that select it."""

    kind: str  #: registry kind, e.g. ``backbone``
    type: str  #: registered name, e.g. ``timm_vit``
    args: tuple[tuple[str, str], ...] = ()  #: e.g. ``(("arch", "vit_small_patch16_224.dino"),)``

    def __str__(self) -> str:
        args = ", ".join(f"{k}: {v}" for k, v in self.args)
        return f"{self.kind} {self.type}" + (f" ({args})" if args else "")


@dataclass(frozen=True)
class KnownWeights:
    """A named weights file and the components that use it."""

    file: WeightsFile
    uses: tuple[Use, ...]

    @property
    def used_by(self) -> tuple[str, ...]:
        """The components that use it, in words."""
        return tuple(str(u) for u in self.uses)


_DEIT = "https://dl.fbaipublicfiles.com/deit"
_DINO = "https://dl.fbaipublicfiles.com/dino"
_HF = "https://huggingface.co/timm"
_CLIP = ("https://openaipublic.azureedge.net/clip/models/"
         "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt")

#: Every weights file of the catalogue, by name.
WEIGHTS: dict[str, WeightsFile] = {wf.name: wf for wf in (
    WeightsFile(
        "clip_vit_b16_openai", "ViT-B-16.pt",
        f"OpenAI's TorchScript archive (what clip.load('ViT-B/16') downloads): {_CLIP} ; or the same "
        f"weights from {_HF}/vit_base_patch16_clip_224.openai (its open_clip_model.safetensors or "
        "open_clip_pytorch_model.bin, not timm's model.safetensors)",
        title="OpenAI CLIP ViT-B/16 (QuickGELU)", format="openai_clip",
        also=("vit_base_patch16_clip_224.openai/open_clip_model.safetensors",
              "vit_base_patch16_clip_224.openai/open_clip_pytorch_model.bin")),
    WeightsFile(
        "dino_vits16", "dino_deitsmall16_pretrain.pth",
        f"{_DINO}/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth ; or model.safetensors of "
        f"{_HF}/vit_small_patch16_224.dino",
        title="DINO ViT-S/16 (Caron et al.)", format="dino",
        also=("vit_small_patch16_224.dino/model.safetensors",)),
    WeightsFile(
        "deit_s16_in1k", "deit_small_patch16_224-cd65a155.pth",
        f"{_DEIT}/deit_small_patch16_224-cd65a155.pth ; or model.safetensors of "
        f"{_HF}/deit_small_patch16_224.fb_in1k",
        title="DeiT-S/16, ImageNet-1k (Touvron et al.)", format="deit",
        also=("deit_small_patch16_224.fb_in1k/model.safetensors",)),
    WeightsFile(
        "dinov2_vits14", "dinov2_vits14_pretrain.pth",
        "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth ; or "
        f"model.safetensors of {_HF}/vit_small_patch14_dinov2.lvd142m",
        title="DINOv2 ViT-S/14 (Oquab et al.)", format="dinov2",
        also=("vit_small_patch14_dinov2.lvd142m/model.safetensors",)),
    WeightsFile(
        "deit_b16_in1k", "deit_base_patch16_224-b5f2ef4d.pth",
        f"{_DEIT}/deit_base_patch16_224-b5f2ef4d.pth ; or model.safetensors of "
        f"{_HF}/deit_base_patch16_224.fb_in1k",
        title="DeiT-B/16, ImageNet-1k", format="deit",
        also=("deit_base_patch16_224.fb_in1k/model.safetensors",)),
    WeightsFile(
        "dino_vitb16", "dino_vitbase16_pretrain.pth",
        f"{_DINO}/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth ; or model.safetensors of "
        f"{_HF}/vit_base_patch16_224.dino",
        title="DINO ViT-B/16", format="dino",
        also=("vit_base_patch16_224.dino/model.safetensors",)),
    WeightsFile(
        "clipseg_rd64_refined", "clipseg-rd64-refined",
        "the Hugging Face folder https://huggingface.co/CIDAS/clipseg-rd64-refined (config.json and "
        "model.safetensors or pytorch_model.bin; its tokenizer and preprocessor files are optional): "
        "`hf download CIDAS/clipseg-rd64-refined --local-dir <folder>` or `git clone "
        "https://huggingface.co/CIDAS/clipseg-rd64-refined`",
        title="CLIPSeg rd64-refined (the wsvol-clipseg plugin)", format="clipseg"),
    WeightsFile(
        "resnet50_in1k", "resnet50-0676ba61.pth",
        "https://download.pytorch.org/models/resnet50-0676ba61.pth ; or model.safetensors of "
        f"{_HF}/resnet50.tv_in1k",
        title="torchvision ResNet-50, ImageNet-1k V1 (what wsolevaluation and TCAM start from)",
        also=("resnet50.tv_in1k/model.safetensors",)),
)}  # fmt: skip

#: timm architectures (name without/with pretrained tag) → the name of their weights in :data:`WEIGHTS`.
TIMM_WEIGHTS: dict[str, str] = {
    "deit_small_patch16_224": "deit_s16_in1k",
    "vit_small_patch16_224.dino": "dino_vits16",
    "vit_small_patch14_dinov2": "dinov2_vits14",
    "deit_base_patch16_224": "deit_b16_in1k",
    "vit_base_patch16_224.dino": "dino_vitb16",
    "resnet50": "resnet50_in1k",
}


def timm_weights_format(arch: str) -> str | None:
    """The published format of the weights catalogued for a timm architecture (tag or not), if any."""
    name = TIMM_WEIGHTS.get(arch) or TIMM_WEIGHTS.get(arch.split(".")[0])
    return WEIGHTS[name].format if name else None


def known_weights() -> dict[str, KnownWeights]:
    """Every named weights file: the catalogue's and those registered components (plugins included)
    declare, each with the components that use it."""
    from wsvol.registry import Registries

    found: dict[str, tuple[WeightsFile, list[Use]]] = {name: (wf, []) for name, wf in WEIGHTS.items()}

    def add(wf: WeightsFile, use: Use) -> None:
        file, uses = found.setdefault(wf.name, (wf, []))
        if file.filename != wf.filename:  # a plugin's clash must not hide every other weights
            warnings.warn(f"weights name {wf.name!r} is declared with file {file.filename!r} by "
                          f"{', '.join(map(str, uses))} and with {wf.filename!r} by {use}; keeping the first",
                          stacklevel=3)
            return
        uses.append(use)

    for registry in Registries.all().values():
        for name in registry.entries():
            files = getattr(registry.get(name), "weights_files", None)
            if callable(files):
                for wf in files():
                    add(wf, Use(registry.kind, name))
    for arch, name in TIMM_WEIGHTS.items():
        if arch.startswith("resnet"):
            add(WEIGHTS[name], Use("model", "resnet50_cam", (("backbone", arch),)))
        else:
            add(WEIGHTS[name], Use("backbone", "timm_vit", (("arch", arch),)))
            add(WEIGHTS[name], Use("model", "vit_classifier", (("backbone", arch.split(".")[0]),)))
    return {n: KnownWeights(wf, tuple(uses)) for n, (wf, uses) in sorted(found.items())}
