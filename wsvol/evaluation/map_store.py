"""Quantized maps kept on disk during an evaluation, read back by frame.

An evaluation needs every frame's map once more after all frames are seen: the boxes are
traced at the best threshold, which only the whole set decides. Holding the maps in memory
costs 50 KB a frame at 224² (6.7 GB for YouTube-Objects' 134 119-frame ``test-video-demo``
split), so each process appends its maps to a file (:class:`MapSpill`) and the result reads
them back (:class:`MapStore`) through memory maps of the files. The files are deleted when the result that
reads them is (or at exit). In a multi-node run, rank 0 reads the other ranks' files: their
directory must be shared, as for mmengine's CPU result collection.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

__all__ = ["MapSpill", "MapStore"]

def _remove(paths: Sequence[str]) -> None:
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


class MapSpill:
    """Appends uint8 maps of one size to a new file in ``directory`` (default: the temp dir).

    The file is deleted with this object unless a :class:`MapStore` took it over (``handed_over``).
    """

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        directory = Path(directory) if directory is not None else Path(tempfile.gettempdir())
        directory.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="wsvol-maps-", suffix=".u8", dir=directory)
        self.path = os.path.abspath(path)
        self._file = os.fdopen(fd, "wb")
        self.shape: tuple[int, int] | None = None
        self.count = 0
        self._finalizer = weakref.finalize(self, _remove, [self.path])

    def append(self, maps: np.ndarray) -> np.ndarray:
        """Write (n, H, W) uint8 maps; return their rows in the file."""
        maps = np.ascontiguousarray(maps, dtype=np.uint8)
        if maps.ndim != 3:
            raise ValueError(f"maps to spill must be (n, H, W), got shape {maps.shape}")
        if self.shape is None:
            self.shape = maps.shape[1:]
        elif maps.shape[1:] != self.shape:
            raise ValueError(f"maps of size {maps.shape[1:]} in a spill of size {self.shape}")
        self._file.write(maps.tobytes())
        self._file.flush()
        rows = np.arange(self.count, self.count + len(maps))
        self.count += len(maps)
        return rows

    def close(self) -> None:
        """Flush and close the file (reading it stays possible)."""
        if not self._file.closed:
            self._file.close()

    def handed_over(self) -> None:
        """Someone else (a store, perhaps in another process) deletes the file now."""
        self.close()
        self._finalizer.detach()


class MapStore(Sequence):
    """Frame i's map is row ``rows[i]`` of file ``paths[files[i]]``; all maps are (H, W) uint8.

    Deletes its files when garbage-collected (or at exit) if it ``owns`` them.
    """

    def __init__(
        self,
        paths: Sequence[str],
        files: np.ndarray,
        rows: np.ndarray,
        shape: tuple[int, int],
        owns: bool = True,
    ) -> None:
        self.paths = [str(p) for p in paths]
        self.files = np.asarray(files, dtype=np.int32)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.shape = (int(shape[0]), int(shape[1]))
        if self.files.shape != self.rows.shape:
            raise ValueError("map store: one file index and one row per frame")
        missing = [p for p in self.paths if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(
                f"map store: cannot read the maps spilled to {missing[0]}; in a multi-node run the "
                "metric's maps_dir must be a directory every node shares (or set keep_maps: false)"
            )
        self._views: dict[int, np.ndarray] = {}
        if owns:
            weakref.finalize(self, _remove, list(self.paths))

    def _view(self, f: int) -> np.ndarray:
        if f not in self._views:
            size = self.shape[0] * self.shape[1]
            count = os.path.getsize(self.paths[f]) // size
            self._views[f] = np.memmap(self.paths[f], dtype=np.uint8, mode="r", shape=(count, *self.shape))
        return self._views[f]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return np.stack([self[j] for j in range(*i.indices(len(self)))]) if len(self) else np.zeros((0, *self.shape), np.uint8)
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"map {i} of a store of {len(self)}")
        i %= len(self)
        return np.array(self._view(int(self.files[i]))[self.rows[i]])

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every map in order, as a read-only view of its file (no copy is kept)."""
        for f, r in zip(self.files.tolist(), self.rows.tolist()):
            yield self._view(f)[r]

    def __repr__(self) -> str:
        return f"MapStore({len(self)} maps of {self.shape[0]}x{self.shape[1]} in {len(self.paths)} files)"
