"""CorLoc (MaxBoxAcc v1) with the exact conventions of wsolevaluation (Choe et al., 2020).

Conventions (each one changes the numbers, so each is part of the metric), beside the map and box
preparation of :mod:`wsvol.evaluation.maps`:

* at threshold τ the binary map is ``q > int(τ · max(q))``; the box is the bounding rectangle of
  the contour with the largest ``cv2.contourArea`` (first one on ties), ``x1 = min(x + w, W - 1)``;
  no contour gives ``(0, 0, 0, 0)``;
* IoU uses inclusive areas ``(x1 - x0 + 1) · (y1 - y0 + 1)``; a frame is correct when its IoU with
  at least one true box is ≥ 0.5; CorLoc is the best τ's percentage of correct frames.

The sweep is fast and exact: a quantized map has at most 255 distinct binary maps, and boxes
traced at a few of them bound the IoU at the others (see ``_Sweep``), so most thresholds are
settled without calling OpenCV. The result is identical, τ by τ, to the plain loop. The numbers
depend on OpenCV's contour order for ties (pinned by ``tests/evaluation/test_corloc.py``; the same on
OpenCV 4.10, 4.14, 5.0 and 5.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from wsvol.evaluation.bits import BitTable
from wsvol.evaluation.maps import DEFAULT_EVAL_SIZE, prepare_map, rescale_boxes, thresholds

IOU_THRESHOLD = 0.5
#: Frames swept together (the sweep's bookkeeping takes about 170 KB a frame).
SWEEP_CHUNK = 256


def box_iou(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, K) IoU with inclusive pixel areas; a non-positive union gives 0 (as wsolevaluation)."""
    a = np.asarray(boxes, dtype=np.int64).reshape(-1, 1, 4)
    b = np.asarray(gt, dtype=np.int64).reshape(1, -1, 4)
    iw = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    ih = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    inter = iw * ih
    union = _area(a) + _area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _area(b: np.ndarray) -> np.ndarray:
    return (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)


