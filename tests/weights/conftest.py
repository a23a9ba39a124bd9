"""One tiny OpenAI-layout TorchScript archive per session (tracing it takes seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from standins import TINY_CLIP, write_openai_clip_torchscript


@pytest.fixture(scope="session")
def tiny_archive(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    """(path, state dict) of a CLIP archive in OpenAI's layout, at TINY_CLIP's size."""
    path = tmp_path_factory.mktemp("openai") / "ViT-B-16.pt"
    return path, write_openai_clip_torchscript(path, TINY_CLIP)
