"""Annotated videos: RGB pictures written as an mp4 (H.264 through PyAV), atomically."""

from __future__ import annotations

from fractions import Fraction
from numbers import Real
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from wsvol.utils.files import commit_temp, reserve_temp

#: Codecs tried in order: H.264 (libx264, in PyAV's wheels), else MPEG-4 part 2 (always there).
CODECS = ("libx264", "mpeg4")
#: Frame rates an mp4 is written at. Below 1/1000 the rate's fraction (denominator ≤ 10 000) gets
#: coarse, and under 1/20 000 it is 0, which the muxer silently replaces by 24; above 1000 frames
#: get lost (at 2000 fps a 3-frame video decodes to 2).
MIN_FPS, MAX_FPS = 0.001, 1000.0


def check_fps(fps: float, name: str = "fps") -> float:
    """``fps`` as a float, or ValueError naming ``name`` if it is not a number in [MIN_FPS, MAX_FPS]."""
    if isinstance(fps, bool) or not isinstance(fps, Real) or not MIN_FPS <= fps <= MAX_FPS:
        raise ValueError(f"{name} must be a number of frames per second in [{MIN_FPS:g}, {MAX_FPS:g}], "
                         f"got {fps!r}")
    return float(fps)


class Mp4Writer:
    """Write RGB uint8 frames of one size to ``path`` as an mp4; use as a context manager.

    Frames go to a temporary file next to ``path``, renamed to it when the block ends without an
    error (removed otherwise), so a killed run never leaves half a video under the final name.
    yuv420p needs even sides: a frame with an odd width or height gets one black column or row.
    ``pixel_aspect`` (width ÷ height of a pixel, None: square), set before the first frame, is
    written in the stream, so players show the frames of anamorphic footage as its source.
    """

    def __init__(self, path: str | Path, fps: float, codec: str | None = None, crf: int = 23) -> None:
        import av

        self.path = Path(path)
        self.fps = Fraction(check_fps(fps)).limit_denominator(10_000)
        available = [c for c in ([codec] if codec else CODECS) if c in av.codecs_available]
        if not available:
            raise ValueError(f"video codec {codec or CODECS!r} is not available in this PyAV build")
        self.codec, self.crf = available[0], int(crf)
        self.frames = 0
        self.pixel_aspect: Fraction | None = None
        self._size: tuple[int, int] | None = None  # (width, height) of the first frame
        self._container = self._stream = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = reserve_temp(self.path)

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) of the frames, set by the first one written."""
        return self._size

    def write(self, rgb: np.ndarray) -> None:
        """Append one RGB (H, W, 3) uint8 frame; every frame must have the first one's size."""
        import av

        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {rgb.dtype} {rgb.shape}")
        h, w = rgb.shape[:2]
        if self._size is None:
            self._size = (w, h)
            self._container = av.open(str(self._tmp), "w", format="mp4")
            self._stream = self._container.add_stream(self.codec, rate=self.fps)
            self._stream.width, self._stream.height = w + w % 2, h + h % 2
            self._stream.pix_fmt = "yuv420p"
            if self.pixel_aspect:
                self._stream.codec_context.sample_aspect_ratio = Fraction(self.pixel_aspect)
            if self.codec == "libx264":
                self._stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        elif self._size != (w, h):
            raise ValueError(f"{self.path}: frame {self.frames} is {w}x{h}, the video is "
                             f"{self._size[0]}x{self._size[1]}")
        if w % 2 or h % 2:
            rgb = cv2.copyMakeBorder(rgb, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT, value=0)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def close(self, keep: bool = True) -> Path | None:
        """Flush and close; ``keep``: rename to ``path`` (if a frame was written), else remove."""
        try:
            if self._container is not None:
                if keep:
                    self._container.mux(self._stream.encode())
                self._container.close()
                self._container = None
            if keep and self.frames:
                commit_temp(self._tmp, self.path)
                return self.path
        finally:
            self._tmp.unlink(missing_ok=True)
        return None

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(keep=kind is None)
