"""CorLoc sweep: the fast implementation against a plain per-threshold loop (the oracle)."""

import cv2
import numpy as np
import pytest

from wsvol.evaluation.corloc import (
    box_at_threshold,
    correct_matrix,
    correct_per_threshold,
    evaluate_localization,
    evaluate_quantized,
)
from wsvol.evaluation.maps import normalize_map, prepare_map, rescale_boxes, thresholds


# ---- oracle: wsolevaluation's BoxEvaluator, one threshold at a time -----------------------------
def oracle_boxes(q: np.ndarray, taus: np.ndarray) -> list[list[int]]:
    h, w = q.shape
    img = np.expand_dims(q, 2)
    boxes, memo = [], {}  # the binary map depends on τ only through int(τ·max): memoize on it
    for t in taus:
        thresh = int(t * np.max(img))
        if thresh not in memo:
            _, b = cv2.threshold(img, thresh, 255, cv2.THRESH_BINARY)
            contours = cv2.findContours(b, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
            if len(contours) == 0:
                memo[thresh] = [0, 0, 0, 0]
            else:
                x, y, bw, bh = cv2.boundingRect(max(contours, key=cv2.contourArea))
                memo[thresh] = [x, y, min(x + bw, w - 1), min(y + bh, h - 1)]
        boxes.append(memo[thresh])
    return boxes


def oracle_iou(a, b) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1) * max(
        0, min(a[3], b[3]) - max(a[1], b[1]) + 1
    )
    union = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
    return inter / union if union > 0 else 0.0


def oracle_correct(q, gt, taus, thr=0.5, boxes=None) -> np.ndarray:
    boxes = oracle_boxes(q, taus) if boxes is None else boxes
    return np.array([any(oracle_iou(b, g) >= thr for g in gt) for b in boxes])


# ---- maps: random and structured ---------------------------------------------------------------
S = 40


def _norm_q(m):
    return prepare_map(m, (m.shape[1], m.shape[0]))


def structured_maps(rng, size=S):
    yy, xx = np.mgrid[:size, :size]
    maps = {}
    g = np.zeros((size, size))
    for _ in range(3):
        cx, cy, s = rng.uniform(5, size - 5), rng.uniform(5, size - 5), rng.uniform(3, 15)
        g += rng.uniform(0.3, 1) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
    maps["blobs"] = _norm_q(g)
    maps["blobs_noise"] = _norm_q(g + 0.1 * rng.random((size, size)))
    r = np.hypot(xx - size / 2, yy - size / 2)
    maps["volcano"] = _norm_q(np.exp(-((r - size / 4) ** 2) / 20) + 0.9 * np.exp(-(r**2) / 8))
    ring = np.zeros((size, size))
    ring[10:30, 10:30] = 1.0
    ring[11:29, 11:29] = 0.0  # one-pixel ring: the hole contour ties with the outer one
    ring[15:20, 15:20] = 0.5  # island in the hole
    maps["ring"] = quantize(ring)
    twins = np.zeros((size, size))
    twins[5:15, 5:15] = 1.0
    twins[40:50, 30:40] = 1.0  # two equal squares: a tie decided by contour order
    twins[20:25, 50:60] = 0.7
    maps["twins"] = quantize(twins)
    maps["constant"] = prepare_map(np.full((size, size), 0.3), size)
    maps["zeros"] = np.zeros((size, size), np.uint8)
    lines = np.zeros((size, size))
    lines[::7, :] = 1.0
    lines[:, 3] = 0.6
    lines[30, 30] = 0.9  # zero-area contours (lines and single pixels)
    maps["lines"] = quantize(lines)
    maps["noise"] = rng.integers(0, 256, (size, size)).astype(np.uint8)
    maps["sparse_noise"] = (rng.random((size, size)) < 0.3).astype(np.uint8) * rng.integers(
        0, 256, (size, size)
    ).astype(np.uint8)
    maps["lowres"] = prepare_map(rng.random((7, 7)), size)
    maps["checker"] = quantize((np.indices((size, size)).sum(0) % 2).astype(float))
    maps["border"] = quantize((xx < 3) | (yy > size - 4) | ((xx - 40) ** 2 + (yy - 20) ** 2 < 50))
    return maps


def quantize(m):
    return (np.asarray(m, float) * 255).astype(np.uint8)


def random_boxes(rng, q, k=None):
    h, w = q.shape
    k = k or int(rng.integers(1, 4))
    out = []
    for _ in range(k):
        x0, y0 = rng.integers(0, w - 1), rng.integers(0, h - 1)
        out.append(
            [x0, y0, rng.integers(x0, w + 3), rng.integers(y0, h + 3)]
        )  # may pass the border
    if rng.random() < 0.7:  # plus a box around the strongest region, so that some τ are correct
        ys, xs = np.nonzero(q >= max(1, int(q.max() * rng.uniform(0.2, 0.8))))
        if ys.size:
            out.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return np.array(out)


