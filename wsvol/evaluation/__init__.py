"""Evaluation: CorLoc (MaxBoxAcc v1), CL, PxAP, bootstrap intervals and reports.

Importing this package registers the ``corloc`` metric.
"""

from wsvol.evaluation.bits import BitTable
from wsvol.evaluation.bootstrap import Interval, bootstrap_corloc, bootstrap_corloc_difference
from wsvol.evaluation.classification import ClassificationResult, evaluate_classification
from wsvol.evaluation.corloc import (
    LocalizationResult,
    correct_bits,
    correct_matrix,
    evaluate_localization,
    evaluate_quantized,
)
from wsvol.evaluation.map_store import MapSpill, MapStore
from wsvol.evaluation.metrics import (
    CorLocMetric,
    EvaluationResult,
    compact_records,
    evaluate_records,
    frame_record,
)
from wsvol.evaluation.pxap import PixelResult

__all__ = [
    "BitTable",
    "ClassificationResult",
    "CorLocMetric",
    "EvaluationResult",
    "Interval",
    "LocalizationResult",
    "MapSpill",
    "MapStore",
    "PixelResult",
    "bootstrap_corloc",
    "bootstrap_corloc_difference",
    "compact_records",
    "correct_bits",
    "correct_matrix",
    "evaluate_classification",
    "evaluate_localization",
    "evaluate_quantized",
    "evaluate_records",
    "frame_record",
]
