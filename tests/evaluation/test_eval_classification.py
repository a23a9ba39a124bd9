"""CL: top-1 accuracy, by hand."""

import numpy as np
import pytest

from wsvol.evaluation.classification import evaluate_classification


def test_accuracy_and_per_class_by_hand():
    res = evaluate_classification([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2], num_classes=4)
    assert res.accuracy == pytest.approx(4 / 6 * 100)
    np.testing.assert_allclose(res.per_class()[:3], [50.0, 200 / 3, 100.0])
    assert np.isnan(res.per_class()[3])


def test_a_frame_without_a_prediction_is_a_wrong_frame():
    # the case: 1 correct frame of 4 frames with boxes is 25 %, not 1 of the 2 predicted
    res = evaluate_classification([0, 1, 2, 3], [0, -1, -1, 5], num_classes=6)
    assert res.accuracy == 25.0
    np.testing.assert_allclose(res.per_class()[:4], [100.0, 0.0, 0.0, 0.0])
    res = evaluate_classification([0, 1, 1], [-1, 1, 0], num_classes=2)
    assert res.accuracy == pytest.approx(100 / 3)
    np.testing.assert_allclose(res.per_class(), [0.0, 50.0])


def test_a_method_without_predictions_has_no_cl():
    res = evaluate_classification([0, 1], [-1, -1], num_classes=2)  # e.g. the pseudo-labels
    assert not res.predicts and np.isnan(res.accuracy) and np.isnan(res.per_class()).all()
    assert np.isnan(evaluate_classification([], [], 2).accuracy)


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        evaluate_classification([0, 5], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="2 true labels and 3"):
        evaluate_classification([0, 1], [0, 1, 1])
