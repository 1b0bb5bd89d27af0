"""The wide evaluation view (contract section 6, eval_specialty_town), declared once.

Per criterion, in the contract's column order: the indicator columns it reads, its threshold
column (none for concentration, whose thresholds are per indicator) and its met column. The
warehouse table, the scoring and the terminal table are built from this list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WideCriterion:
    criterion: str
    zh: str
    reads: tuple[str, ...]  # ind_specialty_town_year columns shown
    threshold: str | None  # threshold column, if the criterion has one number per row
    met: str


WIDE_CRITERIA: tuple[WideCriterion, ...] = (
    WideCriterion("concentration", "集聚度", ("leading_enterprises", "supporting_enterprises"), None,
                  "concentration_met"),
    WideCriterion("scale", "规模", ("output_value",), "scale_threshold", "scale_met"),
    WideCriterion("market", "市场占有率", ("market_share",), "market_threshold", "market_met"),
    WideCriterion("employment", "就业", ("employees",), "employment_threshold", "employment_met"),
)

#: the columns of the wide view before its totals, in order
WIDE_VALUE_COLUMNS: list[str] = [c for w in WIDE_CRITERIA
                                 for c in (*w.reads, *([w.threshold] if w.threshold else []), w.met)]


def wide(criterion: str) -> WideCriterion:
    return next(w for w in WIDE_CRITERIA if w.criterion == criterion)
