"""The ids of fold files: safe relative paths to a frame or to a shot folder, and the shot and
video they belong to.

* A **frame id** is the path of an image file under the data root, of any depth, with at least
  the folder that holds it: ``cat/video-0001/shot-000001/frame_000005.jpg`` (synthetic, v2.2
  prepared), ``aeroplane/data/0009/shots/102/frame0001.jpg`` (YouTube-Objects v1.0).
* A **shot id** is a folder under the data root (``aeroplane/data/0013/shots/330``): a line of
  ``image_ids.txt`` that does not end in an image suffix names a shot whose frames are the image
  files found in that folder (TCAM's training splits).
* The **shot** of a frame is the folder that holds it. The **video** of a shot is the folder above
  a ``shots`` folder where the path has one (``aeroplane/data/0009``), else the shot's parent
  folder (``cat/video-0001``), else the shot itself.
"""

from __future__ import annotations

import re

# A part: not "." or "..", no "/", backslash or control character, no space at either end.
_PART = r"(?!\.{1,2}(?:/|$))[^/\\\x00-\x1f\s](?:[^/\\\x00-\x1f]*[^/\\\x00-\x1f\s])?"
_SAFE_PATH = re.compile(rf"{_PART}(?:/{_PART})*")

#: Suffixes of frame files (lower case; matched case-insensitively).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def is_frame_id(entry_id: str) -> bool:
    """Whether an ``image_ids.txt`` entry names a frame file (an image suffix) rather than a shot folder."""
    return entry_id.lower().endswith(IMAGE_SUFFIXES)


def id_problem(entry_id: str) -> str | None:
    """Why ``entry_id`` is not a safe relative path to a frame or a shot folder (None when it is)."""
    kind = "frame id" if is_frame_id(entry_id) else "shot id"
    if not _SAFE_PATH.fullmatch(entry_id):
        return (f"{kind} {entry_id!r} is not a relative path under the data root (no empty, '.' or "
                "'..' parts, no backslash, no leading '/' or spaces around a part)")
    if kind == "frame id" and "/" not in entry_id:
        return (f"frame id {entry_id!r} names no folder: a frame id is the frame's path with at least "
                "the shot folder holding it (e.g. class/video/shot/frame.jpg)")
    return None


def shot_id_of(frame_id: str) -> str:
    """The shot of a frame: the folder that holds it."""
    return frame_id.rsplit("/", 1)[0]


def video_of_shot(shot_id: str) -> str:
    """The video of a shot: the folder above ``shots/`` where there is one, else the shot's parent."""
    parts = shot_id.split("/")
    if "shots" in parts[1:]:
        return "/".join(parts[: len(parts) - 1 - parts[::-1].index("shots")])
    return "/".join(parts[:-1]) if len(parts) > 1 else shot_id


def video_id_of(frame_id: str) -> str:
    """The video of a frame (see :func:`video_of_shot`)."""
    return video_of_shot(shot_id_of(frame_id))

