"""Tiny random-init CLIPSeg checkpoints saved to folders, as the real one would be laid out."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
transformers = pytest.importorskip("transformers")

# CLIP's vocabulary (open_clip ids index it) and context; everything else tiny (~6 MB).
# Vision: 32×32 in 8×8 patches, so a 48×48 input interpolates the position embeddings
# as 352×352 frames do for the real 224×224 ViT-B/16.
TINY_TEXT = dict(
    vocab_size=49408, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
    num_attention_heads=4, max_position_embeddings=77,
)  # fmt: skip
TINY_VISION = dict(
    hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4,
    image_size=32, patch_size=8,
)  # fmt: skip
TINY = dict(
    projection_dim=16, reduce_dim=8, extract_layers=[0, 1, 2], decoder_num_attention_heads=2,
    decoder_intermediate_size=16,
)  # fmt: skip


def save_tiny_clipseg(folder: Path, eos_token_id: int, seed: int = 0) -> Path:
    """Save a random-init CLIPSegForImageSegmentation to ``folder`` (config.json + safetensors).

    ``eos_token_id`` 2 is what the published rd64-refined config says (text pooling at the
    highest id); 49407 is transformers' current default (pooling at the first end token).
    """
    config = transformers.CLIPSegConfig(
        text_config=dict(TINY_TEXT, eos_token_id=eos_token_id), vision_config=TINY_VISION, **TINY
    )
    torch.manual_seed(seed)
    model = transformers.CLIPSegForImageSegmentation(config).eval()
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def clipseg_dirs(tmp_path_factory) -> dict[int, Path]:
    """One saved tiny checkpoint per text-pooling convention, keyed by ``eos_token_id``."""
    root = tmp_path_factory.mktemp("clipseg")
    return {eos: save_tiny_clipseg(root / f"eos{eos}", eos) for eos in (2, 49407)}


@pytest.fixture(scope="session")
def clipseg_dir(clipseg_dirs) -> Path:
    """The checkpoint laid out like CIDAS/clipseg-rd64-refined (its config's eos_token_id 2)."""
    return clipseg_dirs[2]
