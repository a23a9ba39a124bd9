"""Import your own videos into the fold format.

Convention: ``<src_dir>/<class name>/<video>`` where each video is a file (mp4, avi, mov, mkv,
webm; decoded with PyAV, frames turned by the display rotation) or a folder of frames (jpg, jpeg,
png, bmp; natural sort order, dot files skipped, EXIF orientation ignored as training does). Every
``stride``-th frame (at most ``max_frames`` per video) is written as
``<out_dir>/<class>/video-XXXX/shot-XXXXXX/frame_XXXXXX.jpg`` (XXXXXX = the frame's 0-based index
in the source), with shots of ``shot_length`` imported frames (one shot per video by default).
The split's ``image_ids.txt``, ``class_labels.txt``, ``image_sizes.txt`` (and
``video_sources.txt``, video id → source) go to ``<folds_dir>/<split>/`` and the class map to
``<folds_dir>/class_id.yaml``. Imported frames carry no boxes: add a ``localization.txt`` to
evaluate on them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import yaml

from wsvol.data.classes import YOUTUBE_OBJECTS_CLASS_MAP
from wsvol.data.fold_files import DataError, validate_class_map
from wsvol.data.folds import Split, read_split
from wsvol.data.images import read_image
from wsvol.utils.files import atomic_write_text

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def _natural_key(path: Path) -> list:
    # re.split with a group alternates text and digit runs: the odd items are the runs of \d
    # (Unicode decimal digits, which int() reads; "²" is a digit to str.isdigit but not to \d)
    return [int(t) if i % 2 else t for i, t in enumerate(re.split(r"(\d+)", path.name))]


@dataclass
class DecodeReport:
    """What reading a source found besides its frames, filled by :func:`read_frames` as it reads:
    frames the decoder marks corrupt, and how many frames the video declares against how many it
    decoded. Frame indices count decoded frames in decode order, from 0."""

    source: Path
    decoded: int = 0  #: frames decoded (or frame files listed) so far, kept or skipped by the stride
    declared: int | None = None  #: frames the video declares: its stream's count, else duration × rate
    declared_from: str = ""  #: ``"frame count"`` or ``"duration"`` (an estimate, within a frame)
    corrupt: list[int] = field(default_factory=list)  #: frames the decoder marks corrupt
    complete: bool = False  #: reading reached the end of the source (not stopped at ``max_frames``)
    times: dict[int, float] = field(default_factory=dict)  #: kept frame → presentation time (s)
    files: dict[int, str] = field(default_factory=dict)  #: kept frame → its file, relative to the folder
    #: width ÷ height of a pixel of the frames as read (turned with them), where the video declares
    #: non-square pixels (anamorphic footage: 720×480 shown at 640×480 has 8/9); None: square
    pixel_aspect: Fraction | None = None

    @property
    def short(self) -> bool:
        """Whether the whole video was decoded and gave fewer frames than it declares."""
        if not self.complete or self.declared is None:
            return False
        slack = 1 if self.declared_from == "duration" else 0  # duration × rate rounds
        return self.decoded < self.declared - slack

    def warnings(self, done: str = "predicted") -> list[str]:
        """One line per problem found, naming the source and the frames; ``done``: what became of
        the corrupt frames (``predicted``, ``imported``)."""
        out = []
        if self.corrupt:
            shown = ", ".join(map(str, self.corrupt[:20])) + (", …" if len(self.corrupt) > 20 else "")
            out.append(f"{self.source}: the decoder marks {len(self.corrupt)} frame(s) corrupt (decode order "
                       f"index: {shown}); they were {done} as decoded, damage included")
        if self.short:
            out.append(f"{self.source}: {self.decoded} frames decoded but the video declares {self.declared} "
                       f"(its {self.declared_from}): it may be truncated or damaged")
        return out


def _declared_frames(container, stream) -> tuple[int | None, str]:
    """(frames the stream declares, from what): its frame count, else its duration (the
    container's if it has none) × its average rate; (None, "") if it declares neither."""
    import av

    if stream.frames:
        return int(stream.frames), "frame count"
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration:
        seconds = container.duration / av.time_base
    else:
        return None, ""
    rate = stream.average_rate or stream.guessed_rate
    return (round(seconds * float(rate)), "duration") if rate else (None, "")


def _decoded(path: Path, report: DecodeReport | None = None) -> Iterator:
    """PyAV frames of a video file, decoded one by one as they are pulled; a file PyAV cannot
    decode raises DataError naming it and the last frame decoded. Closing the iterator closes the
    file. ``report`` gets the frame count the video declares."""
    import av

    count = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if report is not None:
                report.declared, report.declared_from = _declared_frames(container, stream)
            aspect = stream.sample_aspect_ratio  # None or 0 where undeclared
            for frame in container.decode(stream):
                if report is not None and count == 0 and aspect and aspect != 1:
                    report.pixel_aspect = Fraction(aspect) if _turns(frame) % 2 == 0 else 1 / Fraction(aspect)
                yield frame
                count += 1
    except av.FFmpegError as e:
        where = f"after frame {count - 1}, the last one decoded" if count else "before its first frame"
        raise DataError(f"{path}: cannot decode the video {where} ({e})") from e


def _frame_files(path: Path) -> list[Path]:
    """The image files of a frame folder, in natural order, dot files (macOS's ``._*``) left out
    (DataError if there is none)."""
    files = sorted(
        (p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")),
        key=_natural_key,
    )
    if not files:
        raise DataError(f"{path}: folder has no frames ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def read_frames(
    source: str | Path, stride: int = 1, max_frames: int | None = None, report: DecodeReport | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """(index in the source, RGB frame) of every ``stride``-th frame of a video file or frame
    folder, at most ``max_frames``: decoding stops after the last frame kept, and skipped frames
    are decoded but never converted (video) or not read at all (folder). Video frames are turned
    as the video's display rotation says; a folder's images are read as training reads them (EXIF
    orientation ignored). ``report`` (of this source) is filled as frames are read: a kept video
    frame's time, a kept folder frame's file."""
    if stride < 1 or (max_frames is not None and max_frames < 1):
        raise ValueError(f"stride and max_frames must be >= 1, got {stride} and {max_frames}")
    source = Path(source)
    if not source.exists():
        raise DataError(f"{source}: no such video file or frame folder")
    if source.is_dir():
        items, read = iter(_frame_files(source)), _read_image
    else:
        items, read = _decoded(source, report), _to_rgb
    kept = 0
    try:
        for index, item in enumerate(items):
            if report is not None:
                report.decoded = index + 1
                if getattr(item, "is_corrupt", False):
                    report.corrupt.append(index)
            if index % stride:
                continue
            if report is not None and getattr(item, "time", None) is not None:
                report.times[index] = float(item.time)
            if report is not None and isinstance(item, Path):
                report.files[index] = item.relative_to(source).as_posix()
            yield index, read(item)
            kept += 1
            if max_frames is not None and kept >= max_frames:
                return
        if report is not None:
            report.complete = True
    finally:
        if hasattr(items, "close"):  # the decoder closes its file at once, not when collected
            items.close()


def frame_rate(source: str | Path) -> float | None:
    """Frames per second a video file declares (None for a folder of frames, or if it declares none)."""
    source = Path(source)
    if source.is_dir():
        return None
    import av

    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                raise DataError(f"{source}: has no video stream")
            rate = container.streams.video[0].average_rate or container.streams.video[0].guessed_rate
    except av.FFmpegError as e:
        raise DataError(f"{source}: cannot decode the video ({e})") from e
    return float(rate) if rate else None


def _to_rgb(frame) -> np.ndarray:
    """The RGB picture of a PyAV frame as players show it: turned by its display rotation."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = _turns(frame)
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _turns(frame) -> int:
    """Quarter turns counterclockwise that show a PyAV frame as players do."""
    # frame.rotation: degrees the display matrix turns the picture counterclockwise, as np.rot90's k
    # does (checked against OpenCV, which applies it: tests/data/test_video_rotation.py)
    return round(getattr(frame, "rotation", 0) / 90) % 4


def _read_image(path: Path) -> np.ndarray:
    # read_image: as the dataset, training and report read frames (EXIF orientation ignored)
    return read_image(path, advice="")


def find_sources(src_dir: Path, classes: Mapping[str, int]) -> list[tuple[str, Path]]:
    """(class, video file or frame folder) pairs under ``src_dir``; every problem in one DataError."""
    if not src_dir.is_dir():
        raise DataError(f"{src_dir}: not a folder")
    problems, sources = [], []
    for entry in sorted(src_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            problems.append(f"{entry}: expected class-named folders in {src_dir}, found a file")
        elif entry.name not in classes:
            problems.append(
                f"{entry}: unknown class {entry.name!r}; known classes: {', '.join(classes)}"
            )
        else:
            for item in sorted(entry.iterdir(), key=_natural_key):
                if item.name.startswith("."):
                    continue
                if item.is_dir() or item.suffix.lower() in VIDEO_EXTENSIONS:
                    sources.append((entry.name, item))
                else:
                    problems.append(
                        f"{item}: not a video ({', '.join(VIDEO_EXTENSIONS)}) nor a folder of frames"
                    )
    if problems:
        raise DataError(f"cannot import {src_dir}:", problems)
    if not sources:
        raise DataError(
            f"{src_dir}: no videos found (expected <class>/<video file or frame folder>)"
        )
    return sources


def _last_video_number(class_dir: Path) -> int:
    """The highest N of the ``video-N`` folders already in ``class_dir`` (0 if none)."""
    found = [
        int(m[1]) for p in class_dir.glob("video-*") if (m := re.fullmatch(r"video-(\d+)", p.name))
    ]
    return max(found, default=0)


def _write_frames(
    frames: Iterable[tuple[int, np.ndarray]],
    out_dir: Path,
    video_id: str,
    shot_length: int | None,
    quality: int,
) -> list[tuple[str, int, int]]:
    """Write each (index in the source, RGB frame) as JPEG; (frame id, w, h) of each."""
    written: list[tuple[str, int, int]] = []
    for index, rgb in frames:
        shot = len(written) // shot_length + 1 if shot_length else 1
        frame_id = f"{video_id}/shot-{shot:06d}/frame_{index:06d}.jpg"
        path = out_dir / frame_id
        path.parent.mkdir(parents=True, exist_ok=True)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise DataError(f"{path}: cannot write the frame")
        written.append((frame_id, rgb.shape[1], rgb.shape[0]))
    return written


def import_videos(
    src_dir: str | Path,
    out_dir: str | Path,
    stride: int = 1,
    max_frames: int | None = None,
    shot_length: int | None = None,
    classes: Sequence[str] | Mapping[str, int] | None = None,
    split: str = "train",
    folds_dir: str | Path | None = None,
    quality: int = 95,
    progress: bool = True,
    warn: Callable[[str], None] | None = None,
) -> Split:
    """Write the videos of ``src_dir`` as JPEG frames and a fold split; return the split read back.

    ``classes``: names (indices in order) or a name → index map; YouTube-Objects' by default.
    ``folds_dir`` defaults to ``<out_dir>/folds``. ``warn`` is called with each problem the
    decoder finds in a video (corrupt frames, fewer frames than it declares; see
    :class:`DecodeReport`) once the video is imported; the import goes on.
    """
    from wsvol.utils.terminal import track

    if (
        stride < 1
        or (max_frames is not None and max_frames < 1)
        or (shot_length is not None and shot_length < 1)
    ):
        raise ValueError(
            f"stride, max_frames and shot_length must be >= 1, got {stride}, {max_frames}, {shot_length}"
        )
    if classes is None:
        class_map = dict(YOUTUBE_OBJECTS_CLASS_MAP)
    elif isinstance(classes, Mapping):
        class_map = validate_class_map(classes, "classes")
    else:
        class_map = validate_class_map({name: i for i, name in enumerate(classes)}, "classes")
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    folds_dir = out_dir / "folds" if folds_dir is None else Path(folds_dir)
    split_dir = folds_dir / split
    if (split_dir / "image_ids.txt").exists():
        raise DataError(
            f"{split_dir / 'image_ids.txt'} exists already; choose another split or folds_dir"
        )
    class_file = folds_dir / "class_id.yaml"
    if class_file.exists() and yaml.safe_load(class_file.read_text()) != class_map:
        raise DataError(
            f"{class_file} exists with another class map; use the same classes or another folds_dir"
        )
    sources = find_sources(src_dir, class_map)

    ids, labels, sizes, provenance = [], [], [], []
    numbers = {cls: _last_video_number(out_dir / cls) for cls in class_map}  # never overwrite
    created: list[Path] = []  # this call's video folders: a failed import removes them again
    try:
        for cls, source in track(sources, f"importing {len(sources)} videos", disable=not progress):
            numbers[cls] += 1
            video_id = f"{cls}/video-{numbers[cls]:04d}"
            created.append(out_dir / video_id)
            report = DecodeReport(source)
            frames = read_frames(source, stride, max_frames, report)
            written = _write_frames(frames, out_dir, video_id, shot_length, quality)
            if not written:
                raise DataError(f"{source}: no frames decoded")
            for line in report.warnings("imported") if warn is not None else ():
                warn(line)
            ids += [fid for fid, _, _ in written]
            labels += [f"{fid},{class_map[cls]}" for fid, _, _ in written]
            sizes += [f"{fid},{w},{h}" for fid, w, h in written]
            provenance.append(f"{video_id},{source}")
    except BaseException:
        for folder in created:
            shutil.rmtree(folder, ignore_errors=True)
        raise

    split_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(class_file, yaml.safe_dump(class_map, sort_keys=False))
    for name, lines in [  # image_ids.txt last: it is what makes the split exist
        ("class_labels.txt", labels),
        ("image_sizes.txt", sizes),
        ("video_sources.txt", provenance),
        ("image_ids.txt", ids),
    ]:
        atomic_write_text(split_dir / name, "".join(f"{line}\n" for line in lines))
    return read_split(folds_dir, split, require_boxes=False)
