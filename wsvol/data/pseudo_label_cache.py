"""The pseudo-label cache of one split: uint8 maps in memory-mappable shards, resumable, keyed.

Layout of ``<root>`` (one folder per split)::

    index.json          format, key (source + weights hash), map size, shard size, frame count,
                        SHA-256 of the frame list, and a description of the source (for messages)
    frames.txt.gz       the frame ids, one a line, in cache order (frame i is row i % S of shard i // S)
    shard-00000.npy     uint8 (S, H, W): the maps of frames 0..S-1
    shard-00001.npy     ...

Frame ``i`` always lands in shard ``i // shard_size``, so which shards exist says exactly what is
done: a killed run resumes by computing the missing shards, and ranks of a distributed run split
shards (``k % world_size == rank``) without talking to each other. Every file is written through
:func:`wsvol.utils.files.atomic_open` (temporary file, fsync, rename): a shard is either whole or
absent, never corrupt. The index is written before any shard and names the key; a cache whose key
or frame list differs from the requested one is refused (``overwrite`` rebuilds it).

Maps are stored as ``floor(map · 255)`` (uint8, a quarter of float32): the same quantization as
CorLoc evaluation's ``int(map · 255)``, so a map already min-max normalized to [0, 1] evaluates to
exactly the same quantized map from the cache as from float32. Read maps are ``uint8 / 255``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wsvol.utils.files import atomic_open, remove_stale_partials
from wsvol.utils.messages import differences

FORMAT = 1
INDEX, FRAMES, SHARD = "index.json", "frames.txt.gz", "shard-{:05d}.npy"
MAX_OPEN_SHARDS = 64  #: memory maps kept open per reader (least recently used ones are closed)


class CacheError(RuntimeError):
    """A pseudo-label cache that is stale, incomplete or damaged; the message says what to run."""


def quantize(maps: np.ndarray) -> np.ndarray:
    """Float maps in [0, 1] → uint8 ``floor(map · 255)`` (values outside [0, 1] are clipped)."""
    m = np.asarray(maps, dtype=np.float64)
    if not np.isfinite(m).all():
        raise ValueError("pseudo-label maps must be finite")
    return np.floor(np.clip(m, 0.0, 1.0) * 255.0).astype(np.uint8)


def dequantize(maps: np.ndarray) -> np.ndarray:
    """uint8 maps → float32 in [0, 1]."""
    return np.asarray(maps, dtype=np.float32) / np.float32(255.0)


def frames_digest(frame_ids: Sequence[str]) -> str:
    """SHA-256 of an ordered frame list."""
    return hashlib.sha256("\n".join(frame_ids).encode()).hexdigest()


class PseudoLabelCache:
    """One split's cached maps; ``cache(frame_id)`` is the float32 map (H, W) in [0, 1].

    Open an existing cache with :meth:`open`; create or resume one with :meth:`create`. Reading
    memory-maps shards, keeping the :data:`MAX_OPEN_SHARDS` most recently used open (each holds a
    file descriptor); the object pickles without its maps, for DataLoader workers.
    """

    def __init__(self, root: str | Path, index: dict, frame_ids: list[str]) -> None:
        self.root = Path(root)
        self.index = index
        self.frame_ids = frame_ids
        self.size: tuple[int, int] = tuple(index["size"])
        self.shard_size: int = int(index["shard_size"])
        self._rows = {f: i for i, f in enumerate(frame_ids)}
        self._shards: dict[int, np.ndarray] = {}

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, root: str | Path, key: str | None = None, describe: dict | None = None
             ) -> PseudoLabelCache:
        """An existing cache; with ``key``, refuse one made by another source (``describe``, the
        expected source description, lets the message list what changed)."""
        root = Path(root)
        index = _read_index(root)
        if index is None:
            raise CacheError(f"no pseudo-label cache in {root} (no {INDEX}); run `wsvol pseudo-labels CFG`")
        if key is not None and index["key"] != key:
            diffs = differences(index.get("describe", {}), describe) if describe else []
            what = ":\n    " + "\n    ".join(diffs) if diffs else f" (key {index['key'][:12]}, expected {key[:12]})"
            raise CacheError(f"pseudo-label cache {root} was made by another source{what}\nRebuild it "
                             f"with `wsvol pseudo-labels CFG --overwrite`")
        with gzip.open(root / FRAMES, "rt", encoding="utf-8") as f:
            frame_ids = f.read().split("\n") if index["num_frames"] else []
        if len(frame_ids) != index["num_frames"] or frames_digest(frame_ids) != index["frames_sha256"]:
            raise CacheError(f"{root / FRAMES} does not match {root / INDEX} (damaged cache); rebuild "
                             f"it with `wsvol pseudo-labels CFG --overwrite`")
        return cls(root, index, frame_ids)

    @classmethod
    def create(cls, root: str | Path, *, key: str, frame_ids: Sequence[str], size: Sequence[int],
               shard_size: int = 256, describe: dict | None = None, overwrite: bool = False
               ) -> PseudoLabelCache:
        """Start a cache, or resume the one in ``root`` if it was made by the same source for the same frames.

        A cache there with another key, frame list, map size or shard size raises a
        :class:`CacheError` listing the differences, unless ``overwrite`` (which deletes it).
        """
        root, frame_ids = Path(root), list(frame_ids)
        size = (int(size[0]), int(size[1]))
        if min(size) < 1 or int(shard_size) < 1:
            raise ValueError(f"map size {size} and shard_size {shard_size} must be positive")
        index = {"format": FORMAT, "key": key, "size": list(size), "shard_size": int(shard_size),
                 "num_frames": len(frame_ids), "frames_sha256": frames_digest(frame_ids),
                 "describe": describe or {}}
        remove_stale_partials(root, recursive=False)  # what killed writers left
        try:
            old = _read_index(root)
            if old is not None and all(old.get(k) == v for k, v in index.items() if k != "describe"):
                return cls.open(root, key)  # the same source and frames: resume
        except CacheError:  # unreadable, another format, damaged frame list
            if not overwrite:
                raise
            old = None
            cls.remove(root)
        if old is not None:
            if not overwrite:
                raise CacheError(_stale_message(root, old, index, frame_ids))
            cls.remove(root)
        elif root.is_dir() and any(root.glob("shard-*.npy")):
            if not overwrite:
                raise CacheError(f"{root} holds shards but no {INDEX}: not a cache this version wrote; "
                                 f"rerun with --overwrite to rebuild it")
            cls.remove(root)
        with atomic_open(root / FRAMES) as f:
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
                gz.write("\n".join(frame_ids).encode("utf-8"))
        with atomic_open(root / INDEX, "w") as f:  # the index last: it commits the cache
            json.dump(index, f, indent=1)
        return cls(root, index, frame_ids)

    @staticmethod
    def remove(root: str | Path) -> None:
        """Delete a cache's own files (index, frame list, shards, partial writes) and nothing else."""
        root = Path(root)
        for pattern in (INDEX, FRAMES, "shard-*.npy", ".shard-*.tmp", f".{INDEX}.*.tmp", f".{FRAMES}.*.tmp"):
            for p in root.glob(pattern):
                p.unlink()

    # -- shards --------------------------------------------------------------------------------
    @property
    def num_shards(self) -> int:
        """How many shards the cache has when complete."""
        return -(-len(self.frame_ids) // self.shard_size)

    def shard_rows(self, k: int) -> range:
        """Indices (in :attr:`frame_ids`) of the frames of shard ``k``."""
        return range(k * self.shard_size, min((k + 1) * self.shard_size, len(self.frame_ids)))

    def shard_path(self, k: int) -> Path:
        """The file of shard ``k``."""
        return self.root / SHARD.format(k)

    def missing_shards(self, rank: int = 0, world_size: int = 1) -> list[int]:
        """Shards not written yet among those of ``rank`` (shard k belongs to rank k % world_size)."""
        return [k for k in range(rank, self.num_shards, world_size) if not self.shard_path(k).is_file()]

    @property
    def complete(self) -> bool:
        """Whether every shard is written."""
        return not self.missing_shards()

    def write_shard(self, k: int, maps: np.ndarray) -> None:
        """Quantize and store the maps (n, H, W) of shard ``k``'s frames, atomically."""
        n = len(self.shard_rows(k))
        maps = np.asarray(maps)
        if maps.shape != (n, *self.size):
            raise ValueError(f"shard {k} of {self.root} needs maps of shape {(n, *self.size)}, got {maps.shape}")
        with atomic_open(self.shard_path(k)) as f:
            np.save(f, quantize(maps))

    # -- reading -------------------------------------------------------------------------------
    def _shard(self, k: int) -> np.ndarray:
        shard = self._shards.pop(k, None)
        if shard is None:
            path = self.shard_path(k)
            if not path.is_file():
                done = self.num_shards - len(self.missing_shards())
                raise CacheError(f"pseudo-label cache {self.root} is incomplete ({done} of {self.num_shards} "
                                 f"shards; {path.name} is missing): run `wsvol pseudo-labels CFG` to finish it")
            try:
                shard = np.load(path, mmap_mode="r")
            except (OSError, ValueError, EOFError) as err:  # e.g. truncated: "mmap length is greater ..."
                raise CacheError(f"{path}: unreadable shard ({err}; damaged cache); "
                                 f"rebuild it with --overwrite") from None
            want = (len(self.shard_rows(k)), *self.size)
            if shard.dtype != np.uint8 or shard.shape != want:
                raise CacheError(f"{path}: holds {shard.dtype} {shard.shape}, expected uint8 {want} "
                                 f"(damaged cache); rebuild it with --overwrite")
            if len(self._shards) >= MAX_OPEN_SHARDS:  # each memory map holds a file descriptor
                del self._shards[next(iter(self._shards))]
        self._shards[k] = shard  # most recently used last
        return shard

    def row(self, frame_id: str) -> int:
        """Position of ``frame_id`` in the cache."""
        try:
            return self._rows[frame_id]
        except KeyError:
            raise CacheError(f"frame {frame_id!r} is not in the pseudo-label cache {self.root} "
                             f"({len(self.frame_ids)} frames)") from None

    def read_uint8(self, frame_id: str) -> np.ndarray:
        """The stored uint8 map (H, W) of ``frame_id`` (a read-only view of the shard)."""
        i = self.row(frame_id)
        return self._shard(i // self.shard_size)[i % self.shard_size]

    def __call__(self, frame_id: str) -> np.ndarray:
        """The map of ``frame_id``: float32 (H, W) in [0, 1] (``FoldDataset``'s ``pseudo_label_reader``)."""
        return dequantize(self.read_uint8(frame_id))

    def __len__(self) -> int:
        return len(self.frame_ids)

    def __contains__(self, frame_id: object) -> bool:
        return frame_id in self._rows

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_shards": {}}  # memory maps are reopened in each process

    def __repr__(self) -> str:
        return (f"PseudoLabelCache({str(self.root)!r}, {len(self)} frames, {self.size[0]}x{self.size[1]}, "
                f"{self.num_shards - len(self.missing_shards())}/{self.num_shards} shards)")

    def nbytes_on_disk(self) -> tuple[int, int]:
        """(apparent bytes, allocated bytes) of the cache's files."""
        files = [self.root / INDEX, self.root / FRAMES, *self.root.glob("shard-*.npy")]
        stats = [p.stat() for p in files if p.is_file()]
        return sum(s.st_size for s in stats), sum(s.st_blocks * 512 for s in stats)


def _read_index(root: Path) -> dict | None:
    path = root / INDEX
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CacheError(f"{path}: unreadable cache index ({err}); rebuild with --overwrite") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        got = index.get("format") if isinstance(index, dict) else "?"
        raise CacheError(f"{path}: cache format {got!r}, this wsvol reads format {FORMAT}; rebuild with --overwrite")
    return index


def _stale_message(root: Path, old: dict, new: dict, frame_ids: list[str]) -> str:
    changes = []
    if old["key"] != new["key"]:
        diffs = differences(old.get("describe", {}), new.get("describe", {}))
        changes.append("the source changed" + (":\n    " + "\n    ".join(diffs) if diffs else
                                               f" (key {old['key'][:12]} → {new['key'][:12]})"))
    if old["frames_sha256"] != new["frames_sha256"]:
        try:
            before = set(PseudoLabelCache.open(root).frame_ids)
            now = set(frame_ids)
            changes.append(f"the frame list changed ({len(now - before)} frames added, "
                           f"{len(before - now)} removed, {len(now)} now)")
        except CacheError:
            changes.append("the frame list changed")
    for k in ("size", "shard_size"):
        if old.get(k) != new[k]:
            changes.append(f"{k} changed: {old.get(k)} → {new[k]}")
    return (f"pseudo-label cache {root} is stale: " + "; ".join(changes) +
            "\nRebuild it with `wsvol pseudo-labels CFG --overwrite`, or set pseudo_labels.cache_dir "
            "to another folder")
