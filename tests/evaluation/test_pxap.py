"""PxAP and pixel IoU against a brute-force precision-recall computation."""

import numpy as np
import pytest

from wsvol.evaluation.maps import resize_mask, thresholds
from wsvol.evaluation.pxap import pixel_histograms, pixel_scores


def brute_force(maps, masks, taus):
    """Sweep cuts 'score >= t' from the top (t = 2, 1, τ_{T-1}, ..., τ_0); AP = Σ precision·Δrecall."""
    scores = np.concatenate([m.ravel() for m in maps])
    truth = np.concatenate([k.ravel() for k in masks])
    cuts = [2.0, 1.0, *taus[::-1]]
    prev_recall, ap, best = 0.0, 0.0, (-1.0, None)
    for t in cuts:
        kept = scores >= t
        tp, fp = int((kept & truth).sum()), int((kept & ~truth).sum())
        fn = int((~kept & truth).sum())
        recall = tp / (tp + fn)
        if tp + fp:
            ap += tp / (tp + fp) * (recall - prev_recall)
        prev_recall = recall
        iou = tp / (tp + fp + fn)
        if iou > best[0]:
            best = (iou, t)
    return ap * 100, best[0] * 100, best[1]


@pytest.mark.parametrize("seed", range(3))
def test_pxap_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    taus = thresholds(0.01)
    maps, masks = [], []
    for _ in range(4):
        truth = np.zeros((20, 24), bool)
        x, y = rng.integers(0, 12, 2)
        truth[y : y + 8, x : x + 10] = True
        m = np.clip(truth * rng.uniform(0.3, 0.9) + rng.random((20, 24)) * 0.6, 0, 1)
        m[0, 0], m[-1, -1] = 0.0, 1.0
        maps.append(np.round(m, 2))  # ties at bin edges on purpose
        masks.append(truth)
    hist = sum(pixel_histograms(m, k, taus) for m, k in zip(maps, masks))
    res = pixel_scores(hist, taus)
    ap, iou, tau = brute_force(maps, masks, taus)
    assert res.pxap == pytest.approx(ap, abs=1e-9)
    assert res.pxiou == pytest.approx(iou, abs=1e-9) and res.pxiou_tau == pytest.approx(tau)


def test_perfect_and_empty_cases():
    taus = thresholds(0.01)
    truth = np.zeros((10, 10), bool)
    truth[2:6, 3:8] = True
    perfect = pixel_scores(pixel_histograms(truth.astype(float), truth, taus), taus)
    assert perfect.pxap == pytest.approx(100.0) and perfect.pxiou == pytest.approx(100.0)
    none = pixel_scores(
        pixel_histograms(np.random.default_rng(0).random((10, 10)), np.zeros((10, 10), bool), taus),
        taus,
    )
    assert np.isnan(none.pxap)


def test_resize_mask_nearest():
    mask = np.zeros((4, 6), bool)
    mask[:2, :3] = True
    out = resize_mask(mask, (12, 8))
    assert out.shape == (8, 12) and out[:4, :6].all() and not out[4:].any() and not out[:, 6:].any()
    with pytest.raises(ValueError, match="differs"):
        pixel_histograms(np.zeros((3, 3)), np.zeros((2, 2), bool), thresholds(0.1))
