"""Overlay pictures: shape, box colours, caption band, PNG round trip."""

import cv2
import numpy as np
import pytest

from wsvol.visualization.overlay import CAPTION_HEIGHT, GT_COLOR, PRED_COLOR, draw_overlay, save_png


def test_boxes_and_shape():
    heat = np.zeros((60, 80))
    heat[10:30, 20:50] = 1.0
    frame = np.full((120, 160, 3), 200, np.uint8)  # resized to the heatmap's size
    out = draw_overlay(
        heat, frame, pred_box=(20, 10, 50, 30), gt_boxes=[(5, 40, 70, 55)], thickness=1
    )
    assert out.shape == (60, 80, 3) and out.dtype == np.uint8
    assert (
        tuple(out[10, 35]) == PRED_COLOR and tuple(out[30, 20]) == PRED_COLOR
    )  # top edge, bottom-left corner
    assert tuple(out[40, 60]) == GT_COLOR and tuple(out[47, 70]) == GT_COLOR  # top edge, right edge
    inside = out[20, 35].astype(int)  # heatmap blended on the frame: neither box colour
    assert tuple(inside) not in (PRED_COLOR, GT_COLOR)
    # alpha blend of the colormap's top colour and the frame's grey
    top = cv2.cvtColor(
        cv2.applyColorMap(np.full((1, 1), 255, np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB
    )[0, 0]
    np.testing.assert_allclose(inside, 0.5 * top + 0.5 * 200, atol=1)


def test_caption_band_and_gray_background():
    out = draw_overlay(np.full((40, 50), 0.0, np.float32), None, caption="cat 0.91 IoU 0.70")
    assert out.shape == (40 + CAPTION_HEIGHT, 50, 3)
    band = out[:CAPTION_HEIGHT]
    assert band.max() > 200 and band.min() == 0  # white text on black
    assert (
        out[CAPTION_HEIGHT:] == out[CAPTION_HEIGHT, 0]
    ).all()  # flat map on flat grey: one colour


def test_save_png_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    img = draw_overlay(
        rng.random((20, 30)),
        rng.integers(0, 255, (20, 30, 3), dtype=np.uint8),
        pred_box=(1, 1, 10, 10),
    )
    path = save_png(tmp_path / "a" / "o.png", img)
    back = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(back, img)
    assert not list((tmp_path / "a").glob(".*tmp"))


def test_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        draw_overlay(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="RGB"):
        draw_overlay(np.zeros((4, 4)), np.zeros((4, 4, 4), np.uint8))
