"""Decoding a frame file: ``cv2.imdecode`` of its bytes, a truncated JPEG refused by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from wsvol.data.fold_files import DataError

# Ignore EXIF rotation, like PIL and wsolevaluation, so that sizes match image_sizes.txt.
READ_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION


def _truncated_jpeg(data: bytes) -> bool:
    """Whether ``data`` is a JPEG that ends before its end-of-image marker (FF D9)."""
    if not data.startswith(b"\xff\xd8"):
        return False
    end = len(data)
    while end and data[end - 1] == 0:  # zero padding after the marker is common
        end -= 1
    if data[end - 2 : end] == b"\xff\xd9":
        return False
    # Other data may follow the marker (camera trailers): look for it after the first scan starts,
    # walking the header segments there (an EXIF thumbnail holds markers of its own).
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False  # not a marker: leave the damage to the decoder
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: FF bytes in coded data are stuffed (FF 00)
            return data.find(b"\xff\xd9", pos) < 0
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a segment
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return True  # ends within the headers


def decode_image(path: Path, flags: int = READ_FLAGS, advice: str = "") -> np.ndarray:
    """The image as ``cv2.imread(path, flags)`` gives it; a missing, unreadable (the system's
    reason) or undecodable file, or a truncated JPEG (which libjpeg decodes in part, warning
    without naming it), raises DataError naming the file (``advice`` appended)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    except OSError as e:  # permission, a folder, an I/O error: the system's reason, not a guess
        raise DataError(f"{path}: cannot read the image ({e.strerror or e}){advice}") from e
    if _truncated_jpeg(data):
        raise DataError(f"{path}: cannot read the image (truncated JPEG: it ends before its "
                        f"end-of-image marker){advice}")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags) if data else None
    if img is None:
        raise DataError(f"{path}: cannot read the image (missing or corrupt){advice}")
    return img


def read_image(path: Path, size: tuple[int, int] | None = None,
               advice: str = "; run `wsvol data check`") -> np.ndarray:
    """H×W×3 uint8 RGB image, EXIF orientation ignored; a missing/corrupt/truncated file, or a size
    other than (w, h) ``size`` (when given: the frame's ``image_sizes.txt`` line), raises
    (``advice`` appended)."""
    img = decode_image(path, advice=advice)
    if size is not None and (img.shape[1], img.shape[0]) != tuple(size):
        raise DataError(
            f"{path}: image is {img.shape[1]}x{img.shape[0]} but image_sizes.txt says {size[0]}x{size[1]}"
        )
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def frame_loader(data_root: str | Path) -> Callable[[str], np.ndarray]:
    """``frame_id → RGB uint8 image`` for frames under ``data_root``, read as the dataset reads
    them (:func:`read_image`): the pictures the overlays draw maps and boxes on."""
    root = Path(data_root)

    def load(frame_id: str) -> np.ndarray:
        return read_image(root / frame_id)

    return load
