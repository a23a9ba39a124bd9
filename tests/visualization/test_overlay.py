"""Overlay pictures: shape, box colours, caption band, PNG round trip."""

import cv2
import numpy as np
import pytest

from wsvol.visualization.overlay import (
    CAPTION_HEIGHT,
    GT_COLOR,
    PRED_COLOR,
    draw_overlay,
    save_png,
    scale_box,
)


def test_boxes_and_shape():
    heat = np.zeros((60, 80))
    heat[10:30, 20:50] = 1.0
    out = draw_overlay(
        heat, np.full((60, 80, 3), 200, np.uint8), pred_box=(20, 10, 50, 30), gt_boxes=[(5, 40, 70, 55)], thickness=1
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


def test_a_larger_frame_gets_the_picture_at_its_own_size_with_the_map_and_boxes_scaled():
    """A map evaluated at 60×80 on a 120×240 frame (another aspect ratio): the picture is the
    frame's size, each box covers the frame pixels under its heatmap pixels."""
    heat = np.zeros((60, 80))
    heat[10:30, 20:50] = 1.0
    out = draw_overlay(heat, np.full((120, 240, 3), 200, np.uint8), pred_box=(20, 10, 49, 29), thickness=1,
                       caption="car")
    assert out.shape == (120 + CAPTION_HEIGHT, 240, 3)
    pic = out[CAPTION_HEIGHT:]
    # heatmap pixels x 20..49, y 10..29 are frame pixels x 60..149, y 20..59
    assert tuple(pic[20, 100]) == PRED_COLOR and tuple(pic[59, 60]) == PRED_COLOR  # top edge, bottom-left
    assert tuple(pic[40, 149]) == PRED_COLOR and tuple(pic[40, 150]) != PRED_COLOR  # right edge, outside
    top = cv2.cvtColor(cv2.applyColorMap(np.full((1, 1), 255, np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)[0, 0]
    np.testing.assert_allclose(pic[40, 100], 0.5 * top + 0.5 * 200, atol=1)  # the map's inside, resized


@pytest.mark.parametrize(("size", "to"), [((80, 60), (240, 120)), ((96, 96), (160, 120)), ((224, 224), (100, 75))])
def test_a_scaled_box_covers_the_pixels_under_the_box(size, to):
    """Brute force: a pixel of the ``to`` grid is in the scaled box when its span overlaps the box's."""
    (w, h), (W, H) = size, to
    rng = np.random.default_rng(0)
    for _ in range(50):
        x0, x1 = sorted(rng.integers(0, w, 2))
        y0, y1 = sorted(rng.integers(0, h, 2))
        xs = [X for X in range(W) if X * w / W < x1 + 1 and (X + 1) * w / W > x0]
        ys = [Y for Y in range(H) if Y * h / H < y1 + 1 and (Y + 1) * h / H > y0]
        assert scale_box((x0, y0, x1, y1), size, to) == (xs[0], ys[0], xs[-1], ys[-1])


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
