"""The docs name exactly the image suffixes each reader takes: fold files and shot folders
(``wsvol.data.frame_ids``) take more than a frame folder given to `wsvol predict` or `wsvol data
import` (``wsvol.data.video``), and the docs say which."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from wsvol.data.frame_ids import IMAGE_SUFFIXES
from wsvol.data.video import IMAGE_EXTENSIONS, read_frames

DOCS = Path(__file__).resolve().parents[2] / "docs"


def suffixes(page: str, start: str, end: str) -> set[str]:
    """The `.xxx` suffixes a page names between ``start`` and the next ``end`` after it."""
    text = " ".join((DOCS / page).read_text().split())
    assert start in text, f"docs/{page}: {start!r} not found"
    part = text[text.index(start) + len(start):]
    return set(re.findall(r"`(\.\w+)`", part[: part.index(end)]))


def test_the_two_lists_differ_so_the_docs_must_say_which():
    assert set(IMAGE_EXTENSIONS) < set(IMAGE_SUFFIXES)


def test_data_md_names_each_readers_suffixes():
    assert suffixes("data.md", "ending in an image suffix", ")") == set(IMAGE_SUFFIXES)
    assert suffixes("data.md", "or folders of frames (", "in natural order") == set(IMAGE_EXTENSIONS)
    assert suffixes("data.md", "unlike fold files, not", ")") == set(IMAGE_SUFFIXES) - set(IMAGE_EXTENSIONS)


def test_predict_md_names_the_frame_folders_suffixes():
    assert suffixes("predict.md", "or a folder of frames:", "in natural order") == set(IMAGE_EXTENSIONS)
    assert suffixes("predict.md", "Other files in it are ignored,", "included") == (
        set(IMAGE_SUFFIXES) - set(IMAGE_EXTENSIONS))


def test_a_frame_folder_reads_what_the_docs_say_in_natural_order(tmp_path):
    # frame2 before frame10 (natural order, not the names' order); the .tif and .webp are skipped
    for name, value in (("frame10.png", 10), ("frame2.jpg", 2), ("frame3.bmp", 3), ("frame1.tif", 1),
                        ("frame4.webp", 4)):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8, 3), value * 20, np.uint8))
    values = [int(rgb[0, 0, 0]) // 20 for _, rgb in read_frames(tmp_path)]
    assert values == [2, 3, 10]