@pytest.mark.parametrize("seed", range(2))
def test_fast_sweep_equals_loop_on_structured_maps(seed):
    rng = np.random.default_rng(seed)
    taus = thresholds(0.001)
    for name, q in structured_maps(rng).items():
        boxes = oracle_boxes(q, taus)
        for _ in range(3):
            gt = random_boxes(rng, q)
            np.testing.assert_array_equal(
                correct_per_threshold(q, gt, taus),
                oracle_correct(q, gt, taus, boxes=boxes),
                err_msg=name,
            )


def test_fast_sweep_equals_loop_on_random_maps():
    rng = np.random.default_rng(7)
    taus = thresholds(0.01)
    for i in range(90):
        size = int(rng.integers(8, 48))
        kind = i % 3
        if kind == 0:
            q = rng.integers(0, 256, (size, size)).astype(np.uint8)
        elif kind == 1:
            q = prepare_map(rng.random((int(rng.integers(2, 8)),) * 2) ** 3, size)
        else:
            q = (rng.integers(0, 4, (size, size)) * 60).astype(np.uint8)
        gt = random_boxes(rng, q)
        thr = float(rng.choice([0.5, 0.3, 0.7]))
        np.testing.assert_array_equal(
            correct_per_threshold(q, gt, taus, thr),
            oracle_correct(q, gt, taus, thr),
            err_msg=f"map {i}",
        )


def test_boxes_equal_loop_boxes():
    rng = np.random.default_rng(3)
    taus = thresholds(0.01)
    for name, q in structured_maps(rng).items():
        fast = [list(box_at_threshold(q, t)) for t in taus]
        assert fast == oracle_boxes(q, taus), name


def test_box_conventions_by_hand():
    q = np.zeros((10, 12), np.uint8)
    q[2:5, 3:9] = 255  # rows 2..4, cols 3..8 → rect (3, 2, w=6, h=3) → x1 = 9, y1 = 5
    assert box_at_threshold(q, 0.5) == (3, 2, 9, 5)
    q[2:5, 3:9] = 100  # strict threshold: 100 > int(0.39 * 255) = 99 but not > int(0.4 * 255) = 102
    q[0, 0] = 255  # a single pixel: a contour of area 0, smaller than the rectangle's 10
    assert box_at_threshold(q, 0.39) == (3, 2, 9, 5) and box_at_threshold(q, 0.4) == (0, 0, 1, 1)
    q[:, :] = 255  # whole frame: x1 = min(0 + 12, 11), y1 = min(0 + 10, 9)
    assert box_at_threshold(q, 0.999) == (0, 0, 11, 9)
    assert box_at_threshold(np.zeros((4, 4), np.uint8), 0.0) == (0, 0, 0, 0)  # no contour


def test_rescale_boxes_truncates():
    boxes = rescale_boxes(np.array([[10, 20, 333, 299]]), (640, 360), 224)
    assert boxes.tolist() == [
        [int(10 * 224 / 640), int(20 * 224 / 360), int(333 * 224 / 640), int(299 * 224 / 360)]
    ]
    with pytest.raises(ValueError, match="x1>=x0"):
        rescale_boxes(np.array([[5, 5, 4, 9]]), (10, 10))


def test_normalize_map():
    rng = np.random.default_rng(0)
    m = normalize_map(rng.random((14, 14)), 224)
    assert m.shape == (224, 224) and m.min() == 0 and m.max() == 1
    assert not normalize_map(np.full((5, 5), 2.0), 8).any()
    with pytest.raises(ValueError, match=r"\(2x2\) has 1 NaN and 0 infinite values, first at \(row, col\) \(0, 1\)"):
        normalize_map(np.array([[0.2, np.nan], [0.0, 0.5]]), 4)
    with pytest.raises(ValueError, match="has 0 NaN and 2 infinite values, first at .* \\(1, 0\\)"):
        normalize_map(np.array([[0.2, 0.1], [np.inf, -np.inf]]), 4)
    x = rng.random((16, 16))
    x = (x - x.min()) / (x.max() - x.min())
    np.testing.assert_array_equal(normalize_map(x, 16), x)  # same size: no resampling


def test_probability_maps_are_scored_as_they_are():
    """TCAM's and TrCAM's code score softmax(S)[fg] without min-max normalization: the threshold
    int(τ·max) is relative to the map's own maximum and its floor stays."""
    m = np.full((20, 20), 0.45)
    m[5:15, 6:12] = 0.9
    np.testing.assert_array_equal(normalize_map(m, 20, "none"), m)
    q = prepare_map(m, 20, "none")
    assert q.min() == int(0.45 * 255) and q.max() == int(0.9 * 255)  # 114 and 229
    gt = [np.array([[6, 5, 11, 14]])]
    taus = thresholds(0.1)
    raw = evaluate_localization([m], gt, [(20, 20)], [0], eval_size=20, tau_step=0.1, normalization="none")
    minmax = evaluate_localization([m], gt, [(20, 20)], [0], eval_size=20, tau_step=0.1)
    # by hand: the floor 114 is above int(τ·229) for τ <= 0.4 (91), so the box is the whole frame
    # there; from τ = 0.5 (114, strictly greater) only the object is left
    np.testing.assert_array_equal(raw.curve() > 0, taus >= 0.5)
    np.testing.assert_array_equal(raw.curve() > 0, oracle_correct(q, gt[0], taus))
    assert (minmax.curve() > 0).all()  # min-max: the floor is 0, every τ < 1 keeps the object
    with pytest.raises(ValueError, match=r"probability map in \[0, 1\], got values from -0.5 to 1"):
        normalize_map(np.array([[-0.5, 1.0]]), 4, "none")
    with pytest.raises(ValueError, match="map normalization must be one of minmax, none, got 'max'"):
        normalize_map(m, 20, "max")
    # the bicubic's overshoot at a sharp edge stays in [0, 1]
    up = normalize_map(np.kron(np.eye(2), np.ones((2, 2))), 16, "none")
    assert up.min() == 0 and up.max() == 1


