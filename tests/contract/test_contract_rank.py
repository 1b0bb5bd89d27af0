"""Rank (contract section 6): by score rounded to 6 decimals, descending, within
(criteria_set, year); ties share the lower number. Scores worked out by hand: with every other
criterion of municipal_yuncheng exactly at its threshold, a manufacturing town's score is
100 × (3 + v / 500,000,000) / 6 = 50 + v / 30,000,000 for an output value v near 5e8."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import polars as pl
import pytest

from pipelines.evaluation import evaluate, load_criteria_set
from pipelines.evaluation.criteria import CRITERIA_DIR

MUNICIPAL = CRITERIA_DIR / "municipal_yuncheng.yaml"
BASE = {"leading_enterprises": 1, "supporting_enterprises": 10, "output_value": 5e8,
        "market_share": 0.5, "employees": 2000}

# town -> (output value, employees); score by hand
TOWNS = {
    "C": (500_001_000.0, 2000),  # 66.6667000        -> 66.666700
    "A": (500_000_001.0, 2000),  # 66.66666670       -> 66.666667
    "B": (500_000_000.0, 2000),  # 66.666666666...   -> 66.666667
    "E": (500_000_002.0, 2000),  # 66.66666673       -> 66.666667
    "G": (499_999_998.0, 2000),  # 66.6666666        -> 66.666667
    "F": (499_999_992.0, 2000),  # 66.6666664        -> 66.666666
    "D": (500_000_000.0, 1000),  # 100 × 3.5 / 6 = 58.333...
}
# Unrounded, the ranks would be C1 E2 A3 B4 G5 F6 D7; truncated to 6 decimals (or rounded to
# 5) F would tie with A, B, E and G.
WANT_RANK = {"C": 1, "A": 2, "B": 2, "E": 2, "G": 2, "F": 6, "D": 7}


def _exact_score(output: float, employees: int) -> Fraction:
    ratios = [Fraction(1), min(Fraction(output) / Fraction(500_000_000), Fraction(3, 2)), Fraction(1),
              min(Fraction(employees, 2000), Fraction(3, 2))]
    return 100 * sum(ratios) / (Fraction(3, 2) * 4)


def test_rank_by_score_rounded_to_6_decimals():
    rows = [{**BASE, "specialty_town_id": t, "year": 2023, "output_value": o, "employees": e}
            for t, (o, e) in TOWNS.items()]
    # the same towns in another year, reversed: ranks are per year
    rows += [{**BASE, "specialty_town_id": t, "year": 2022, "output_value": 5e8, "employees": 2000}
             for t in TOWNS]
    rows[-1]["employees"] = 4000  # D leads 2022 alone
    ind = pl.DataFrame(rows).with_columns(pl.col("year").cast(pl.Int32))
    towns = pl.DataFrame([{"id": t, "category": "manufacturing", "heritage": False, "national_market": False}
                          for t in TOWNS])
    _, wide = evaluate(ind, towns, [load_criteria_set(MUNICIPAL)])

    # the hand-written ranks agree with an exact computation (Fraction, then 6 decimals)
    rounded = {t: Decimal(s.numerator) / Decimal(s.denominator) for t, s in
               ((t, _exact_score(o, e)) for t, (o, e) in TOWNS.items())}
    rounded = {t: v.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN) for t, v in rounded.items()}
    assert {t: 1 + sum(o > v for o in rounded.values()) for t, v in rounded.items()} == WANT_RANK

    got = {r["specialty_town_id"]: (r["rank"], r["score"]) for r in wide.filter(year=2023).to_dicts()}
    assert {t: r for t, (r, _) in got.items()} == WANT_RANK
    for t, (o, e) in TOWNS.items():  # stored unrounded
        assert got[t][1] == pytest.approx(float(_exact_score(o, e)), rel=1e-13, abs=0)
    assert got["E"][1] != got["B"][1]
    ranks_2022 = {r["specialty_town_id"]: r["rank"] for r in wide.filter(year=2022).to_dicts()}
    assert ranks_2022 == {t: (1 if t == "D" else 2) for t in TOWNS}
