"""The per-file parsers and the writer: encodings, boxes (float64 as written, edges, null box)."""

from __future__ import annotations

import math

import pytest
import yaml

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
from wsvol.data.fold_files import (
    DataError,
    box_problem,
    read_class_map,
    read_localization,
    read_text,
    write_split_files,
)
from wsvol.data.folds import read_split

F = "cat/data/0001/shots/001/frame0001.jpg"


def test_non_utf8_fold_file_names_file_line_and_column(tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "class_id.yaml").write_text(yaml.safe_dump(YOUTUBE_OBJECTS_CLASS_MAP))
    ids = tmp_path / "test" / "image_ids.txt"
    ids.write_bytes(f"{F}\ncat/data/0001/shots/001/caf".encode() + "é.jpg\n".encode("latin-1"))
    with pytest.raises(DataError) as info:
        read_split(tmp_path, "test")
    assert str(info.value).startswith(f"{ids}:2: not UTF-8 text (byte 0xe9 at column 28)")
    assert "UnicodeDecodeError" not in str(info.value)


def test_non_utf8_class_map(tmp_path):
    path = tmp_path / "class_id.yaml"
    path.write_bytes(b"aeroplane: 0\n" + "b\xeerd: 1\n".encode("cp1252"))
    with pytest.raises(DataError, match=f"{path}:2: not UTF-8 text"):
        read_class_map(path)


def test_utf8_with_byte_order_mark_and_crlf_is_read(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"\xef\xbb\xbfa,1\r\nb,2\r\n")
    assert read_text(path).splitlines() == ["a,1", "b,2"]
    path.write_bytes(b"\xef\xbb\xbfa,1\nb\xff,2\n")
    with pytest.raises(DataError, match=f"{path}:2: not UTF-8 text \\(byte 0xff at column 2\\)"):
        read_text(path)


def test_boxes_are_kept_exactly_as_written(tmp_path):
    path = tmp_path / "localization.txt"
    values = ["203.4493087557604", "154.50921658986186", "298.5645161290323", "191.0069124423964"]
    path.write_text(f"{F},{','.join(values)}\n{F},0.0,8.057603686635957,1279,468.14976958525347\n"
                    f"{F},0.0,0.0,0.0,0.0\n")
    problems = []
    boxes = read_localization(path, {F: 1}, {}, {F: (1280, 720)}, problems)
    assert problems == []
    assert boxes[F] == [[float(v) for v in values], [0.0, 8.057603686635957, 1279.0, 468.14976958525347]]
    assert boxes[F][0][0] == 203.4493087557604  # not rounded through float32
    assert math.isclose(boxes[F][0][0], 203.4493087557604, rel_tol=0, abs_tol=0)


@pytest.mark.parametrize("box, why", [
    ((0, 0, 1284.92, 659.8), None),  # 4.9 px past the last pixel of 1280: kept (an annotation off the edge)
    ((0, 0, 1279 + 0.02 * 1280, 700), None),
    ((0, 0, 1279 + 0.021 * 1280, 700), "outside the 1280x720 frame"),
    ((1280, 0, 1290, 10), "outside the 1280x720 frame"),  # starts past the frame
    ((-1, 0, 10, 10), "outside the 1280x720 frame"),
    ((10, 0, 9, 10), "x1 < x0"),
])
def test_box_limits(box, why):
    problem = box_problem(box, (1280, 720))
    assert (problem is None) if why is None else why in problem


@pytest.mark.parametrize("box, why", [
    ((1, 1, 40, 30), None),  # 1-based, as v2.2's: ends at the width and height (2 % would be 0.8 px)
    ((0, 0, 40.5, 29), "outside the 40x30 frame"),
    ((0, 0, 39, 30.5), "outside the 40x30 frame"),
])
def test_a_box_may_end_one_pixel_past_a_small_frame(box, why):
    problem = box_problem(box, (40, 30))
    assert (problem is None) if why is None else why in problem


def test_write_then_read_back(tmp_path):
    shot = "cat/data/0002/shots/004"
    write_split_files(tmp_path / "val", [(F, 4, (1280, 720), [[203.4493087557604, 0.0, 1279, 468.5]]),
                                         (F, 4, (1280, 720), [[1.5, 2.5, 3.5, 4.5]])])
    write_split_files(tmp_path / "train", [(shot, 4, None, ())], shots=True)
    (tmp_path / "class_id.yaml").write_text(yaml.safe_dump(YOUTUBE_OBJECTS_CLASS_MAP))
    assert (tmp_path / "val" / "localization.txt").read_text() == \
        f"{F},203.4493087557604,0.0,1279,468.5\n{F},1.5,2.5,3.5,4.5\n"
    assert (tmp_path / "val" / "image_ids.txt").read_text() == f"{F}\n"
    assert (tmp_path / "train" / "image_sizes.txt").read_bytes() == b""
    val = read_split(tmp_path, "val")
    assert val.frames[0].boxes.tolist() == [[203.4493087557604, 0.0, 1279.0, 468.5], [1.5, 2.5, 3.5, 4.5]]
    assert [e.entry_id for e in read_split(tmp_path, "train").entries] == [shot]