def test_result_sweeps_and_per_class():
    rng = np.random.default_rng(1)
    n, size = 12, 32
    maps = [rng.random((8, 8)) for _ in range(n)]
    boxes = [np.array([[0, 0, 64, 64]]) for _ in range(n)]
    labels = np.arange(n) % 3
    res = evaluate_localization(
        maps, boxes, [(128, 128)] * n, labels, num_classes=4, eval_size=size, tau_step=0.01
    )
    q = [prepare_map(m, size) for m in maps]
    gt = [rescale_boxes(b, (128, 128), size) for b in boxes]
    table = np.array([oracle_correct(qi, gi, res.taus) for qi, gi in zip(q, gt)])
    curve = table.mean(0) * 100
    assert res.corloc == pytest.approx(curve.max())
    assert res.best_tau == pytest.approx(res.taus[np.argmax(curve)])
    pc, tau = res.per_class()
    for c in range(3):
        cc = table[labels == c].mean(0) * 100
        assert pc[c] == pytest.approx(cc.max()) and tau[c] == pytest.approx(res.taus[np.argmax(cc)])
    assert np.isnan(pc[3]) and res.corloc_mean == pytest.approx(pc[:3].mean())
    at = res.at(0.3)
    k = res.tau_index(0.3)
    assert at.boxes.tolist() == [oracle_boxes(qi, res.taus[k : k + 1])[0] for qi in q]
    np.testing.assert_array_equal(at.correct, table[:, k])
    np.testing.assert_array_equal(at.ious >= 0.5, table[:, k])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="clip-7"):
        evaluate_localization(
            [np.ones(3)], [np.array([[0, 0, 1, 1]])], [(4, 4)], [0], frame_ids=["clip-7"]
        )
    with pytest.raises(ValueError, match="no true box"):
        evaluate_quantized([np.zeros((4, 4), np.uint8)], [np.zeros((0, 4))], [0])
    with pytest.raises(ValueError, match="uint8"):
        evaluate_quantized([np.zeros((4, 4))], [np.array([[0, 0, 1, 1]])], [0])
    with pytest.raises(ValueError, match="labels"):
        evaluate_quantized(
            [np.zeros((4, 4), np.uint8)], [np.array([[0, 0, 1, 1]])], [5], num_classes=3
        )


def test_batched_sweep_equals_loop_across_frames():
    """Frames with different box counts, empty and constant maps in one batch."""
    rng = np.random.default_rng(11)
    taus = thresholds(0.002)
    maps = list(structured_maps(rng, size=40).values()) + [
        prepare_map(rng.random((5, 5)) ** 2, 40) for _ in range(6)
    ]
    gts = [random_boxes(rng, q, k=int(rng.integers(1, 5))) for q in maps]
    table = correct_matrix(maps, gts, taus)
    assert table.shape == (len(maps), taus.size)
    for i, (q, gt) in enumerate(zip(maps, gts)):
        np.testing.assert_array_equal(table[i], oracle_correct(q, gt, taus), err_msg=f"frame {i}")


def test_opencv_contour_order_on_ties():
    """The numbers depend on OpenCV's order of equal-area contours: pin what this OpenCV does."""
    q = np.zeros((30, 30), np.uint8)
    q[2:8, 2:8] = 255
    q[20:26, 12:18] = 255  # same area, lower in the frame
    contours = cv2.findContours((q > 0).astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    first = cv2.boundingRect(max(contours, key=cv2.contourArea))
    assert first == (12, 20, 6, 6), (
        f"OpenCV {cv2.__version__} orders contours differently; CorLoc ties may change"
    )
    assert box_at_threshold(q, 0.5) == (12, 20, 18, 26)
    ring = np.zeros((12, 12), np.uint8)
    ring[2:9, 2:9] = 255
    ring[3:8, 3:8] = (
        0  # a 1-pixel ring: the hole's contour ties with the outer one, the outer comes first
    )
    tree = cv2.findContours((ring > 0).astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    areas = [cv2.contourArea(c) for c in tree[0]]
    assert tree[1][0][0][3] == -1 and areas[0] >= max(areas)


def test_docstring_example():
    import doctest

    import wsvol.evaluation.corloc as module

    assert doctest.testmod(module).failed == 0
