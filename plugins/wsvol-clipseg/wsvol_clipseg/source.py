"""CLIPSeg pseudo-labels: the sigmoid of CLIPSeg's mask logits for the frame's class name.

Lüddecke & Ecker, "Image Segmentation Using Text and Image Prompts" (CVPR 2022), in its
``rd64-refined`` release (CLIP ViT-B/16, a 64-dim decoder with the refined transposed
convolution), through ``transformers``' ``CLIPSegForImageSegmentation``. Weights come from a
local folder only, read by wsvol's weights reader; nothing is ever downloaded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES
from wsvol.pseudo_labels.base import PseudoLabelSource
from wsvol.weights import WEIGHTS, WeightsFile, load_weights
from wsvol.weights.formats import read_weights
from wsvol_clipseg.tokens import tokenize

#: the folder a user downloads (wsvol's weights catalogue says from where)
WEIGHTS_DIRNAME = WEIGHTS["clipseg_rd64_refined"].filename
WHERE_TO_GET = WEIGHTS["clipseg_rd64_refined"].source
# CLIPSeg's published processor (preprocessor_config.json of CIDAS/clipseg-rd64-refined): a
# 352×352 bilinear resize and ImageNet statistics — not CLIP's own mean/std.
PROCESSOR_SIZE = 352
PROCESSOR_MEAN = (0.485, 0.456, 0.406)
PROCESSOR_STD = (0.229, 0.224, 0.225)


def read_processor_config(folder: Path) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
    """``(size, mean, std)`` from the folder's ``preprocessor_config.json``, else the published values."""
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return PROCESSOR_SIZE, PROCESSOR_MEAN, PROCESSOR_STD
    try:
        cfg = json.loads(path.read_text())
        size = cfg.get("size", PROCESSOR_SIZE)
        if isinstance(size, dict):
            size = size["height"] if size["height"] == size["width"] else None
        mean = tuple(float(v) for v in cfg.get("image_mean", PROCESSOR_MEAN))
        std = tuple(float(v) for v in cfg.get("image_std", PROCESSOR_STD))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"clipseg: cannot read '{path}': {type(exc).__name__}: {exc}") from exc
    if not isinstance(size, int) or size <= 0 or len(mean) != 3 or len(std) != 3:
        raise ValueError(
            f"clipseg: '{path}' must give a square size and 3-value image_mean/image_std, got "
            f"size={cfg.get('size')!r}, image_mean={cfg.get('image_mean')!r}, "
            f"image_std={cfg.get('image_std')!r}"
        )
    return size, mean, std


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No progress bar or load report from transformers; we report problems ourselves."""
    from transformers.utils import logging as hf_logging

    verbosity, bar = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()


def load_clipseg(pretrained: str | Path | None) -> tuple[Path, nn.Module]:
    """(folder, ``CLIPSegForImageSegmentation``) from a local CLIPSeg folder, fp32, eval, frozen.

    Read by wsvol's weights reader (safetensors, or ``torch.load(weights_only=True)``; shards;
    legacy ``position_ids`` dropped) and loaded strictly: any missing, unexpected or wrongly
    shaped key is an error listing every such key.
    """
    if pretrained is None:
        raise FileNotFoundError(
            f"clipseg: no weights folder given (argument 'pretrained', or a folder named "
            f"{WEIGHTS_DIRNAME!r} in the wsvol weights directory). Get it: {WHERE_TO_GET}"
        )
    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation

    weights = read_weights(pretrained, expect=("clipseg",), user="clipseg")
    with _quiet_transformers():
        model = CLIPSegForImageSegmentation(CLIPSegConfig.from_dict(weights.config))
    load_weights(model, weights.state, str(weights.path))
    return weights.path, model.float().eval().requires_grad_(False)


class ClipSeg(PseudoLabelSource):
    """CLIPSeg maps: ``sigmoid(logits)`` for the prompt of each frame's class, at the input size."""

    def __init__(
        self,
        class_names: Sequence[str] = YOUTUBE_OBJECTS_CLASSES,
        pretrained: str | None = None,
        template: str = "{}",
        image_size: int | None = None,
    ) -> None:
        """Load CLIPSeg from the local folder ``pretrained`` and embed every class prompt once.

        ``template`` turns a class name into the prompt (default: the bare name).
        ``image_size`` is the square side frames are fed at; None takes the folder's processor
        config (352 for CLIPSeg, the size it was trained at), and the vision tower's position
        embeddings are interpolated to any other size. ``mean``/``std`` come from the same
        processor config: ImageNet statistics for the published weights.
        """
        super().__init__()
        if "{}" not in template:
            raise ValueError(f"clipseg: template {template!r} has no '{{}}' for the class name")
        if not class_names:
            raise ValueError("clipseg: class_names must not be empty")
        folder, self.model = load_clipseg(pretrained)
        size, self.mean, self.std = read_processor_config(folder)
        if image_size is not None:
            if not isinstance(image_size, int) or image_size <= 0:
                raise ValueError(f"clipseg: image_size must be a positive int, got {image_size!r}")
            size = image_size
        patch = int(self.model.config.vision_config.patch_size)
        if size < patch:
            raise ValueError(f"clipseg: image_size {size} is smaller than the patch size {patch}")
        self.input_size = (size, size)
        self.class_names = tuple(class_names)
        self.template = template
        self.prompts = tuple(template.format(name) for name in self.class_names)

        context = int(self.model.config.text_config.max_position_embeddings)
        ids, mask, self.tokenizer_kind = tokenize(self.prompts, folder, context)
        with torch.no_grad():
            embeddings = self.model.get_conditional_embeddings(
                batch_size=len(ids), input_ids=ids, attention_mask=mask
            )
        self.register_buffer("class_embeddings", embeddings.float(), persistent=False)

    @classmethod
    def weights_files(cls) -> tuple[WeightsFile, ...]:
        """The CLIPSeg rd64-refined folder, passed as ``pretrained``."""
        return (WEIGHTS["clipseg_rd64_refined"],)

    @torch.no_grad()
    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        """Maps (B, H, W) in [0, 1] for ``images`` (B, 3, H, W) normalized with ``mean``/``std``."""
        labels = self.check_inputs(images, labels)
        pixels = images.to(self.class_embeddings.dtype)
        logits = self.model(
            pixel_values=pixels, conditional_embeddings=self.class_embeddings[labels]
        ).logits
        # older transformers squeeze a batch of one down to (H, W)
        maps = logits.reshape(len(images), *logits.shape[-2:]).sigmoid()
        if maps.shape[-2:] != images.shape[-2:]:
            # the decoder's output is the patch grid × patch size; resize to the frame's input
            maps = F.interpolate(
                maps[:, None], size=images.shape[-2:], mode="bilinear", align_corners=False
            )[:, 0]
        return maps
