"""Evaluation of specialty towns against criteria sets (contract section 6)."""

from pipelines.evaluation.criteria import (
    CRITERIA_DIR,
    CriteriaFileError,
    CriteriaSet,
    Criterion,
    load_criteria_set,
    load_criteria_sets,
)
from pipelines.evaluation.scoring import evaluate

__all__ = [
    "CRITERIA_DIR",
    "CriteriaFileError",
    "CriteriaSet",
    "Criterion",
    "evaluate",
    "load_criteria_set",
    "load_criteria_sets",
]
