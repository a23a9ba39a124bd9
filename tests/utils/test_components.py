"""Connected components on the device: labels against skimage, box masks against OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage.measure import label

from wsvol.utils.components import component_boxes_mask, label_components


def _first_pixel_labels(mask: np.ndarray, connectivity: int) -> np.ndarray:
    """skimage's labels renamed to each component's first pixel (flat index); -1 outside."""
    ref = label(mask, connectivity=connectivity)
    out = np.full(mask.shape, -1)
    for c in range(1, ref.max() + 1):
        out[ref == c] = np.flatnonzero((ref == c).ravel())[0]
    return out


def _masks(seed: int, n: int, max_side: int):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        h, w = (int(v) for v in torch.randint(1, max_side, (2,), generator=g))
        yield torch.rand(3, h, w, generator=g) < torch.rand(1, generator=g)


@pytest.mark.parametrize("method", ["closure", "propagate"])
@pytest.mark.parametrize("connectivity", [1, 2])
def test_labels_are_skimage_components_named_by_their_first_pixel(method, connectivity):
    snake = np.zeros((9, 9), dtype=bool)
    snake[::2] = True
    snake[1::4, -1] = snake[3::4, 0] = True  # one long path: many propagation rounds
    cases = [*_masks(0, 25, 20), torch.from_numpy(snake)[None], torch.ones(1, 5, 7, dtype=torch.bool)]
    for masks in cases:
        got = label_components(masks, connectivity, method)
        for m, lab in zip(masks.numpy(), got.numpy()):
            np.testing.assert_array_equal(lab, _first_pixel_labels(m, connectivity))


def test_auto_labels_a_large_mask_like_skimage():
    g = torch.Generator().manual_seed(1)
    blobs = torch.nn.functional.avg_pool2d(torch.rand(2, 1, 96, 96, generator=g), 9, 1, 4)[:, 0]
    masks = blobs > blobs.mean()
    got = label_components(masks)  # 9216 pixels: propagate
    for m, lab in zip(masks.numpy(), got.numpy()):
        np.testing.assert_array_equal(lab, _first_pixel_labels(m, 2))


def test_box_mask_is_the_union_of_opencv_contour_boxes():
    for masks in _masks(2, 120, 16):
        got = component_boxes_mask(masks)
        for m, mask in zip(masks.numpy(), got.numpy()):
            binary = m.astype(np.uint8) * 255
            h, w = m.shape
            expected = np.zeros((h, w), dtype=bool)
            for contour in cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]:
                x, y, bw, bh = cv2.boundingRect(contour)
                expected[y : min(y + bh, h - 1), x : min(x + bw, w - 1)] = True
            np.testing.assert_array_equal(mask, expected)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="bool mask"):
        label_components(torch.zeros(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="connectivity"):
        label_components(torch.zeros(1, 4, 4, dtype=torch.bool), connectivity=3)
    with pytest.raises(ValueError, match="method"):
        label_components(torch.zeros(1, 4, 4, dtype=torch.bool), method="bfs")
