"""Quantized maps kept on disk during an evaluation, read back by frame.

An evaluation needs every frame's map once more after all frames are seen: the boxes are
traced at the best threshold, which only the whole set decides. Holding the maps in memory
costs 50 KB a frame at 224² (6.7 GB for YouTube-Objects' 134 119-frame ``test-video-demo``
split), so each process appends its maps to a file (:class:`MapSpill`) and the result reads
them back (:class:`MapStore`) through memory maps.

A file leaves no trace, even when the process is killed: a spill of one process is unlinked as
soon as it is created and lives on as an open file; in a distributed run, rank 0 opens the
other ranks' files by name, and unlinks them at once. (A rank killed before that leaves its
file behind.) In a multi-node run the files' directory must be shared, as for mmengine's CPU
result collection.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["MapSpill", "MapStore"]

#: Spills of this process by name, while something holds them open.
_OPEN: weakref.WeakValueDictionary[str, BinaryIO] = weakref.WeakValueDictionary()


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class MapSpill:
    """Appends uint8 maps of one size to a new file in ``directory`` (default: the temp dir).

    ``private`` (one process reads it): the file is unlinked at once and read through the open
    handle. Otherwise (another process reads it by ``path``) it is deleted with this object
    unless :meth:`handed_over` says its reader deletes it.
    """

    def __init__(self, directory: str | os.PathLike | None = None, private: bool = True) -> None:
        directory = Path(directory) if directory is not None else Path(tempfile.gettempdir())
        directory.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="wsvol-maps-", suffix=".u8", dir=directory)
        self.path = os.path.abspath(path)
        self.private = private
        self._file = os.fdopen(fd, "w+b")
        self.shape: tuple[int, int] | None = None
        self.count = 0
        if private:
            os.unlink(self.path)  # the open handle keeps the file until the last reader drops it
            _OPEN[self.path] = self._file
            self._finalizer = None
        else:
            self._finalizer = weakref.finalize(self, _remove, self.path)

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
        """Flush; a shared file is closed (its reader opens it by name)."""
        if self._file.closed:
            return
        self._file.flush()
        if not self.private:
            self._file.close()

    def handed_over(self) -> None:
        """The reader (a store, perhaps in another process) deletes the file now."""
        self.close()
        if self._finalizer is not None:
            self._finalizer.detach()


class MapStore(Sequence):
    """Frame i's map is row ``rows[i]`` of file ``paths[files[i]]``; all maps are (H, W) uint8.

    Files of this process's private spills are read through their open handles; the others are
    opened by name and, if the store ``owns`` them, unlinked right away. The files go when the
    store does.
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
        self._handles: list[BinaryIO] = []
        for path in self.paths:
            handle = _OPEN.get(path)
            if handle is None:
                try:
                    handle = open(path, "rb")  # noqa: SIM115 (kept open as long as the store)
                except FileNotFoundError:
                    raise FileNotFoundError(
                        f"map store: cannot read the maps spilled to {path}; in a multi-node run the "
                        "metric's maps_dir must be a directory every node shares (or set keep_maps: false)"
                    ) from None
                if owns:
                    _remove(path)
            self._handles.append(handle)
        self._views: dict[int, np.ndarray] = {}

    def _view(self, f: int) -> np.ndarray:
        if f not in self._views:
            handle = self._handles[f]
            count = os.fstat(handle.fileno()).st_size // (self.shape[0] * self.shape[1])
            self._views[f] = np.memmap(handle, dtype=np.uint8, mode="r", shape=(count, *self.shape))
        return self._views[f]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            picked = range(*i.indices(len(self)))
            return np.stack([self[j] for j in picked]) if picked else np.zeros((0, *self.shape), np.uint8)
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
