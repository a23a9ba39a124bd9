"""The frame dataset of a fold split (YouTube-Objects, the synthetic set, any data in that format)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import Dataset

from wsvol.config.types import component
from wsvol.data.fold_files import DataError
from wsvol.data.folds import read_split
from wsvol.data.frame_check import check_files as check_split_files
from wsvol.data.images import decode_image, read_image
from wsvol.registry import DATASETS, FUNCTIONS, PSEUDO_LABEL_TRANSFORMS, TRANSFORMS

Transform = Callable[[dict], dict]


def build_pipeline(pipeline: Sequence[Mapping | Transform]) -> list[Transform]:
    """Transforms from config dicts (built through ``TRANSFORMS``) or callables."""
    out = []
    for t in pipeline:
        if isinstance(t, Mapping):
            out.append(TRANSFORMS.build(dict(t)))
        elif callable(t):
            out.append(t)
        else:
            raise TypeError(f"pipeline entries must be transform configs or callables, got {t!r}")
    return out


@FUNCTIONS.register_module(name="collate_frames")
def collate_frames(batch: Sequence[dict]) -> dict:
    """``{"inputs": list[Tensor], "data_samples": list[dict]}`` from packed items.

    mmengine's ``pseudo_collate`` would transpose the plain-dict data samples (and their tuples)
    into a dict of lists; this keeps one dict per frame, as the data contract says.
    """
    return {
        "inputs": [b["inputs"] for b in batch],
        "data_samples": [b["data_samples"] for b in batch],
    }


@DATASETS.register_module(name="youtube_objects")
class FoldDataset(Dataset):
    """Frames of ``<folds_root>/<split>`` read from ``<data_root>/<frame id>``, one item per frame.

    A listed shot folder gives one item per frame found in it (``shot_sampler`` draws among them).

    Item ``i`` of epoch ``e`` draws its augmentation from ``SeedSequence([seed, e, i])``; the epoch
    comes from the index itself when the sampler yields :class:`~wsvol.data.frame_samplers.EpochIndex`
    (robust to persistent workers), else from :meth:`set_epoch`. ``pseudo_label_reader(frame_id)``
    gives a float map in [0, 1] (any size; resized to the frame) put in ``results["pseudo_map"]``;
    ``pseudo_label_cache`` (a cache folder written by ``wsvol pseudo-labels``) is the same from a
    config. ``pseudo_label_transform`` (e.g. ``{type: temporal_max, n: 1}``, CAM-TMP) makes the
    frame's map from the stored maps of its shot, before it is resized and goes through the pipeline.
    Masks are read from ``<data_root>/masks/<frame id>.png`` where present (nonzero = object).
    """

    def __init__(
        self,
        data_root: str | Path,
        folds_root: str | Path,
        split: str,
        pipeline: Sequence[Mapping | Transform] = (),
        class_map: Mapping[str, int] | str | Path | None = None,
        seed: int = 0,
        check_files: bool = False,
        pseudo_label_reader: Callable[[str], np.ndarray] | None = None,
        pseudo_label_cache: str | None = None,
        pseudo_label_transform: component("pseudo_label_transform") | None = None,
    ):
        self.data_root = Path(data_root)
        self.split = read_split(folds_root, split, class_map, data_root=data_root)
        if check_files:
            check_split_files(self.split, self.data_root).raise_if_problems(self.data_root)
        self.frames = self.split.frames
        self.metainfo = {"classes": tuple(self.split.class_names), "split": split}
        self.shots: dict[str, list[int]] = self.split.shots()
        self.videos: dict[str, list[str]] = self.split.videos()
        self.pipeline = build_pipeline(pipeline)
        self.seed, self.epoch = int(seed), 0
        if pseudo_label_cache is not None:
            from wsvol.data.pseudo_label_cache import PseudoLabelCache

            pseudo_label_reader = PseudoLabelCache.open(pseudo_label_cache)
        self.pseudo_label_reader = pseudo_label_reader
        self.pseudo_label_transform = (PSEUDO_LABEL_TRANSFORMS.build(dict(pseudo_label_transform))
                                       if isinstance(pseudo_label_transform, Mapping) else pseudo_label_transform)
        #: shot id → its frame ids, sorted (the order a pseudo-label transform's windows follow)
        self.shot_frames = {shot: sorted(self.frames[i].frame_id for i in idx) for shot, idx in self.shots.items()}
        self.mask_root = self.data_root / "masks"

    def __len__(self) -> int:
        return len(self.frames)

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` in the seed of every item's augmentation."""
        self.epoch = int(epoch)

    def get_cat_ids(self, index: int) -> list[int]:
        """The class of frame ``index`` (for mmengine's class-balanced wrappers)."""
        return [self.frames[index].label]

    def rng(self, index: int, epoch: int | None = None) -> np.random.Generator:
        """The generator of item ``index`` in ``epoch`` (default: the current one)."""
        epoch = self.epoch if epoch is None else epoch
        return np.random.default_rng(
            np.random.SeedSequence([self.seed, int(epoch), int(index) % len(self)])
        )

    def load(self, index: int, epoch: int | None = None) -> dict:
        """The ``results`` dict of frame ``index`` before the pipeline."""
        frame = self.frames[index]
        path = self.data_root / frame.frame_id
        img = read_image(path, frame.size)
        width, height = img.shape[1], img.shape[0]  # the listed size (checked) or the image's own
        results = {
            "img": img,
            "img_path": str(path),
            "frame_id": frame.frame_id,
            "video_id": frame.video_id,
            "shot_id": frame.shot_id,
            "gt_label": frame.label,
            "ori_size": (width, height),
            "img_shape": (height, width),
            "gt_boxes": frame.boxes.copy(),
            "ori_gt_boxes": frame.boxes.copy(),
            "rng": self.rng(index, epoch),
        }
        mask_path = (self.mask_root / frame.frame_id).with_suffix(".png")
        if mask_path.is_file():
            mask = decode_image(mask_path, cv2.IMREAD_GRAYSCALE)
            if mask.shape != (height, width):
                raise DataError(f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]}, expected {width}x{height}")
            results["gt_mask"], results["ori_gt_mask"] = mask > 0, mask > 0
        if self.pseudo_label_reader is not None:
            results["pseudo_map"] = self._pseudo_map(frame.frame_id, (width, height), frame.shot_id)
        return results

    def stored_map(self, frame_id: str, shot_id: str) -> np.ndarray:
        """The frame's map from the reader, through the pseudo-label transform if there is one."""
        if self.pseudo_label_transform is None:
            return self.pseudo_label_reader(frame_id)
        shot = self.shot_frames[shot_id]
        return self.pseudo_label_transform(shot, shot.index(frame_id), self.pseudo_label_reader)

    def _pseudo_map(self, frame_id: str, size: tuple[int, int], shot_id: str) -> np.ndarray:
        m = np.asarray(self.stored_map(frame_id, shot_id), dtype=np.float32)
        if m.ndim != 2 or m.size == 0 or not np.isfinite(m).all() or m.min() < 0 or m.max() > 1:
            raise DataError(
                f"pseudo-label of {frame_id!r}: expected a finite (h, w) map in [0, 1], got shape {m.shape}"
            )
        return cv2.resize(m, size, interpolation=cv2.INTER_LINEAR) if m.shape != size[::-1] else m

    def __getitem__(self, index: int) -> dict:
        results = self.load(int(index), getattr(index, "epoch", None))
        for t in self.pipeline:
            results = t(results)
            if results is None:
                raise DataError(
                    f"transform {t!r} returned None for frame {self.frames[int(index)].frame_id!r}"
                )
        return results
