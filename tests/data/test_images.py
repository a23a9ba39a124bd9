"""Reading frames: a truncated JPEG (which libjpeg decodes in part, with a warning naming no file)
raises naming it on both read paths; intact files read exactly as ``cv2.imread`` reads them; the
overlays read frames as training does."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from wsvol.data.fold_files import DataError
from wsvol.data.images import READ_FLAGS, frame_loader, read_image  # READ_FLAGS: read_image's
from wsvol.data.video import read_frames


def _picture(seed: int = 0) -> np.ndarray:
    """A smooth random picture: a JPEG of some kilobytes, cut anywhere inside its coded data."""
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), (9, 9), 3)


def _jpeg(path: Path, seed: int = 0, progressive: bool = False) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), _picture(seed), [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])
    return path.read_bytes()


def _with_comment(jpeg: bytes, comment: bytes) -> bytes:
    """``jpeg`` with a COM segment holding ``comment`` right after its start-of-image marker."""
    return jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + jpeg[2:]


def _folder_frame(path: Path) -> np.ndarray:
    """The frame ``wsvol predict`` reads from a folder holding only ``path``."""
    [(_, frame)] = read_frames(path.parent)
    return frame


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75, 0.95])
@pytest.mark.parametrize("progressive", [False, True])
def test_truncated_jpeg_raises_naming_the_file(tmp_path, fraction, progressive):
    frame = tmp_path / "video" / "frame_000000.jpg"
    data = _jpeg(frame, progressive=progressive)
    frame.write_bytes(data[: int(len(data) * fraction)])
    assert cv2.imread(str(frame), READ_FLAGS) is not None  # what the readers used to take
    with pytest.raises(DataError, match=f"{frame}: cannot read the image \\(truncated JPEG.*wsvol data check"):
        read_image(frame)
    with pytest.raises(DataError, match=f"{frame}: cannot read the image \\(truncated JPEG"):
        _folder_frame(frame)


def test_truncated_jpeg_is_found_in_headers_past_padding_and_marker_like_header_bytes(tmp_path):
    frame = tmp_path / "video" / "frame_000000.jpg"
    data = _jpeg(frame)
    frame.write_bytes(data[:40])  # within the header segments
    with pytest.raises(DataError, match="truncated JPEG"):
        read_image(frame)
    cut = data[: len(data) // 2]
    frame.write_bytes(cut + b"\0" * 4096)  # a partly written file whose last blocks read as zeros
    with pytest.raises(DataError, match="truncated JPEG"):
        read_image(frame)
    # A header segment holding a whole JPEG (as an EXIF thumbnail does) ends in FF D9 too.
    frame.write_bytes(_with_comment(cut, _jpeg(tmp_path / "thumb.jpg", seed=1)))
    with pytest.raises(DataError, match="truncated JPEG"):
        read_image(frame)
    with pytest.raises(DataError, match="truncated JPEG"):
        _folder_frame(frame)


@pytest.mark.parametrize(
    "variant",
    ["baseline", "progressive", "zero padding", "trailer", "thumbnail in a header", "png"],
)
def test_intact_images_read_as_cv2_imread(tmp_path, variant):
    frame = tmp_path / "video" / ("frame_000000.png" if variant == "png" else "frame_000000.jpg")
    if variant == "png":
        frame.parent.mkdir(parents=True)
        assert cv2.imwrite(str(frame), _picture())
    else:
        data = _jpeg(frame, progressive=variant == "progressive")
        if variant == "zero padding":
            frame.write_bytes(data + b"\0" * 100)
        elif variant == "trailer":  # data after the end-of-image marker, as some cameras write
            frame.write_bytes(data + b"\xff\xd8 camera trailer \x01\x02")
        elif variant == "thumbnail in a header":
            frame.write_bytes(_with_comment(data, _jpeg(tmp_path / "thumb.jpg", seed=1)))
    expected = cv2.imread(str(frame), READ_FLAGS)
    assert expected is not None
    np.testing.assert_array_equal(read_image(frame), cv2.cvtColor(expected, cv2.COLOR_BGR2RGB))
    np.testing.assert_array_equal(_folder_frame(frame), cv2.cvtColor(expected, cv2.COLOR_BGR2RGB))


def test_missing_and_undecodable_files_still_raise_naming_them(tmp_path):
    frame = tmp_path / "frame_000000.jpg"
    with pytest.raises(DataError, match=f"{frame}: cannot read the image \\(missing or corrupt\\)"):
        read_image(frame)
    for content in (b"", b"not an image", b"\xff\xd8\xff\xd9"):
        frame.write_bytes(content)
        with pytest.raises(DataError, match=f"{frame}: cannot read the image"):
            read_image(frame)


def test_a_file_that_cannot_be_opened_is_named_with_the_systems_reason(tmp_path, monkeypatch):
    folder = tmp_path / "frames"
    (folder / "frame_000000.jpg").mkdir(parents=True)  # a folder where a frame should be
    for read in (read_image, _folder_frame):
        with pytest.raises(DataError, match=f"{folder / 'frame_000000.jpg'}: cannot read the image \\(Is a directory"):
            read(folder / "frame_000000.jpg")
    frame = tmp_path / "locked" / "frame_000000.jpg"
    _jpeg(frame)
    original = Path.read_bytes

    def denied(path: Path) -> bytes:  # tests run as root here, where chmod 000 denies nothing
        if path == frame:
            raise PermissionError(13, "Permission denied", str(path))
        return original(path)

    monkeypatch.setattr(Path, "read_bytes", denied)
    for read in (read_image, _folder_frame):
        with pytest.raises(DataError, match=f"{frame}: cannot read the image \\(Permission denied\\)"):
            read(frame)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_a_frame_without_read_permission_says_so(tmp_path):
    frame = tmp_path / "frames" / "frame_000000.jpg"
    _jpeg(frame)
    frame.chmod(0)
    try:
        with pytest.raises(DataError, match=f"{frame}: cannot read the image \\(Permission denied\\)"):
            _folder_frame(frame)
    finally:
        frame.chmod(0o644)


# -- the overlays' frame reader: frames as training and evaluation decode them ----------------
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


def test_predict_reads_a_frame_folder_as_training_does_exif_ignored(tmp_path):
    """The same JPEG gives the same pixels, hence boxes in the same coordinates, to the dataset
    (read_image) and to `wsvol predict` on a folder of frames (cv2.IMREAD_COLOR alone would turn it)."""
    stored = _exif_rotated_jpeg(tmp_path / "video" / "frame_000000.jpg")
    frame = _folder_frame(tmp_path / "video" / "frame_000000.jpg")
    assert frame.shape == stored.shape == (24, 40, 3)
    np.testing.assert_array_equal(frame, read_image(tmp_path / "video" / "frame_000000.jpg"))


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
