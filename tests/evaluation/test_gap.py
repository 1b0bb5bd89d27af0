"""eval_gap (contract section 6.1): value, threshold, shortfall and met per indicator read,
hand-worked, and the gap in words."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest

from pipelines.evaluation import load_criteria_set, load_criteria_sets
from pipelines.evaluation.criteria import CRITERIA_DIR
from pipelines.evaluation.gap import GAP_COLUMNS, gap_lines, gap_table
from pipelines.warehouse.tables import polars_schema

MUNICIPAL = CRITERIA_DIR / "municipal_yuncheng.yaml"
PROVINCIAL = CRITERIA_DIR / "provincial_shanxi.yaml"
READS = ["leading_enterprises", "supporting_enterprises", "output_value", "market_share", "employees"]


def _ind(rows: list[dict]) -> pl.DataFrame:
    """ind_specialty_town_year rows; every town exactly at every municipal threshold unless told."""
    base = {"year": 2024, "leading_enterprises": 1, "supporting_enterprises": 10, "output_value": 5e8,
            "market_share": 0.5, "employees": 2000}
    return pl.DataFrame([{**base, **r} for r in rows],
                        schema_overrides={"leading_enterprises": pl.Int64, "supporting_enterprises": pl.Int64,
                                          "output_value": pl.Float64, "market_share": pl.Float64,
                                          "employees": pl.Int64}).with_columns(pl.col("year").cast(pl.Int32))


def _towns(rows: list[dict]) -> pl.DataFrame:
    base = {"category": "manufacturing", "heritage": False, "national_market": False}
    return pl.DataFrame([{**base, **r} for r in rows])


def _cells(gap: pl.DataFrame, set_name: str = "municipal_yuncheng") -> dict:
    return {(r["specialty_town_id"], r["indicator"]): (r["value"], r["threshold"], r["shortfall"], r["met"])
            for r in gap.filter(pl.col("criteria_set") == set_name).to_dicts()}


IND = _ind([
    # G: 2 leading (short of nothing), 7 supporting (3 short), output 3.8 亿 against 5 亿
    {"specialty_town_id": "G", "leading_enterprises": 2, "supporting_enterprises": 7, "output_value": 3.8e8,
     "market_share": 0.6, "employees": 2500},
    # H: heritage light industry, 0.9 亿 against its 1 亿; no leading firm
    {"specialty_town_id": "H", "leading_enterprises": 0, "supporting_enterprises": 12, "output_value": 9e7},
    # N: national market, 10% of the province; agriculture at 2.5 亿 against 2 亿
    {"specialty_town_id": "N", "market_share": 0.1, "output_value": 2.5e8},
    # M: no provincial total (market share null), no output reported, 1,500 employees
    {"specialty_town_id": "M", "market_share": None, "output_value": None, "employees": 1500},
    # A: at every threshold
    {"specialty_town_id": "A"},
])
TOWNS = _towns([
    {"id": "G", "name": "闻喜县玻璃器皿专业镇"},
    {"id": "H", "name": "H镇", "category": "light_industry", "heritage": True},
    {"id": "N", "name": "N镇", "category": "agriculture", "national_market": True},
    {"id": "M", "name": "M镇"},
    {"id": "A", "name": "A镇"},
])
NAMES = {"G": "闻喜县玻璃器皿专业镇", "H": "H镇", "N": "N镇", "M": "M镇", "A": "A镇"}


def test_hand_worked_cells_municipal():
    gap = gap_table(IND, TOWNS, [load_criteria_set(MUNICIPAL)])
    assert gap.columns == GAP_COLUMNS
    assert dict(gap.schema) == polars_schema("eval_gap")
    assert gap.height == 5 * 5  # five towns, five indicators read
    got = _cells(gap)
    expect = {
        ("G", "leading_enterprises"): (2.0, 1.0, 0.0, True),
        ("G", "supporting_enterprises"): (7.0, 10.0, 3.0, False),
        ("G", "output_value"): (3.8e8, 5e8, 120_000_000.0, False),
        ("G", "market_share"): (0.6, 0.5, 0.0, True),
        ("G", "employees"): (2500.0, 2000.0, 0.0, True),
        ("H", "leading_enterprises"): (0.0, 1.0, 1.0, False),
        ("H", "supporting_enterprises"): (12.0, 10.0, 0.0, True),
        ("H", "output_value"): (9e7, 1e8, 10_000_000.0, False),  # heritage: 1 亿, not 2 亿
        ("N", "output_value"): (2.5e8, 2e8, 0.0, True),  # agriculture: 2 亿
        ("N", "market_share"): (0.1, None, 0.0, True),  # national market: no threshold, nothing short
        ("M", "market_share"): (None, 0.5, 0.5, False),  # a null value falls short by the whole threshold
        ("M", "output_value"): (None, 5e8, 5e8, False),
        ("M", "employees"): (1500.0, 2000.0, 500.0, False),
    }
    for key, cell in expect.items():
        assert got[key] == cell, key
    assert all(got[("A", i)][2:] == (0.0, True) for i in READS)  # exactly at a threshold: met, nothing short
    assert gap.select(pl.struct("criteria_set", "specialty_town_id", "year", "indicator").is_unique().all()).item()


def test_both_shipped_sets():
    sets = load_criteria_sets()
    assert {s.name for s in sets} >= {"municipal_yuncheng", "provincial_shanxi"}
    gap = gap_table(IND, TOWNS, sets)
    assert gap.height == len(sets) * 5 * 5
    # the shipped provincial file holds placeholders equal to the municipal numbers
    assert _cells(gap, "provincial_shanxi") == _cells(gap, "municipal_yuncheng")


def test_provincial_reads_its_own_thresholds(tmp_path):
    text = PROVINCIAL.read_text(encoding="utf-8")
    for old, new in [("supporting_enterprises: 10 ", "supporting_enterprises: 15 "),
                     ("manufacturing: 500000000", "manufacturing: 600000000"),
                     ("heritage: 100000000", "heritage: 150000000"),
                     ("threshold: 2000 ", "threshold: 3000 ")]:
        assert old in text
        text = text.replace(old, new)
    edited = tmp_path / "provincial_shanxi.yaml"
    edited.write_text(text, encoding="utf-8")
    gap = gap_table(IND, TOWNS, [load_criteria_set(MUNICIPAL), load_criteria_set(edited)])
    prov, muni = _cells(gap, "provincial_shanxi"), _cells(gap, "municipal_yuncheng")
    assert prov[("G", "supporting_enterprises")] == (7.0, 15.0, 8.0, False)
    assert muni[("G", "supporting_enterprises")] == (7.0, 10.0, 3.0, False)
    assert prov[("G", "output_value")] == (3.8e8, 6e8, 220_000_000.0, False)
    assert prov[("H", "output_value")] == (9e7, 1.5e8, 60_000_000.0, False)
    assert prov[("H", "supporting_enterprises")] == (12.0, 15.0, 3.0, False)
    assert prov[("G", "employees")] == (2500.0, 3000.0, 500.0, False)
    assert prov[("A", "employees")] == (2000.0, 3000.0, 1000.0, False)
    assert prov[("G", "leading_enterprises")] == muni[("G", "leading_enterprises")] == (2.0, 1.0, 0.0, True)


def test_strict_comparison_and_empty():
    strict = load_criteria_set(MUNICIPAL)
    crit = next(c for c in strict.criteria if c.name == "employment")
    strict = replace(strict, criteria=(replace(crit, comparison=">"),))
    gap = gap_table(IND, TOWNS, [strict])
    assert _cells(gap)[("A", "employees")] == (2000.0, 2000.0, 0.0, False)
    assert gap_lines(gap, NAMES, "municipal_yuncheng", 2024)[0:2] == [
        "A镇：从业人员期末人数须超过门槛", "A镇: employees must exceed the threshold"]
    empty = gap_table(IND, TOWNS, [])
    assert empty.height == 0 and dict(empty.schema) == polars_schema("eval_gap")


def test_gap_lines():
    gap = gap_table(IND, TOWNS, [load_criteria_set(MUNICIPAL)])
    lines = gap_lines(gap, NAMES, "municipal_yuncheng", 2024)
    assert lines == [
        "A镇：已全部达标",
        "A镇: meets every criterion",
        "闻喜县玻璃器皿专业镇：还差 3 家关联配套企业、总产值还差 1.20 亿元",
        "闻喜县玻璃器皿专业镇: 3 more supporting enterprises; output value short by 120.00 million yuan",
        "H镇：还差 1 家龙头企业、总产值还差 0.10 亿元",
        "H镇: 1 more leading enterprises; output value short by 10.00 million yuan",
        "M镇：总产值还差 5.00 亿元（无数据）、全省市场占有率还差 50.00 个百分点（无数据）、从业人员期末人数还差 500 人",
        "M镇: output value short by 500.00 million yuan (no data); market share short by 50.00 percentage points "
        "(no data); employees short by 500 persons",
        "N镇：已全部达标",
        "N镇: meets every criterion",
    ]
    assert gap_lines(gap, NAMES, "municipal_yuncheng", 2030) == []
    assert gap_lines(gap, {}, "municipal_yuncheng", 2024)[0] == "A：已全部达标"  # id for a missing name


@pytest.mark.parametrize("shortfall, words", [(1.5e7, "总产值还差 0.15 亿元"), (123_456_789.0, "总产值还差 1.23 亿元")])
def test_money_in_yi(shortfall, words):
    ind = _ind([{"specialty_town_id": "G", "output_value": 5e8 - shortfall}])
    gap = gap_table(ind, _towns([{"id": "G"}]), [load_criteria_set(MUNICIPAL)])
    assert gap_lines(gap, {"G": "G镇"}, "municipal_yuncheng", 2024)[0] == f"G镇：{words}"
