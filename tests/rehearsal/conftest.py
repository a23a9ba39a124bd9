"""Workspaces for the rehearsal of the YouTube-Objects configs: the folders a user makes by following
docs/data.md (``folds/YouTube-Objects-*``, ``data/YouTube-Objects-*``), filled with stand-ins, each
with a weights folder of random-init files in the published layouts (``tests/standins.py``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock
from rehearsal_runs import AT_MOST, FRAMES_PER_SHOT, wsvol


def shared_folder(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """``name`` in a folder that every pytest-xdist worker of the session sees (the base temp's
    parent under xdist), made by ``make(folder)`` once: the first worker makes it, the others wait."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, done = root / name, root / f"{name}.done"
    with FileLock(str(root / f"{name}.lock")):
        if not done.exists():
            folder.mkdir(exist_ok=True)
            make(folder)
            done.touch()
    return folder


class OfficialWeights:
    """A WSVOL_WEIGHTS folder whose files are written when a config first needs them: each under its
    published name and in its published layout, random-init (``tests/standins.py``). CLIP ViT-B/16
    (full size) is OpenAI's TorchScript ``ViT-B-16.pt`` (``clip="openai"``) or open_clip's hub
    download (``clip="open_clip"``); CLIPSeg is a folder in rd64-refined's form (tiny)."""

    def __init__(self, folder: Path, clip: str):
        self.folder, self.clip = folder, clip

    def provide(self, name: str) -> None:
        """Write the file of weights name ``name`` unless it is there."""
        import standins

        from wsvol.weights import WEIGHTS

        writers = {"dino_vits16": standins.write_dino, "deit_s16_in1k": standins.write_deit,
                   "resnet50_in1k": standins.write_resnet50, "clipseg_rd64_refined": standins.write_clipseg_folder,
                   "clip_vit_b16_openai": (standins.write_openai_clip_torchscript if self.clip == "openai"
                                           else standins.write_open_clip_state_dict)}
        if name not in writers:
            raise KeyError(f"the rehearsal has no writer for weights {name!r}: add one (tests/standins.py)")
        wf = WEIGHTS[name]
        path = self.folder / (wf.filename if self.clip == "openai" or name != "clip_vit_b16_openai" else wf.also[0])
        with FileLock(f"{path}.lock"):  # one writer among the xdist workers
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                writers[name](path)


def subset_args(folds: str | Path, version: str) -> list:
    """``wsvol data standin`` of a reduced copy of ``folds`` into the configs' own folders."""
    return ["data", "standin", folds, f"data/YouTube-Objects-{version}", "--frames-per-shot", FRAMES_PER_SHOT,
            "--per-class", 1, "--at-most", *(f"{s}={n}" for s, n in AT_MOST.items()),
            "--subset-folds", f"folds/YouTube-Objects-{version}"]


@pytest.fixture(scope="session")
def ytov1_workspace(tmp_path_factory, real_v1_folds) -> tuple[Path, OfficialWeights]:
    """(folder, weights): the published v1.0 folds reduced (``folds/YouTube-Objects-v1.0``,
    lines verbatim) with stand-in frames for them (``data/YouTube-Objects-v1.0``), the configs'
    own paths relative to the folder; OpenAI's ViT-B-16.pt among the weights."""
    root = shared_folder(tmp_path_factory, "ytov1", lambda root: wsvol(*subset_args(real_v1_folds, "v1.0"), cwd=root))
    return root, OfficialWeights(shared_folder(tmp_path_factory, "weights-ytov1", lambda _: None), clip="openai")


@pytest.fixture(scope="session")
def ytov22_workspace(tmp_path_factory) -> tuple[Path, OfficialWeights]:
    """(folder, weights): v2.2 folds made by ``wsvol data prepare ytov22`` from a stand-in
    release (every class: 4 training videos, the first 3 of which become val, and a test video),
    reduced, with stand-in frames at the release's frame size; open_clip's CLIP file among the weights."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "data" / "releases"))
    from release_trees import write_v22_release

    from wsvol.data.classes import YOUTUBE_OBJECTS_CLASSES

    def make(root: Path) -> None:
        shots = {c: [(v, 3 * v - 2, 3 * v) for v in range(1, 6)] for c in YOUTUBE_OBJECTS_CLASSES}  # 3 frames a video
        gt = {c: {"bb_gtTraining": [(3 * v - 1, [[40 + 9 * v, 30, 300, 200]]) for v in range(1, 5)],
                  "bb_gtTest": [(14, [[60, 50, 420, 310], [500, 20, 620, 120]])]} for c in shots}
        release = write_v22_release(root / "data" / "YouTube-Objects-v2.2-original", shots, gt,
                                    {(c, v): (640, 360) for c in shots for v in range(1, 6)})
        wsvol("data", "prepare", "ytov22", release, "folds/prepared-v2.2", "--frames", "none", cwd=root)
        wsvol(*subset_args("folds/prepared-v2.2", "v2.2"), cwd=root)

    root = shared_folder(tmp_path_factory, "ytov22", make)
    return root, OfficialWeights(shared_folder(tmp_path_factory, "weights-ytov22", lambda _: None), clip="open_clip")
