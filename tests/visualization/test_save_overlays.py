"""``save_overlays`` picks frames in turn from each class, up to the limit."""

import numpy as np
import pytest

from wsvol.evaluation.classification import evaluate_classification
from wsvol.evaluation.corloc import evaluate_quantized
from wsvol.evaluation.metrics import EvaluationResult
from wsvol.visualization.frames import round_robin, save_overlays


def result(labels: list[int], num_classes: int) -> EvaluationResult:
    n = len(labels)
    maps = [np.zeros((16, 16), np.uint8) for _ in range(n)]
    for m in maps:
        m[4:12, 4:12] = 255
    loc = evaluate_quantized(maps, [np.array([[4, 4, 12, 12]])] * n, labels, num_classes=num_classes,
                             tau_step=0.1, frame_ids=[f"c{c}/f{i}.jpg" for i, c in enumerate(labels)])
    return EvaluationResult(loc, evaluate_classification(labels, labels, num_classes),
                            [f"c{c}" for c in range(num_classes)], scores=np.full(n, 0.5), areas=np.full(n, 0.2))


def test_a_class_of_one_frame_does_not_cut_the_overlays_short(tmp_path):
    # 28 frames: class 0 holds one, classes 1..9 three each; zip over the classes stopped at 10
    labels = [0] + [c for c in range(1, 10) for _ in range(3)]
    res = result(labels, 10)
    paths = save_overlays(tmp_path, res, lambda frame: np.zeros((20, 20, 3), np.uint8), limit=16)
    assert len(paths) == 16 and len(set(paths)) == 16 and all(p.is_file() for p in paths)
    assert {p.name.split("__")[0] for p in paths} == {f"c{c}" for c in range(10)}  # every class shown


@pytest.mark.parametrize(("limit", "expected"), [(4, [0, 2, 5, 1]), (6, [0, 2, 5, 1, 3, 4]), (99, [0, 2, 5, 1, 3, 4]),
                                                 (0, [])])
def test_round_robin_takes_each_class_in_turn_until_the_frames_run_out(limit, expected):
    # class 0: frames 0, 1, 3, 4; class 1: frame 2; class 2: frame 5
    assert round_robin(np.array([0, 0, 1, 0, 0, 2]), limit) == expected
