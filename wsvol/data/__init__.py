"""Data: YouTube-Objects fold reading and validation, datasets, samplers, transforms, video import,
and the embedded synthetic video dataset."""

from wsvol.data import dataset, frame_samplers, pseudo_label_transforms, transforms  # noqa: F401  (registers the built-ins)
from wsvol.data.dataset import FoldDataset, collate_frames
from wsvol.data.fold_files import DataError
from wsvol.data.folds import read_split
from wsvol.data.frame_check import check_files
from wsvol.data.synthetic import generate_synthetic
from wsvol.data.video import import_videos

__all__ = ["DataError", "FoldDataset", "check_files", "collate_frames", "generate_synthetic", "import_videos", "read_split"]
