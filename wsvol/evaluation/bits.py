"""A boolean (frames × thresholds) table stored as bits, with the sums the evaluation needs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Rows unpacked at a time by the sums (keeps their working memory at a few MB).
CHUNK_ROWS = 1024


class BitTable:
    """An (N, T) boolean table held as N × ⌈T/8⌉ bytes (``np.packbits``, little bit order).

    ``np.asarray(table)`` unpacks it whole (N·T bytes); the sums, columns and row selections
    work on the bits, a few thousand rows at a time.
    """

    __slots__ = ("packed", "width")

    def __init__(self, packed: np.ndarray, width: int) -> None:
        packed = np.ascontiguousarray(packed, dtype=np.uint8)
        if packed.ndim != 2 or packed.shape[1] != (width + 7) // 8:
            raise ValueError(f"{width} bits a row need {(width + 7) // 8} bytes a row, got shape {packed.shape}")
        self.packed, self.width = packed, int(width)

    @classmethod
    def from_bool(cls, table: np.ndarray) -> BitTable:
        """Pack an (N, T) boolean array."""
        table = np.asarray(table, dtype=bool)
        if table.ndim != 2:
            raise ValueError(f"a bit table is 2-D (frames, thresholds), got shape {table.shape}")
        return cls(np.packbits(table, axis=1, bitorder="little"), table.shape[1])

    @classmethod
    def concat(cls, tables: Sequence[BitTable], width: int | None = None) -> BitTable:
        """The rows of ``tables`` one after the other (``width`` when there are none)."""
        widths = {t.width for t in tables}
        if len(widths) > 1:
            raise ValueError(f"bit tables of different widths: {sorted(widths)}")
        width = widths.pop() if widths else int(width or 0)
        if not tables:
            return cls(np.zeros((0, (width + 7) // 8), np.uint8), width)
        return cls(np.concatenate([t.packed for t in tables]), width)

    @property
    def shape(self) -> tuple[int, int]:
        """(N, T)."""
        return self.packed.shape[0], self.width

    def __len__(self) -> int:
        return self.packed.shape[0]

    def __repr__(self) -> str:
        return f"BitTable(shape={self.shape})"

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.unpack()
        return out if dtype is None else out.astype(dtype)

    def unpack(self, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """The (n, T) boolean rows (all by default)."""
        packed = self.packed if rows is None else self.packed[rows]
        return np.unpackbits(packed, axis=1, count=self.width, bitorder="little").view(bool)

    def column(self, k: int) -> np.ndarray:
        """(N,) booleans of column ``k``."""
        if not -self.width <= k < self.width:
            raise IndexError(f"column {k} of a table with {self.width} columns")
        k %= self.width
        return ((self.packed[:, k >> 3] >> (k & 7)) & 1).astype(bool)

    def rows(self, index: np.ndarray | Sequence[int]) -> BitTable:
        """The table of the selected rows (indices or a boolean mask), in that order."""
        return BitTable(self.packed[np.asarray(index)], self.width)

    def sums(self, rows: np.ndarray | None = None) -> np.ndarray:
        """(T,) int64 number of True per column, over all rows or the selected ones."""
        packed = self.packed if rows is None else self.packed[np.asarray(rows)]
        out = np.zeros(self.width, dtype=np.int64)
        for start in range(0, len(packed), CHUNK_ROWS):
            block = np.unpackbits(packed[start : start + CHUNK_ROWS], axis=1, count=self.width, bitorder="little")
            out += block.sum(axis=0, dtype=np.int64)
        return out

    def group_sums(self, groups: np.ndarray, n_groups: int) -> np.ndarray:
        """(G, T) int64 number of True per column within each group (``groups``: (N,) in [0, G))."""
        groups = np.asarray(groups, dtype=np.int64)
        if groups.shape != (len(self),):
            raise ValueError(f"got {groups.size} group ids for {len(self)} rows")
        out = np.zeros((n_groups, self.width), dtype=np.int64)
        order = np.argsort(groups, kind="stable")
        for start in range(0, len(order), CHUNK_ROWS):
            idx = order[start : start + CHUNK_ROWS]
            g = groups[idx]
            block = np.unpackbits(self.packed[idx], axis=1, count=self.width, bitorder="little")
            starts = np.flatnonzero(np.diff(g, prepend=-1))  # rows are sorted by group
            # reduceat casts the whole block to its dtype: uint16 holds a chunk's counts
            out[g[starts]] += np.add.reduceat(block, starts, axis=0, dtype=np.uint16)
        return out
