"""What both release preparers share: reading .mat files and image sizes with clear errors,
TCAM's box clean-up and seeded shuffles, and writing the folds."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from wsvol.data.fold_files import DataError, write_class_map, write_split_files

#: (id, class index, (width, height) or None, boxes) — one fold entry, as ``write_split_files`` takes it
FoldEntry = tuple[str, int, "tuple[int, int] | None", Sequence[Sequence[float]]]
NULL_BOX = (0.0, 0.0, 0.0, 0.0)  # TCAM's box of a test-video-demo frame without annotation


def load_mat(path: Path, variable: str) -> np.ndarray:
    """``variable`` of a MATLAB file (v4 to v7, what ``scipy.io.loadmat`` reads, as TCAM does)."""
    import scipy.io

    if not path.is_file():
        raise DataError(f"{path}: missing")
    try:
        content = scipy.io.loadmat(str(path))
    except NotImplementedError as e:  # v7.3 is HDF5
        raise DataError(f"{path}: a MATLAB v7.3 (HDF5) file; the releases ship v5 files ({e})") from None
    except Exception as e:  # scipy raises ValueError, TypeError, OSError ... on a damaged file
        raise DataError(f"{path}: not a readable .mat file ({type(e).__name__}: {e})") from None
    if variable not in content:
        found = sorted(k for k in content if not k.startswith("__"))
        raise DataError(f"{path}: no variable {variable!r} (it holds {found or 'none'})")
    return content[variable]


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header, as TCAM reads it (PIL)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except Exception as e:
        raise DataError(f"{path}: cannot be read as an image ({type(e).__name__}: {e})") from None


def relu_box(values: np.ndarray) -> list:
    """TCAM's ``numpy_relu`` then ``tolist``: negative coordinates become 0 (ints stay ints)."""
    v = np.asarray(values)
    return np.abs(v * (v > 0)).reshape(-1).tolist()


def check_box(box: Sequence[float], size: tuple[int, int], where: str) -> None:
    """TCAM's checks of a release box: 0 < x1 − x0 < width and 0 < y1 − y0 < height."""
    if len(box) != 4:
        raise DataError(f"{where}: a box has 4 coordinates x0,y0,x1,y1, got {list(box)}")
    w, h = size
    if not (0 < box[2] - box[0] < w and 0 < box[3] - box[1] < h):
        raise DataError(f"{where}: box {list(box)} is empty, reversed or wider than the {w}x{h} frame")


def seeded_shuffle(items: list, seed: int, times: int) -> list:
    """``random.seed(seed)`` then ``times`` × ``random.shuffle`` (TCAM's selection and order)."""
    rng = random.Random(seed)
    for _ in range(times):
        rng.shuffle(items)
    return items


def check_out(release: Path, out: Path) -> None:
    """Refuse to write folds into the release folder (its class ``train`` would get fold files)."""
    if out.resolve() == release.resolve() or release.resolve() in out.resolve().parents:
        raise DataError(f"{out} is inside the release folder {release}: write the folds elsewhere "
                        "(folds/YouTube-Objects-v1.0, folds/YouTube-Objects-v2.2)")


def write_folds(out: Path, classes: Mapping[str, int], splits: Mapping[str, Iterable[FoldEntry]],
                overwrite: bool) -> dict[str, int]:
    """Write ``class_id.yaml`` and each split (train lists shots) under ``out``; refuses to replace
    existing folds unless ``overwrite``. Returns entries per split."""
    existing = [out / s / "image_ids.txt" for s in splits if (out / s / "image_ids.txt").exists()]
    if existing and not overwrite:
        raise DataError(f"{out} holds folds already ({', '.join(map(str, existing))}); "
                        "choose another folder or pass --overwrite")
    write_class_map(out / "class_id.yaml", classes)
    return {s: write_split_files(out / s, entries, shots=(s == "train")) for s, entries in splits.items()}