def level_of(qmap: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Integer threshold ``int(τ · max(q))`` of each τ (the binary map is ``q > level``)."""
    return (np.asarray(taus, dtype=np.float64) * int(qmap.max())).astype(np.int64)


def box_at_level(qmap: np.ndarray, level: int) -> tuple[int, int, int, int]:
    """Box of the largest contour of ``qmap > level`` (``(0, 0, 0, 0)`` if empty)."""
    h, w = qmap.shape
    traced = _trace(qmap, int(level) + 1)
    if traced is None:
        return 0, 0, 0, 0
    (x0, y0, x1, y1), *_ = traced
    return x0, y0, min(x1 + 1, w - 1), min(y1 + 1, h - 1)


def box_at_threshold(qmap: np.ndarray, tau: float) -> tuple[int, int, int, int]:
    """The MaxBoxAcc box of a quantized map at threshold τ."""
    return box_at_level(qmap, int(level_of(qmap, np.array([tau]))[0]))


def _trace(q: np.ndarray, v: int):
    """Largest contour of ``q >= v`` (see ``_largest``), or None when the map is empty."""
    rows = np.flatnonzero((q >= v).any(axis=1))
    if rows.size == 0:
        return None
    sub = q[rows[0] : rows[-1] + 1]
    cols = np.flatnonzero((sub >= v).any(axis=0))
    crop = (sub[:, cols[0] : cols[-1] + 1] >= v).view(np.uint8)
    return _largest(crop, int(cols[0]), int(rows[0]))


def _largest(binary: np.ndarray, ox: int, oy: int):
    """(raw extents x0,y0,x1,y1, area) of the largest contour, and the runner-up's area (-1: none).

    Only outer contours are traced (RETR_EXTERNAL): a hole, or an island in a hole, lies inside
    its outer contour, so it can at most tie with it, and OpenCV lists the outer contour first.
    Cropping the binary map around its foreground keeps OpenCV's order of contours.
    """
    contours = cv2.findContours(
        binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE, offset=(ox, oy)
    )[0]
    areas = [cv2.contourArea(c) for c in contours]
    k = max(range(len(areas)), key=areas.__getitem__)  # first maximum, as max(..., key=) does
    runner_up = max(areas[:k] + areas[k + 1 :], default=-1.0)
    x, y, w, h = cv2.boundingRect(contours[k])
    return (x, y, x + w - 1, y + h - 1), areas[k], runner_up


def correct_per_threshold(
    qmap: np.ndarray, gt_boxes: np.ndarray, taus: np.ndarray, iou_threshold: float = IOU_THRESHOLD
) -> np.ndarray:
    """(T,) bool: is the box at each τ (sorted) within ``iou_threshold`` IoU of some true box?"""
    return correct_matrix([qmap], [gt_boxes], taus, iou_threshold)[0]


def correct_matrix(
    qmaps: Sequence[np.ndarray] | np.ndarray,
    gt_boxes: Sequence[np.ndarray],
    taus: np.ndarray,
    iou_threshold: float = IOU_THRESHOLD,
) -> np.ndarray:
    """(N, T) bool correctness of N quantized maps (same size) at every sorted threshold τ.

    Identical to the plain loop (threshold, contours, box, IoU for each τ), but a binary map is
    traced only where bounds from other levels leave its correctness open; see ``_Sweep``.
    """
    taus = np.asarray(taus, dtype=np.float64)
    if taus.ndim != 1 or (np.diff(taus) < 0).any():
        raise ValueError("thresholds must be a sorted 1-D array")
    qs = [np.ascontiguousarray(q, dtype=np.uint8) for q in qmaps]
    if len({q.shape for q in qs}) > 1 or any(q.ndim != 2 for q in qs):
        raise ValueError(
            f"maps must be 2-D and share one size; got shapes {sorted({q.shape for q in qs})}"
        )
    gts = []
    for i, b in enumerate(gt_boxes):
        b = np.asarray(b, dtype=np.int64).reshape(-1, 4)
        if b.shape[0] == 0:
            raise ValueError(f"frame {i} has no true box; a frame needs one to be evaluated")
        if (b < 0).any() or (b[:, 2] < b[:, 0]).any() or (b[:, 3] < b[:, 1]).any():
            raise ValueError(
                f"frame {i}: true boxes must be non-negative x0,y0,x1,y1 with x1>=x0, y1>=y0; got {b.tolist()}"
            )
        gts.append(b)
    if len(qs) != len(gts):
        raise ValueError(f"got {len(qs)} maps and {len(gts)} box sets")
    out = np.zeros((len(qs), taus.size), dtype=bool)
    for start in range(0, len(qs), SWEEP_CHUNK):  # frames are independent: bounded memory
        part = slice(start, start + SWEEP_CHUNK)
        out[part] = _Sweep(np.stack(qs[part]), gts[part], float(iou_threshold)).correct(taus)
    return out


def correct_bits(
    qmaps: Sequence[np.ndarray] | np.ndarray,
    gt_boxes: Sequence[np.ndarray],
    taus: np.ndarray,
    iou_threshold: float = IOU_THRESHOLD,
) -> BitTable:
    """:func:`correct_matrix` as bits, swept and packed a chunk of frames at a time."""
    parts = [
        BitTable.from_bool(correct_matrix(qmaps[s : s + SWEEP_CHUNK], gt_boxes[s : s + SWEEP_CHUNK], taus, iou_threshold))
        for s in range(0, len(qmaps), SWEEP_CHUNK)
    ]
    return BitTable.concat(parts, width=np.size(taus))


class _Sweep:
    """Exact MaxBoxAcc sweep of many frames, with the level bookkeeping vectorized across frames.

    Level v of a frame is the binary map q >= v (τ gives v = int(τ·max q) + 1). Two facts about
    OpenCV's contours settle most levels without tracing them: a component's contour area can only
    grow with the component, and two components neither of which lies in a hole of the other
    enclose disjoint areas. Hence, with traced levels lo < v < hi of a frame (winner areas A_lo,
    A_hi; A2_lo bounds every other component's area at lo):
    * the box lies in the foreground's bounding box R(v), and its area is at least A_hi (the
      component that holds the winner at hi only grew);
    * if A_hi > A2_lo, the winner at v lies inside the winner at lo: box(v) ⊆ box(lo) ∩ R(v), and
      tracing that crop finds it (pieces of cut components are smaller than A_hi);
    * if also 2·A_hi > A_lo, the winner at v contains the winner at hi: box(hi) ⊆ box(v).
    These bound the IoU; a correctly rounded division is monotone, so comparing the bounds with the
    threshold decides exactly as the plain loop would. Each round decides every open level from
    its nearest traced levels, then traces the middle open level of each gap. The full frame
    (level 0: one contour, the border) is every frame's first lower end.
    """

    def __init__(self, qs: np.ndarray, gts: list[np.ndarray], thr: float):
        self.qs, self.thr = qs, thr
        n, self.h, self.w = qs.shape
        g_max = max(len(b) for b in gts)
        # true boxes padded to the most per frame; ``valid`` masks the padding out of decisions
        self.gt = np.zeros((n, g_max, 4), dtype=np.int64)
        self.valid = np.zeros((n, g_max), dtype=bool)
        for i, b in enumerate(gts):
            self.gt[i, : len(b)], self.valid[i, : len(b)] = b, True
        self.gt_area = _area(self.gt)
        self.gt_lists = [[tuple(g) for g in b.tolist()] for b in gts]

    def correct(self, taus: np.ndarray) -> np.ndarray:
        qs, h, w, thr = self.qs, self.h, self.w, self.thr
        n = qs.shape[0]
        top = qs.reshape(n, -1).max(axis=1).astype(np.int64)
        level = (taus[None, :] * top[:, None]).astype(np.int64)  # int(τ·max q), as the loop does
        first = np.diff(level, axis=1, prepend=-1) > 0  # the distinct levels of each frame
        pair_of_tau = np.cumsum(first.ravel()).reshape(n, -1) - 1
        frame = np.nonzero(first)[0]  # one entry per (frame, level) pair, frames in order
        v = level[first] + 1
        self.frame, self.v = frame, v
        state = np.full(v.size, -1, dtype=np.int8)  # -1 open, 0 wrong, 1 correct
        empty = v > top[frame]
        state[empty] = self._exact_empty(frame[empty])

        # R(v): foreground extents from cumulative row/column maxima, searched frame by frame
        # through one sorted array (frame f's values shifted by 512 f)
        rmax, cmax = qs.max(axis=2).astype(np.int64), qs.max(axis=1).astype(np.int64)
        shift = 512 * frame

        def first_reaching(profile, size):  # first index whose cumulative maximum reaches v
            cum = np.maximum.accumulate(profile, axis=1) + 512 * np.arange(n)[:, None]
            return np.searchsorted(cum.ravel(), v + shift) - size * frame

        self.ex0, self.ey0 = first_reaching(cmax, w), first_reaching(rmax, h)
        self.ex1 = w - 1 - first_reaching(cmax[:, ::-1], w)
        self.ey1 = h - 1 - first_reaching(rmax[:, ::-1], h)
        self.rx1, self.ry1 = np.minimum(self.ex1 + 1, w - 1), np.minimum(self.ey1 + 1, h - 1)
        live = ~empty
        hopeless = live.copy()  # IoU <= |R(v) ∩ g| / |g|
        for j in range(self.gt.shape[1]):
            g, ga, ok = self.gt[frame, j].T, self.gt_area[frame, j], self.valid[frame, j]
            hopeless &= ~ok | (self._inter(self.ex0, self.ey0, self.rx1, self.ry1, g) / ga < thr)
        state[hopeless] = 0

        # traced levels: pair p sits at slot p + frame + 1; slot (first pair of f) + f is frame f's
        # full frame at level 0
        slots = v.size + n
        self.slot_of = np.arange(v.size) + frame + 1
        frame_slot = np.searchsorted(frame, np.arange(n)) + np.arange(n)
        self.t_box = np.zeros((4, slots), dtype=np.int64)
        self.t_box[2:, frame_slot] = [[w - 1], [h - 1]]
        self.t_box_area = np.zeros(slots, dtype=np.int64)
        self.t_box_area[frame_slot] = w * h
        self.t_area = np.zeros(slots)
        self.t_area[frame_slot] = (w - 1) * (h - 1)
        self.t_second = np.full(slots, -1.0)
        self.t_inter = np.zeros((self.gt.shape[1], slots), dtype=np.int64)
        self.t_inter[:, frame_slot] = self._inter(
            0, 0, w - 1, h - 1, self.gt.transpose(2, 1, 0)
        ).reshape(self.gt.shape[1], n)
        self.traced = np.zeros(slots, dtype=bool)
        self.traced[frame_slot] = True
        self.state = state
        self._lists = (
            v.tolist(),
            frame.tolist(),
            self.ex0.tolist(),
            self.ey0.tolist(),
            self.ex1.tolist(),
            self.ey1.tolist(),
        )

        open_ = np.flatnonzero(state < 0)
        if open_.size:  # the highest open level of every frame
            last = np.append(frame[open_][1:] != frame[open_][:-1], True)
            for p in open_[last].tolist():
                self._trace(p)
        while self._round():
            pass
        return state[pair_of_tau].astype(bool)

    @staticmethod
    def _inter(x0, y0, x1, y1, g):
        return np.maximum(0, np.minimum(x1, g[2]) - np.maximum(x0, g[0]) + 1) * np.maximum(
            0, np.minimum(y1, g[3]) - np.maximum(y0, g[1]) + 1
        )

    def _exact_empty(self, frames: np.ndarray) -> np.ndarray:
        return np.array(
            [_exact((0, 0, 0, 0), self.gt_lists[f], self.thr) for f in frames.tolist()],
            dtype=np.int8,
        )

    def _round(self) -> bool:
        """Decide what the traced levels allow, then trace one level per gap; False when done."""
        state, thr = self.state, self.thr
        open_ = np.flatnonzero(state < 0)
        if open_.size == 0:
            return False
        slots = np.flatnonzero(self.traced)  # the traced levels around each open level: lo < p < hi
        pos = np.searchsorted(slots, self.slot_of[open_])
        lo, hi = slots[pos - 1], slots[pos]
        a_hi = self.t_area[hi]
        inside = a_hi > self.t_second[lo]  # the winner at v lies inside the winner at lo
        bracket = inside & (2 * a_hi > self.t_area[lo])  # ... and contains the winner at hi
        lx0, ly0, lx1, ly1 = self.t_box[:, lo]
        x0, y0, x1, y1 = self.ex0[open_], self.ey0[open_], self.rx1[open_], self.ry1[open_]
        x0, y0 = (
            np.where(inside, np.maximum(x0, lx0), x0),
            np.where(inside, np.maximum(y0, ly0), y0),
        )
        x1, y1 = (
            np.where(inside, np.minimum(x1, lx1), x1),
            np.where(inside, np.minimum(y1, ly1), y1),
        )
        a_out, hb_area = (x1 - x0 + 1) * (y1 - y0 + 1), self.t_box_area[hi]
        yes, no = np.zeros(open_.size, dtype=bool), np.ones(open_.size, dtype=bool)
        f = self.frame[open_]
        for j in range(self.gt.shape[1]):
            g, ga, ok = self.gt[f, j].T, self.gt_area[f, j], self.valid[f, j]
            i_out, i_in = self._inter(x0, y0, x1, y1, g), self.t_inter[j, hi]
            union_lb = np.maximum(a_hi, i_out) + ga - i_out  # |box| >= A_hi
            union_lb = np.where(bracket, np.maximum(union_lb, hb_area + ga - i_in), union_lb)
            no &= ~ok | (i_out / union_lb < thr)
            yes |= ok & bracket & (i_in / (a_out + ga - i_out) >= thr)
        state[open_[yes]] = 1
        state[open_[no & ~yes]] = 0
        left = np.flatnonzero(~(yes | no))
        if left.size == 0:
            return False
        # trace the middle open level of every gap between traced levels (pos is sorted)
        gap = pos[left]
        starts = np.flatnonzero(np.concatenate([[True], gap[1:] != gap[:-1]]))
        rows = left[(starts + np.append(starts[1:], gap.size)) // 2]
        crops = np.stack(
            [
                x0[rows],
                y0[rows],
                np.minimum(x1[rows], self.ex1[open_[rows]]),
                np.minimum(y1[rows], self.ey1[open_[rows]]),
            ],
            1,
        )
        for p, crop, r in zip(open_[rows].tolist(), crops.tolist(), rows.tolist()):
            if inside[r]:  # the winner lies inside box(lo): trace only there
                self._trace(p, crop, float(self.t_second[lo[r]]))
            else:
                self._trace(p)
        return True

    def _trace(self, p: int, crop=None, second_floor: float = -1.0) -> None:
        v, frame, ex0, ey0, ex1, ey1 = self._lists
        f, h, w = frame[p], self.h, self.w
        x0, y0, x1, y1 = (ex0[p], ey0[p], ex1[p], ey1[p]) if crop is None else crop
        binary = (self.qs[f, y0 : y1 + 1, x0 : x1 + 1] >= v[p]).view(np.uint8)
        (bx0, by0, bx1, by1), a, a2 = _largest(binary, x0, y0)
        b = (bx0, by0, min(bx1 + 1, w - 1), min(by1 + 1, h - 1))
        s = p + f + 1
        inters = [_inter(b, g) for g in self.gt_lists[f]]
        self.t_box[:, s], self.t_area[s], self.t_second[s] = b, a, max(a2, second_floor)
        self.t_box_area[s] = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
        self.t_inter[: len(inters), s], self.traced[s] = inters, True
        self.state[p] = _exact(b, self.gt_lists[f], self.thr)


def _inter(a, b) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(
        0, min(a[3], b[3]) - max(a[1], b[1]) + 1
    )


def _exact(b: tuple[int, int, int, int], gts: list[tuple[int, int, int, int]], thr: float) -> int:
    """Is box ``b`` correct (IoU >= thr with a true box)? Areas are >= 1, so unions are > 0."""
    area = (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    for g in gts:
        inter = _inter(b, g)
        if inter / (area + (g[2] - g[0] + 1) * (g[3] - g[1] + 1) - inter) >= thr:
            return 1
    return 0


@dataclass
class FrameBoxes:
    """Per-frame boxes, best IoU over the true boxes, and correctness at one threshold."""

    tau: float
    boxes: np.ndarray  # (N, 4) int, evaluation-size pixels
    ious: np.ndarray  # (N,)
    correct: np.ndarray  # (N,) bool


@dataclass
class LocalizationResult:
    """Per-frame correctness at every threshold (one bit each), and what CorLoc, the report and
    the boxes at a threshold are derived from.

    ``maps`` (in memory, or a :class:`~wsvol.evaluation.map_store.MapStore` on disk) is only
    read to trace boxes: :meth:`at` traces every frame once per threshold asked for.
    """

    taus: np.ndarray  # (T,)
    correct: BitTable  # (N, T) bits: frame correct at threshold τ
    labels: np.ndarray  # (N,) true class ids
    gt_boxes: list[np.ndarray]  # N × (K, 4) int boxes at the evaluation size
    num_classes: int
    eval_size: tuple[int, int] = (DEFAULT_EVAL_SIZE, DEFAULT_EVAL_SIZE)  # (width, height)
    maps: np.ndarray | Sequence[np.ndarray] | None = None  # N (H, W) uint8 quantized maps
    frame_ids: list[str] | None = None
    video_ids: list[str] | None = None
    iou_threshold: float = IOU_THRESHOLD
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.correct, BitTable):
            self.correct = BitTable.from_bool(np.asarray(self.correct, dtype=bool).reshape(-1, np.size(self.taus)))

    def __len__(self) -> int:
        return len(self.correct)

    def counts(self) -> np.ndarray:
        """(T,) number of frames correct at each τ."""
        if "counts" not in self._cache:
            self._cache["counts"] = self.correct.sums()
        return self._cache["counts"]

    def curve(self, frames: np.ndarray | None = None) -> np.ndarray:
        """CorLoc (%) at every τ over all frames or a subset (bool mask or indices)."""
        if frames is None:
            n, counts = len(self), self.counts()
        else:
            frames = np.asarray(frames)
            n = int(frames.sum()) if frames.dtype == bool else frames.size
            counts = self.correct.sums(frames)
        if n == 0:
            return np.full(self.taus.size, np.nan)
        return counts / n * 100.0

    @property
    def best_index(self) -> int:
        """Index of the best τ (first one on ties)."""
        return int(np.argmax(self.curve()))

    @property
    def best_tau(self) -> float:
        """The τ with the highest CorLoc over all frames."""
        return float(self.taus[self.best_index])

    @property
    def corloc(self) -> float:
        """CorLoc (%) at the best τ over all frames (MaxBoxAcc v1)."""
        return float(self.curve()[self.best_index])

    def per_class(self) -> tuple[np.ndarray, np.ndarray]:
        """(C,) CorLoc (%) with τ swept within each class, and (C,) that τ; NaN for absent classes."""
        if "per_class" not in self._cache:
            corloc = np.full(self.num_classes, np.nan)
            tau = np.full(self.num_classes, np.nan)
            frames = np.bincount(self.labels, minlength=self.num_classes)
            counts = self.correct.group_sums(self.labels, self.num_classes)
            for c in np.flatnonzero(frames).tolist():
                cur = counts[c] / frames[c] * 100.0
                corloc[c], tau[c] = cur.max(), self.taus[int(np.argmax(cur))]
            self._cache["per_class"] = (corloc, tau)
        return self._cache["per_class"]

    @property
    def corloc_mean(self) -> float:
        """Unweighted mean of the per-class CorLoc over the classes with frames (the papers' average when all have)."""
        values = self.per_class()[0]
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

    def tau_index(self, tau: float) -> int:
        """Index of the threshold closest to ``tau``."""
        return int(np.argmin(np.abs(self.taus - tau)))

    def at(self, tau: float | None = None) -> FrameBoxes:
        """Boxes, best IoU and correctness of every frame at ``tau`` (default: the best τ)."""
        k = self.best_index if tau is None else self.tau_index(tau)
        if k in self._cache:
            return self._cache[k]
        if self.maps is None:
            raise ValueError("this LocalizationResult keeps no maps; evaluate with keep_maps=True")
        t = self.taus[k : k + 1]
        boxes = np.array(
            [box_at_level(m, int(level_of(m, t)[0])) for m in self.maps], dtype=np.int64
        )
        ious = np.array([box_iou(b, g).max() for b, g in zip(boxes, self.gt_boxes)])
        self._cache[k] = FrameBoxes(
            float(t[0]), boxes.reshape(-1, 4), ious, self.correct.column(k)
        )
        return self._cache[k]


def evaluate_quantized(
    qmaps: Sequence[np.ndarray] | np.ndarray,
    gt_boxes: Sequence[np.ndarray],
    labels: Sequence[int],
    *,
    num_classes: int | None = None,
    tau_step: float = 0.001,
    iou_threshold: float = IOU_THRESHOLD,
    frame_ids: Sequence[str] | None = None,
    video_ids: Sequence[str] | None = None,
    keep_maps: bool = True,
) -> LocalizationResult:
    """CorLoc sweep over uint8 maps (``prepare_map``) and boxes already at the evaluation size."""
    arrays = [np.asarray(m) for m in qmaps]
    for i, m in enumerate(arrays):
        if m.dtype != np.uint8:
            where = frame_ids[i] if frame_ids is not None else f"frame {i}"
            raise ValueError(
                f"{where}: quantized maps must be uint8, got {m.dtype} (float maps: evaluate_localization)"
            )
    qmaps = np.stack(arrays) if arrays else np.zeros((0, 1, 1), np.uint8)
    n = qmaps.shape[0]
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    boxes = [np.asarray(b, dtype=np.int64).reshape(-1, 4) for b in gt_boxes]
    for name, seq in (
        ("gt_boxes", boxes),
        ("labels", labels),
        ("frame_ids", frame_ids),
        ("video_ids", video_ids),
    ):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries for {n} maps")
    for i, b in enumerate(boxes):
        if b.shape[0] == 0:
            raise ValueError(f"frame {frame_ids[i] if frame_ids else i} has no true box")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if n else 0
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must be in [0, {num_classes}); got {sorted(set(labels.tolist()))}"
        )
    taus = thresholds(tau_step)
    correct = correct_bits(qmaps, boxes, taus, iou_threshold)
    h, w = qmaps.shape[1:]
    return LocalizationResult(
        taus=taus,
        correct=correct,
        labels=labels,
        gt_boxes=boxes,
        num_classes=int(num_classes),
        eval_size=(int(w), int(h)),
        maps=qmaps if keep_maps else None,
        frame_ids=list(frame_ids) if frame_ids is not None else None,
        video_ids=list(video_ids) if video_ids is not None else None,
        iou_threshold=float(iou_threshold),
    )


def evaluate_localization(
    maps: Sequence[np.ndarray],
    gt_boxes: Sequence[np.ndarray],
    ori_sizes: Sequence[Sequence[int]],
    labels: Sequence[int],
    *,
    num_classes: int | None = None,
    eval_size: int | Sequence[int] = DEFAULT_EVAL_SIZE,
    tau_step: float = 0.001,
    iou_threshold: float = IOU_THRESHOLD,
    frame_ids: Sequence[str] | None = None,
    video_ids: Sequence[str] | None = None,
    keep_maps: bool = True,
    normalization: str = "minmax",
) -> LocalizationResult:
    """MaxBoxAcc-v1 CorLoc of localization maps against true boxes in original frame pixels.

    ``maps``: 2-D float maps of any size (resized to ``eval_size``; ``normalization``: ``minmax``,
    or ``none`` for probability maps scored as they are); ``gt_boxes``: (K, 4) x0,y0,x1,y1 per
    frame in original pixels; ``ori_sizes``: (width, height) per frame.

    Example:
        >>> import numpy as np
        >>> cam = np.zeros((224, 224)); cam[50:150, 60:120] = 1.0
        >>> res = evaluate_localization([cam], [np.array([[120, 100, 240, 300]])],
        ...                             [(448, 448)], [3], num_classes=10)
        >>> res.corloc, res.at().boxes[0].tolist()
        (100.0, [60, 50, 120, 150])
    """
    if not len(maps) == len(gt_boxes) == len(ori_sizes):
        raise ValueError(
            f"got {len(maps)} maps, {len(gt_boxes)} box sets and {len(ori_sizes)} sizes"
        )
    qmaps, boxes = [], []
    for i, (cam, b, size) in enumerate(zip(maps, gt_boxes, ori_sizes)):
        where = frame_ids[i] if frame_ids is not None else f"frame {i}"
        try:
            qmaps.append(prepare_map(cam, eval_size, normalization))
            boxes.append(rescale_boxes(b, size, eval_size))
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
    return evaluate_quantized(
        qmaps,
        boxes,
        labels,
        num_classes=num_classes,
        tau_step=tau_step,
        iou_threshold=iou_threshold,
        frame_ids=frame_ids,
        video_ids=video_ids,
        keep_maps=keep_maps,
    )
