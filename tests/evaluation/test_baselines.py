"""The centred-box baseline, against hand-computed boxes and IoUs."""

import numpy as np

from wsvol.evaluation.baselines import centred_box, centred_box_corloc
from wsvol.evaluation.corloc import evaluate_quantized


def test_centred_box_by_hand():
    assert centred_box(224, 224, 0.5).tolist() == [56, 56, 167, 167]
    assert centred_box(10, 6, 1.0).tolist() == [0, 0, 9, 5]


def test_centred_box_corloc_picks_the_best_side():
    # frame 1: the 112x112 centre box exactly; frame 2: a corner box no centred box can hit
    boxes = [np.array([[56, 56, 167, 167]]), np.array([[0, 0, 40, 40]])]
    res = evaluate_quantized([np.zeros((224, 224), np.uint8)] * 2, boxes, [0, 0], num_classes=1)
    corloc, side = centred_box_corloc(res)
    assert corloc == 50.0
    # IoU >= 0.5 with the 112-px box holds for sides whose box is within a factor sqrt(2) in area
    ok = [s for s in np.round(np.arange(0.05, 1.0001, 0.05), 2)
          if min((224 * s) ** 2, 112 ** 2) / max((224 * s) ** 2, 112 ** 2) >= 0.5]
    assert side == ok[0]
