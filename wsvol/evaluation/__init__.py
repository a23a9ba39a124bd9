"""Evaluation: CorLoc (MaxBoxAcc v1), CL, PxAP — as plain functions and as mmengine metrics."""

from wsvol.evaluation import metrics  # noqa: F401  (registers the built-ins)
from wsvol.evaluation.localization import LocalizationResult, evaluate_localization

__all__ = ["LocalizationResult", "evaluate_localization"]
