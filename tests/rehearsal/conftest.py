"""Workspaces for the rehearsal of the YouTube-Objects configs: the folders a user makes by following
docs/data.md (``folds/YouTube-Objects-*``, ``data/YouTube-Objects-*``), filled with stand-ins, and a
weights folder of random-init files in the published layouts (``tests/standins.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rehearsal_runs import FRAMES_PER_SHOT, PER_CLASS, wsvol


@pytest.fixture(scope="session")
def official_weights(tmp_path_factory) -> Path:
    """A WSVOL_WEIGHTS folder with every file the YouTube-Objects configs name, under its published
    name and in its published layout, random-init: OpenAI's ViT-B-16.pt (TorchScript, full size), DINO
    and DeiT ViT-S/16, torchvision's ResNet-50, and a CLIPSeg folder (rd64-refined's form, tiny)."""
    from standins import write_clipseg_folder, write_deit, write_dino, write_openai_clip_torchscript, write_resnet50

    folder = tmp_path_factory.mktemp("weights")
    write_openai_clip_torchscript(folder / "ViT-B-16.pt")
    write_dino(folder / "dino_deitsmall16_pretrain.pth")
    write_deit(folder / "deit_small_patch16_224-cd65a155.pth")
    write_resnet50(folder / "resnet50-0676ba61.pth")
    write_clipseg_folder(folder / "clipseg-rd64-refined")
    return folder


@pytest.fixture(scope="session")
def ytov1_workspace(tmp_path_factory, real_v1_folds) -> Path:
    """The published v1.0 folds reduced to PER_CLASS entries per class of each split
    (``folds/YouTube-Objects-v1.0``, lines verbatim) and stand-in frames for them
    (``data/YouTube-Objects-v1.0``): the configs' own paths, relative to this folder."""
    root = tmp_path_factory.mktemp("ytov1")
    wsvol("data", "standin", real_v1_folds, "data/YouTube-Objects-v1.0", "--frames-per-shot", FRAMES_PER_SHOT,
          "--per-class", PER_CLASS, "--subset-folds", "folds/YouTube-Objects-v1.0", cwd=root)
    return root


@pytest.fixture(scope="session")
def ytov22_workspace(tmp_path_factory) -> Path:
    """v2.2 folds made by ``wsvol data prepare ytov22`` from a stand-in release (every class: 4
    training videos, the first 3 of which become val, and a test video), reduced to PER_CLASS entries
    per class, with stand-in frames at the release's frame size."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "data" / "releases"))
    from release_trees import write_v22_release

    from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES

    root = tmp_path_factory.mktemp("ytov22")
    shots = {c: [(v, 3 * v - 2, 3 * v) for v in range(1, 6)] for c in YOUTUBE_OBJECTS_CLASSES}  # 3 frames a video
    gt = {c: {"bb_gtTraining": [(3 * v - 1, [[40 + 9 * v, 30, 300, 200]]) for v in range(1, 5)],
              "bb_gtTest": [(14, [[60, 50, 420, 310], [500, 20, 620, 120]])]} for c in shots}
    release = write_v22_release(root / "data" / "YouTube-Objects-v2.2-original", shots, gt,
                                {(c, v): (640, 360) for c in shots for v in range(1, 6)})
    wsvol("data", "prepare", "ytov22", release, "folds/prepared-v2.2", "--frames", "none", cwd=root)
    wsvol("data", "standin", "folds/prepared-v2.2", "data/YouTube-Objects-v2.2", "--frames-per-shot",
          FRAMES_PER_SHOT, "--per-class", PER_CLASS, "--subset-folds", "folds/YouTube-Objects-v2.2", cwd=root)
    return root
