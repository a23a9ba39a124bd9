"""The overlays' frame reader: frames as training and evaluation decode them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from wsvol.data.dataset import read_image
from wsvol.data.fold_files import DataError
from wsvol.visualization.frames import frame_loader

ORIENTATION = 0x0112  # EXIF tag


def _exif_rotated_jpeg(path, orientation: int = 6) -> np.ndarray:
    """A 40x24 JPEG whose EXIF says "rotate 90° to display"; returns the stored RGB pixels."""
    rgb = np.zeros((24, 40, 3), np.uint8)
    rgb[:, :10] = (255, 0, 0)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, exif=exif, quality=100)
    return rgb


def test_exif_rotation_is_ignored_as_the_evaluation_does(tmp_path):
    frame_id = "car/video-0001/shot-000001/frame_000000.jpg"
    stored = _exif_rotated_jpeg(tmp_path / frame_id)
    assert cv2.imread(str(tmp_path / frame_id), cv2.IMREAD_COLOR).shape == (40, 24, 3)  # cv2 rotates it
    frame = frame_loader(tmp_path)(frame_id)
    assert frame.shape == (24, 40, 3)  # the box coordinates and the map are in this frame's pixels
    np.testing.assert_array_equal(frame, read_image(tmp_path / frame_id))
    assert np.abs(frame[:, :8].astype(int) - stored[:, :8]).max() <= 8  # RGB, not BGR, unrotated


def test_truncated_and_missing_frames_are_named(tmp_path):
    frame_id = "car/video-0001/shot-000001/frame_000000.jpg"
    _exif_rotated_jpeg(tmp_path / frame_id, orientation=1)
    data = (tmp_path / frame_id).read_bytes()
    (tmp_path / frame_id).write_bytes(data[: len(data) // 2])
    load = frame_loader(tmp_path)
    with pytest.raises(DataError, match=f"{tmp_path / frame_id}: cannot read the image \\(truncated JPEG"):
        load(frame_id)
    with pytest.raises(DataError, match="frame_000001.jpg: cannot read the image \\(missing or corrupt"):
        load(frame_id.replace("000000", "000001"))
