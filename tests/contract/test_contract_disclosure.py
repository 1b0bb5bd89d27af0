"""Disclosure control of pub_town_year (contract section 7), cases the older tests leave open:
dominance compared in whole fen, zero contributors, tax_total contributors as taxpayers'
yearly totals, secondary suppression within a county, exactly two suppressed cells with one
single contributor, no cascade, the smallest by absolute value with negatives, and
tax_total_yoy nulled with its money cell of Y or Y-1. Expected cells worked out by hand."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "indicators"))
from synthetic_facts import (  # noqa: E402
    employment_frame,
    enterprise_frame,
    registry_frame,
    tax_frame,
    towns_frame,
)

from pipelines.disclosure import publish_town_year  # noqa: E402
from pipelines.indicators import town_year  # noqa: E402

# Towns of five counties (a county code is the first 6 digits of its towns' codes).
A1, A2, A3, A4 = "140823100", "140823101", "140823102", "140823103"
B1, B2, B3 = "140824100", "140824101", "140824102"
C1, C2, C3 = "140825100", "140825101", "140825102"
D1, D2 = "140826100", "140826101"
E1 = "140827100"
TOWNS = towns_frame([A1, A2, A3, A4, B1, B2, B3, C1, C2, C3, D1, D2, E1])


def _publish(ent_rows, tax_rows=(), reg_rows=()):
    ent, tax, reg = enterprise_frame(ent_rows), tax_frame(list(tax_rows)), registry_frame(list(reg_rows))
    ind = town_year(ent, tax, employment_frame([]), reg, TOWNS)
    return ind, publish_town_year(ind, ent, tax, reg, TOWNS)


def _firms(town, values, year=2023, column="output_value", tag=""):
    return [{"year": year, "uscc": f"{town}{tag}-{i}", "town_code": town, column: v} for i, v in enumerate(values)]


def _cell(pub, town, column="output_value", year=2023):
    rows = pub.filter((pl.col("town_code") == town) & (pl.col("year") == year)).to_dicts()
    assert len(rows) == 1, (town, year, rows)
    return rows[0][column]


def _sup(pub, town, year=2023):
    return _cell(pub, town, "suppressed", year)


# ----------------------------------------------------------------------------- primary
def test_dominance_exactly_85_percent_in_fen_where_a_float_ratio_says_more():
    # A1: 3.91, 0.09, 0.60 yuan: 100 × 391 fen = 39,100 = 85 × 460 fen: not MORE than 85%,
    # published. In floating point the same shares read as more than 85%:
    a, b, c = 3.91, 0.09, 0.60
    assert a / (a + b + c) > 0.85 and a > 0.85 * (a + b + c) and 100 * a > 85 * (a + b + c)
    # B1: 3.92, 0.09, 0.59: 39,200 > 85 × 460 = 39,100: suppressed.
    # (one town per county here: no other cell to suppress beside it)
    _, pub = _publish(_firms(A1, [a, b, c]) + _firms(B1, [3.92, 0.09, 0.59]))
    assert _cell(pub, A1) == pytest.approx(4.60) and _sup(pub, A1) == ""
    assert _cell(pub, B1) is None and _sup(pub, B1) == "output_value"


def test_dominance_in_fen_with_negative_taxes():
    # C1: taxpayers -3.91, 0.09, 0.60: |−391| × 100 = 39,100 = 85 × (391 + 9 + 60): published.
    # D1: -3.92, 0.09, 0.59: 39,200 > 39,100: suppressed.
    tax = [{"period": "2023-05", "uscc": f"{C1}-{i}", "vat": v} for i, v in enumerate([-3.91, 0.09, 0.60])]
    tax += [{"period": "2023-05", "uscc": f"{D1}-{i}", "vat": v} for i, v in enumerate([-3.92, 0.09, 0.59])]
    ents = _firms(C1, [0.0] * 3) + _firms(D1, [0.0] * 3)
    _, pub = _publish(ents, tax)
    assert _cell(pub, C1, "tax_total") == pytest.approx(-3.22)
    assert _cell(pub, D1, "tax_total") is None and _sup(pub, D1) == "tax_total"


def test_a_zero_or_null_contributor_does_not_count():
    # A1: 100, 200 and a zero: two non-zero contributors -> suppressed.
    # B1: 100, 200 and a null: two contributors -> suppressed.
    # C1: 100, 100, 100 and a zero: three -> published.
    # D1: three firms, all zero: total 0 -> published as 0, never suppressed.
    rows = (_firms(A1, [100.0, 200.0, 0.0]) + _firms(B1, [100.0, 200.0, None])
            + _firms(C1, [100.0, 100.0, 100.0, 0.0]) + _firms(D1, [0.0, 0.0, 0.0]))
    ind, pub = _publish(rows)
    assert _cell(ind, A1) == 300.0 and _cell(pub, A1) is None
    assert _cell(ind, B1) == 300.0 and _cell(pub, B1) is None
    assert _cell(pub, C1) == 300.0 and _sup(pub, C1) == ""
    assert _cell(pub, D1) == 0.0 and _sup(pub, D1) == ""


def test_a_total_of_zero_is_never_suppressed():
    # E1: two taxpayers, +100 and -100: fewer than 3 contributors, but the total is 0.
    tax = [{"period": "2023-02", "uscc": f"{E1}-0", "vat": 100.0},
           {"period": "2023-02", "uscc": f"{E1}-1", "vat": -100.0}]
    _, pub = _publish(_firms(E1, [0.0, 0.0]), tax)
    assert _cell(pub, E1, "tax_total") == 0.0 and _sup(pub, E1) == ""


def test_tax_total_contributors_are_taxpayers_with_their_yearly_totals():
    """One county per town (no secondary suppression). Counting monthly rows instead of
    taxpayers gives the opposite verdict in A1, B1 and C1."""
    tax = []
    # A1: one taxpayer, three months of 100: one contributor -> suppressed (3 rows).
    tax += [{"period": f"2023-0{m}", "uscc": f"{A1}-0", "vat": 100.0} for m in (1, 2, 3)]
    # B1: 12 × 10 = 120, 10, 10: 100 × 120 = 12,000 > 85 × 140 = 11,900 -> suppressed
    # (per row the largest is 10 of 140).
    tax += [{"period": f"2023-{m:02d}", "uscc": f"{B1}-0", "vat": 10.0} for m in range(1, 13)]
    tax += [{"period": "2023-06", "uscc": f"{B1}-{i}", "vat": 10.0} for i in (1, 2)]
    # C1: a taxpayer whose +100 and -100 months make 0 for the year, and two of 50:
    # two non-zero contributors -> suppressed (per row: four non-zero rows).
    tax += [{"period": "2023-01", "uscc": f"{C1}-0", "vat": 100.0},
            {"period": "2023-02", "uscc": f"{C1}-0", "vat": -100.0}]
    tax += [{"period": "2023-03", "uscc": f"{C1}-{i}", "vat": 50.0} for i in (1, 2)]
    # D1: 4 × 25 = 100, 100, 100: three taxpayers at a third each -> published.
    tax += [{"period": f"2023-0{m}", "uscc": f"{D1}-0", "vat": 25.0} for m in (1, 2, 3, 4)]
    tax += [{"period": "2023-04", "uscc": f"{D1}-{i}", "vat": 100.0} for i in (1, 2)]
    ents = _firms(A1, [0.0]) + _firms(B1, [0.0] * 3) + _firms(C1, [0.0] * 3) + _firms(D1, [0.0] * 3)
    ind, pub = _publish(ents, tax)
    assert [_cell(ind, t, "tax_total") for t in (A1, B1, C1, D1)] == [300.0, 140.0, 100.0, 300.0]
    assert _cell(pub, A1, "tax_total") is None
    assert _cell(pub, B1, "tax_total") is None
    assert _cell(pub, C1, "tax_total") is None
    assert _cell(pub, D1, "tax_total") == 300.0
    assert [_sup(pub, t) for t in (A1, B1, C1, D1)] == ["tax_total"] * 3 + [""]


# --------------------------------------------------------------------------- secondary
def test_secondary_suppression_stays_within_the_county():
    # County 140823: A1 a single contributor (primary); A2 = 300 and A3 = 150: A3 goes.
    # County 140824: B1 = 30 and B2 = 60, smaller than anything in 140823, no primary: kept.
    rows = (_firms(A1, [500.0]) + _firms(A2, [100.0] * 3) + _firms(A3, [50.0] * 3)
            + _firms(B1, [10.0] * 3) + _firms(B2, [20.0] * 3))
    _, pub = _publish(rows)
    assert _cell(pub, A1) is None and _cell(pub, A3) is None and _sup(pub, A3) == "output_value"
    assert _cell(pub, A2) == 300.0
    assert (_cell(pub, B1), _cell(pub, B2)) == (30.0, 60.0)
    assert (_sup(pub, B1), _sup(pub, B2)) == ("", "")


def test_secondary_per_county_when_both_counties_have_a_primary():
    # One primary in each county: each county loses its own smallest other cell (A3, B1),
    # never the other county's.
    rows = (_firms(A1, [500.0]) + _firms(A2, [100.0] * 3) + _firms(A3, [50.0] * 3)
            + _firms(B3, [700.0]) + _firms(B1, [10.0] * 3) + _firms(B2, [20.0] * 3))
    _, pub = _publish(rows)
    assert [_cell(pub, t) for t in (A1, A2, A3)] == [None, 300.0, None]
    assert [_cell(pub, t) for t in (B1, B2, B3)] == [None, 60.0, None]


def test_exactly_two_suppressed_one_single_contributor_the_other_by_dominance():
    # A1: one contributor; A2: 900, 50, 50 (90% > 85%): two primaries, one with a single
    # contributor -> the smallest other non-zero cell, A3 = 90, goes too; A4 = 120 stays.
    rows = (_firms(A1, [500.0]) + _firms(A2, [900.0, 50.0, 50.0])
            + _firms(A3, [30.0] * 3) + _firms(A4, [40.0] * 3))
    _, pub = _publish(rows)
    assert [_cell(pub, t) for t in (A1, A2, A3, A4)] == [None, None, None, 120.0]
    assert _sup(pub, A3) == "output_value" and _sup(pub, A4) == ""


def test_three_primaries_leave_the_other_cells_of_the_county_alone():
    # County 140823: A1 single, A2 and A3 two contributors each: three primaries (not one, not
    # two) -> A4 stays. County 140825: C1 single, C2 two contributors: exactly two, one of them
    # single -> C3, the only other cell, goes.
    rows = (_firms(A1, [500.0]) + _firms(A2, [100.0, 100.0]) + _firms(A3, [200.0, 200.0])
            + _firms(A4, [30.0] * 3)
            + _firms(C1, [500.0]) + _firms(C2, [100.0, 100.0]) + _firms(C3, [30.0] * 3))
    _, pub = _publish(rows)
    assert [_cell(pub, t) for t in (A1, A2, A3)] == [None, None, None]
    assert _cell(pub, A4) == 90.0 and _sup(pub, A4) == ""
    assert [_cell(pub, t) for t in (C1, C2, C3)] == [None, None, None]
    assert _sup(pub, C3) == "output_value"


def test_secondary_does_not_cascade():
    # A1 single contributor -> primary; A2 = 30 is the smallest other -> secondary. Now two
    # cells are suppressed and one of them has a single contributor, but it does not cascade:
    # A3 = 60 and A4 = 90 stay.
    rows = _firms(A1, [500.0]) + _firms(A2, [10.0] * 3) + _firms(A3, [20.0] * 3) + _firms(A4, [30.0] * 3)
    _, pub = _publish(rows)
    assert [_cell(pub, t) for t in (A1, A2, A3, A4)] == [None, None, 60.0, 90.0]
    assert [_sup(pub, t) for t in (A1, A2, A3, A4)] == ["output_value", "output_value", "", ""]


def test_secondary_takes_the_smallest_absolute_value_among_non_zero_cells():
    # tax_total in county 140823: A1 one taxpayer (primary); A2 = -50 (-20, -20, -10: 40%);
    # A3 = 30; A4 = 0 (+10, -10, 0 total, not a candidate). Smallest |value| non-zero: A3.
    # (A signed minimum would take A2, an absolute minimum over every cell A4.)
    tax = [{"period": "2023-07", "uscc": f"{A1}-0", "vat": 1000.0}]
    tax += [{"period": "2023-07", "uscc": f"{A2}-{i}", "vat": v} for i, v in enumerate([-20.0, -20.0, -10.0])]
    tax += [{"period": "2023-07", "uscc": f"{A3}-{i}", "vat": 10.0} for i in range(3)]
    tax += [{"period": "2023-07", "uscc": f"{A4}-{i}", "vat": v} for i, v in enumerate([10.0, -10.0])]
    ents = (_firms(A1, [0.0]) + _firms(A2, [0.0] * 3) + _firms(A3, [0.0] * 3) + _firms(A4, [0.0] * 2))
    ind, pub = _publish(ents, tax)
    assert [_cell(ind, t, "tax_total") for t in (A1, A2, A3, A4)] == [1000.0, -50.0, 30.0, 0.0]
    assert [_cell(pub, t, "tax_total") for t in (A1, A2, A3, A4)] == [None, -50.0, None, 0.0]
    assert [_sup(pub, t) for t in (A1, A2, A3, A4)] == ["tax_total", "", "tax_total", ""]


# ------------------------------------------------------------------------- tax_total_yoy
def _reg(uscc: str, town: str) -> dict:
    return {"uscc": uscc, "town_code": town, "established": date(2010, 1, 1)}


def test_tax_total_yoy_is_null_when_tax_total_of_y_or_y_minus_1_is_suppressed():
    """Reports only in 2023 (the tables' only year); 2022's taxes count by register town.
    County 140823: in 2022 A1 has one taxpayer (primary) and A2 (300 < A3's 600) is its
    secondary; in 2023 all three publish. County 140824: in 2023 B1 has one taxpayer
    (primary), B2 is the only other cell (secondary)."""
    tax, reg = [], []

    def payer(town, i, year, amount):
        u = f"{town}-p{i}"
        tax.append({"period": f"{year}-06", "uscc": u, "vat": amount})
        if not any(r["uscc"] == u for r in reg):
            reg.append(_reg(u, town))

    payer(A1, 0, 2022, 100.0)
    for i in range(3):
        payer(A1, i, 2023, 100.0)
        payer(A2, i, 2022, 100.0)
        payer(A2, i, 2023, 100.0)
        payer(A3, i, 2022, 200.0)
        payer(A3, i, 2023, 200.0)
        payer(B1, i, 2022, 100.0)
        payer(B2, i, 2022, 100.0)
        payer(B2, i, 2023, 100.0)
    payer(B1, 9, 2023, 500.0)
    ents = [{"year": 2023, "uscc": f"{t}-e", "town_code": t} for t in (A1, A2, A3, B1, B2)]
    ind, pub = _publish(ents, tax, reg)
    assert sorted(set(pub["year"])) == [2023]
    assert [_cell(ind, t, "tax_total_yoy") for t in (A1, A2, A3, B1, B2)] == [2.0, 0.0, 0.0, pytest.approx(2 / 3), 0.0]
    assert [_cell(pub, t, "tax_total") for t in (A1, A2, A3, B1, B2)] == [300.0, 300.0, 600.0, None, None]
    assert [_cell(pub, t, "tax_total_yoy") for t in (A1, A2, A3, B1, B2)] == [None, None, 0.0, None, None]
    # the suppressed column lists the cells of 2023 only
    assert [_sup(pub, t) for t in (A1, A2, A3, B1, B2)] == ["", "", "", "tax_total", "tax_total"]


def test_tax_total_yoy_in_ind_is_null_when_the_earlier_year_is_zero():
    # A1: 2022 nets to 0 (+100, -100) -> null; A2: no 2022 tax at all (sum over none = 0) -> null;
    # A3: 2022 = 50 -> 300 / 50 - 1 = 5.
    tax = [{"period": "2022-03", "uscc": f"{A1}-0", "vat": 100.0}, {"period": "2022-04", "uscc": f"{A1}-0", "vat": -100.0},
           {"period": "2022-03", "uscc": f"{A3}-0", "vat": 50.0}]
    tax += [{"period": "2023-03", "uscc": f"{t}-0", "vat": 300.0} for t in (A1, A2, A3)]
    reg = [_reg(f"{t}-0", t) for t in (A1, A2, A3)]
    ind, _ = _publish(_firms(A1, [1.0]) + _firms(A2, [1.0]) + _firms(A3, [1.0]), tax, reg)
    assert [_cell(ind, t, "tax_total_yoy") for t in (A1, A2, A3)] == [None, None, 5.0]
