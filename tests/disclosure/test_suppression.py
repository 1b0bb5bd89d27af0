"""pub_town_year (contract section 7): primary and secondary suppression."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "indicators"))
from synthetic_facts import (  # noqa: E402
    employment_frame,
    enterprise_frame,
    random_facts,
    registry_frame,
    tax_frame,
    towns_frame,
)

from pipelines.disclosure import load_disclosure_params, publish_town_year  # noqa: E402
from pipelines.indicators import town_year  # noqa: E402

T1, T2, T3, T4 = "140823100", "140823101", "140823102", "140823103"
TOWNS = towns_frame([T1, T2, T3, T4])


def _publish(ent_rows, tax_rows=()):
    ent, tax, reg = enterprise_frame(ent_rows), tax_frame(list(tax_rows)), registry_frame([])
    ind = town_year(ent, tax, employment_frame([]), reg, TOWNS)
    return ind, publish_town_year(ind, ent, tax, reg, TOWNS)


def _firms(town, values, year=2023, prefix=None, column="output_value"):
    prefix = prefix or town
    return [{"year": year, "uscc": f"{prefix}-{i}", "town_code": town, column: v} for i, v in enumerate(values)]


def _row(pub, town, year=2023):
    return pub.filter((pl.col("town_code") == town) & (pl.col("year") == year)).to_dicts()[0]


def test_params_live_in_schemas_disclosure_yaml():
    p = load_disclosure_params()
    assert (p.min_contributors, p.dominance_contributors, p.dominance_percent) == (3, 1, Fraction(85))


def test_two_firms_suppressed_counts_published():
    ind, pub = _publish(_firms(T1, [100.0, 200.0]) + _firms(T2, [100.0, 100.0, 100.0]) + _firms(T3, [50.0, 60.0, 70.0]))
    r = _row(pub, T1)
    assert r["output_value"] is None and r["enterprises"] == 2
    assert r["suppressed"] == "output_value"
    # revenue etc. are all 0: total 0 is never suppressed
    assert r["revenue"] == 0.0
    assert pub.columns == [*ind.columns, "suppressed"]


def test_dominance_exact_in_fen():
    # 85% exactly is published; 86% is suppressed
    _, pub = _publish(_firms(T1, [85.00, 10.00, 5.00]) + _firms(T2, [86.00, 9.00, 5.00])
                      + _firms(T3, [1.0, 1.0, 1.0]) + _firms(T4, [2.0, 2.0, 2.0]))
    assert _row(pub, T1)["output_value"] == 100.0
    assert _row(pub, T2)["output_value"] is None
    # one primary in the county: the smallest other non-zero cell (T3 = 3) goes too
    assert _row(pub, T3)["output_value"] is None and _row(pub, T3)["suppressed"] == "output_value"
    assert _row(pub, T4)["output_value"] == 6.0


def test_negative_contributions_use_absolute_values():
    # taxes: |-90| / (90 + 5 + 5) = 90% > 85% -> suppressed
    tax = [{"period": "2023-01", "uscc": f"{T1}-{i}", "vat": v} for i, v in enumerate([-90.0, 5.0, 5.0])]
    tax += [{"period": "2023-01", "uscc": f"{T2}-{i}", "vat": v} for i, v in enumerate([10.0, 10.0, 10.0])]
    tax += [{"period": "2023-01", "uscc": f"{T3}-{i}", "vat": v} for i, v in enumerate([10.0, 10.0, 11.0])]
    ents = [{"year": 2023, "uscc": f"{t}-{i}", "town_code": t} for t in (T1, T2, T3) for i in range(3)]
    _, pub = _publish(ents, tax)
    assert _row(pub, T1)["tax_total"] is None
    assert _row(pub, T2)["tax_total"] is None  # secondary: smallest |30| < |31|
    assert _row(pub, T3)["tax_total"] == 31.0
    assert _row(pub, T1)["suppressed"] == "tax_total"


def test_secondary_two_single_contributor_cells_and_tie_on_town_code():
    rows = _firms(T1, [500.0]) + _firms(T2, [700.0]) + _firms(T3, [40.0, 30.0, 30.0]) + _firms(T4, [30.0, 40.0, 30.0])
    _, pub = _publish(rows)
    assert _row(pub, T1)["output_value"] is None and _row(pub, T2)["output_value"] is None
    # T3 and T4 both 100: the lower town_code is taken, once
    assert _row(pub, T3)["output_value"] is None and _row(pub, T3)["suppressed"] == "output_value"
    assert _row(pub, T4)["output_value"] == 100.0


def test_two_primaries_with_several_contributors_need_no_secondary():
    rows = _firms(T1, [500.0, 600.0]) + _firms(T2, [700.0, 800.0]) + _firms(T3, [40.0, 30.0, 30.0])
    _, pub = _publish(rows)
    assert _row(pub, T3)["output_value"] == 100.0


def test_single_suppressed_cell_with_no_other_nonzero_cell():
    rows = _firms(T1, [500.0]) + _firms(T2, [0.0, 0.0, 0.0])
    _, pub = _publish(rows)
    assert _row(pub, T1)["output_value"] is None and _row(pub, T2)["output_value"] == 0.0
    assert _row(pub, T2)["suppressed"] == ""


def test_yoy_and_ratio_follow_their_money_cells():
    rows = (
        _firms(T1, [500.0], year=2022) + _firms(T1, [100.0, 100.0, 100.0], year=2023)
        + _firms(T2, [10.0, 10.0, 10.0], year=2022) + _firms(T2, [10.0, 10.0, 10.0], year=2023)
        + [{"year": 2023, "uscc": "R1", "town_code": T4, "revenue": 100.0, "rd_expenditure": 1.0},
           {"year": 2023, "uscc": "R2", "town_code": T4, "revenue": 100.0, "rd_expenditure": 1.0},
           {"year": 2023, "uscc": "R3", "town_code": T4, "revenue": 100.0, "rd_expenditure": 1.0},
           {"year": 2023, "uscc": "R4", "town_code": T3, "revenue": 50.0, "rd_expenditure": 1.0},
           {"year": 2023, "uscc": "R5", "town_code": T3, "revenue": 50.0, "rd_expenditure": 1.0},
           {"year": 2023, "uscc": "R6", "town_code": T3, "revenue": 50.0, "rd_expenditure": 1.0}]
    )
    ind, pub = _publish(rows)
    assert _row(ind, T1)["output_value_yoy"] == pytest.approx(-0.4)
    r = _row(pub, T1)
    assert r["output_value"] == 300.0  # published in 2023
    assert r["output_value_yoy"] is None  # but 2022 was suppressed
    assert _row(pub, T2, 2022)["output_value"] is None  # secondary in 2022 (smallest other cell)
    assert _row(pub, T2)["output_value_yoy"] is None
    assert _row(pub, T4)["rd_intensity"] == pytest.approx(0.01)


def test_suppressed_lists_columns_in_contract_order():
    rows = [{"year": 2023, "uscc": "A", "town_code": T1, "output_value": 5.0, "revenue": 5.0, "export_value": 1.0}]
    rows += [{"year": 2023, "uscc": f"B{i}", "town_code": T2, "output_value": 5.0, "revenue": 5.0, "export_value": 1.0}
             for i in range(3)]
    tax = [{"period": "2023-03", "uscc": "A", "vat": 3.0}]
    _, pub = _publish(rows, tax)
    assert _row(pub, T1)["suppressed"] == "output_value;revenue;export_value;tax_total"
    assert _row(pub, T1)["rd_intensity"] is None and _row(pub, T1)["revenue_yoy"] is None
    assert _row(pub, T2)["suppressed"] == "output_value;revenue;export_value"  # secondary


# The contract's section 7, written again without Polars: contributors, primary and
# secondary suppression, the yoy and ratio columns that follow their money cells.
CONTRACT_MONEY = ["output_value", "revenue", "rd_expenditure", "export_value", "ecommerce_sales", "tax_total"]
CONTRACT_DERIVED = {"output_value_yoy": (["output_value"], True), "revenue_yoy": (["revenue"], True),
                    "tax_total_yoy": (["tax_total"], True), "rd_intensity": (["rd_expenditure", "revenue"], False)}


def _independent_suppression(ind: pl.DataFrame, f: dict) -> tuple[set, set]:
    """(primary, secondary): sets of (town_code, year, column), from the facts alone."""
    years = set(ind["year"].to_list())
    span = years | {y - 1 for y in years}
    report_town = {(r["year"], r["uscc"]): r["town_code"] for r in f["enterprise"].iter_rows(named=True)}
    register_town = {r["uscc"]: r["town_code"] for r in f["registry"].iter_rows(named=True)}
    county = dict(f["towns"].select("town_code", "county_code").iter_rows())
    contributions: dict[tuple, list[int]] = {}
    for r in f["enterprise"].iter_rows(named=True):
        if r["year"] not in span:
            continue
        for c in CONTRACT_MONEY[:-1]:
            if r[c] is not None:
                contributions.setdefault((r["town_code"], r["year"], c), []).append(round(r[c] * 100))
    yearly: dict[tuple, int] = {}  # a taxpayer's yearly total, in fen
    for r in f["tax"].iter_rows(named=True):
        if r["year"] in span:
            yearly[(r["year"], r["uscc"])] = yearly.get((r["year"], r["uscc"]), 0) + (
                0 if r["total_tax"] is None else round(r["total_tax"] * 100))
    for (year, u), fen in yearly.items():
        town = report_town.get((year, u)) or register_town.get(u)
        if town is not None:
            contributions.setdefault((town, year, "tax_total"), []).append(fen)
    cells = {}
    for key, fens in contributions.items():
        total, absolute = sum(fens), [abs(x) for x in fens]
        primary = total != 0 and (sum(x != 0 for x in fens) < 3 or 100 * max(absolute) > 85 * sum(absolute))
        cells[key] = (total, sum(x != 0 for x in fens), primary)
    primary = {k for k, (_, _, p) in cells.items() if p}
    groups: dict[tuple, list[tuple]] = {}
    for (town, year, c) in cells:
        groups.setdefault((county[town], year, c), []).append((town, year, c))
    secondary = set()
    for keys in groups.values():
        hit = [k for k in keys if k in primary]
        single = [k for k in hit if cells[k][1] == 1]
        if len(hit) == 1 or (len(hit) == 2 and single):
            others = [k for k in keys if k not in primary and cells[k][0] != 0]
            if others:
                secondary.add(min(others, key=lambda k: (abs(cells[k][0]), k[0])))
    return primary, secondary


@pytest.mark.parametrize(("seed", "firms"), [(5, 260), (5, 40), (23, 50)])
def test_runs_on_synthetic_facts(seed, firms):
    # 260 firms over 9 towns: few small cells; 40 or 50 firms, and one taxpayer in five kept
    # (each with several monthly rows, refunds among them): many primary and secondary cells
    f = random_facts(seed=seed, firms=firms)
    if firms < 100:
        f["tax"] = f["tax"].filter(pl.col("uscc").str.slice(-3).cast(pl.Int32) % 5 == 0)
    ind = town_year(f["enterprise"], f["tax"], f["employment"], f["registry"], f["towns"])
    pub = publish_town_year(ind, f["enterprise"], f["tax"], f["registry"], f["towns"])
    assert pub.height == ind.height
    assert pub.select("town_code", "year").equals(ind.select("town_code", "year"))
    for c in ("enterprises", "employees", "insured_persons", "market_entities"):
        assert pub[c].equals(ind[c])

    primary, secondary = _independent_suppression(ind, f)
    hidden = primary | secondary
    years = set(ind["year"].to_list())
    if firms < 100:  # sparse facts exercise both kinds in every money column of the published years
        assert len({k for k in primary if k[1] in years}) > 20
        assert len({k for k in secondary if k[1] in years}) > 3
        assert {k[2] for k in primary if k[1] in years} == set(CONTRACT_MONEY)
    expected, mismatches = [], []
    for r in ind.iter_rows(named=True):
        t, y = r["town_code"], r["year"]
        want = dict(r)
        for c in CONTRACT_MONEY:
            if (t, y, c) in hidden:
                want[c] = None
        for c, (sources, previous) in CONTRACT_DERIVED.items():
            if any((t, y, s) in hidden or (previous and (t, y - 1, s) in hidden) for s in sources):
                want[c] = None
        want["suppressed"] = ";".join(c for c in CONTRACT_MONEY if (t, y, c) in hidden)
        expected.append(want)
    got = {(r["town_code"], r["year"]): r for r in pub.iter_rows(named=True)}
    for want in expected:
        row = got[(want["town_code"], want["year"])]
        for c, v in want.items():
            same = (v is None and row[c] is None) or (v is not None and row[c] is not None and (
                row[c] == v or (isinstance(v, float) and row[c] == pytest.approx(v, rel=1e-12))))
            if not same:
                mismatches.append((want["town_code"], want["year"], c, v, row[c]))
    assert not mismatches, mismatches[:10]
    by_previous_year_only = [
        w for w in expected if w["output_value_yoy"] is None and w["output_value"] is not None
        and (w["town_code"], w["year"] - 1, "output_value") in hidden]
    assert by_previous_year_only or firms >= 100
