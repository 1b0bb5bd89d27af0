"""What a target's progress means (pipelines/evaluation/progress.py), worked out by hand.

Rows are eval_target rows (contract v4 section 6.2) written by hand; each expectation below
is the arithmetic a person would do with the numbers of that row.
"""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.evaluation.progress import STATUS_ZH, progress_frame, target_names
from pipelines.evaluation.targets import SCHEMA

A, B, C = "140823100", "140823101", "140823102"

# level, id, year, indicator, target, actual, attainment, met, latest_period, to_date, to_date_prev
ROWS = [
    # tax_total, a flow: by 2025-03 a quarter of 1200 is due (300); 350 is ahead of pace
    ("town", A, 2025, "tax_total", 1200.0, None, None, False, "2025-03", 350.0, 300.0),
    # 250 is behind the 300 due by March
    ("town", B, 2025, "tax_total", 1200.0, None, None, False, "2025-03", 250.0, 0.0),
    # exactly on pace: 300 of 1200 by March is on track
    ("town", C, 2025, "tax_total", 1200.0, None, None, False, "2025-03", 300.0, 400.0),
    # insured_persons, a stock: 90 enrolled in the latest month against a target of 100
    ("town", A, 2025, "insured_persons", 100.0, None, None, False, "2025-02", 90.0, 60.0),
    # ... 100 enrolled: the target is already reached within the year
    ("town", B, 2025, "insured_persons", 100.0, None, None, False, "2025-02", 100.0, 100.0),
    # the year's indicator exists: met / missed whatever the progress said
    ("town", A, 2024, "tax_total", 600.0, 650.0, 650 / 600, True, "2024-12", 650.0, 500.0),
    ("town", B, 2024, "output_value", 1e6, 8e5, 0.8, False, None, None, None),
    # a target of 0: met with any actual, attainment and completion undefined
    ("town", C, 2024, "enterprises", 0.0, 3.0, None, True, None, None, None),
    # a target of 0 within the year: on track with a to_date of 0, completion undefined
    ("town", C, 2025, "insured_persons", 0.0, None, None, False, "2025-02", 0.0, 0.0),
    # nothing at all yet
    ("specialty_town", "glass", 2025, "output_value", 5e8, None, None, False, None, None, None),
    # a year without any tax row: latest_period null, no progress
    ("specialty_town", "glass", 2026, "tax_total", 10.0, None, None, False, None, None, None),
]


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    et = pl.DataFrame(ROWS, schema=SCHEMA, orient="row")
    names = {("town", A): "桐城镇", ("town", B): "郭家庄镇", ("specialty_town", "glass"): "玻璃器皿专业镇"}
    return progress_frame(et, names)


def row(frame: pl.DataFrame, level: str, ident: str, year: int, indicator: str) -> dict:
    out = frame.filter((pl.col("level") == level) & (pl.col("id") == ident) & (pl.col("year") == year)
                       & (pl.col("indicator") == indicator))
    assert out.height == 1
    return out.row(0, named=True)


def test_flow_on_pace(frame):
    r = row(frame, "town", A, 2025, "tax_total")
    assert r["month"] == 3
    assert r["expected_to_date"] == pytest.approx(300.0)  # 1200 x 3 / 12
    assert (r["status"], r["status_zh"], r["laggard"]) == ("on_track", "进度正常", False)
    assert r["to_date_yoy"] == pytest.approx(350 / 300 - 1)  # +16.7%
    assert r["completion"] == pytest.approx(350 / 1200)
    assert (r["name"], r["indicator_zh"], r["unit"], r["kind"]) == ("桐城镇", "税收合计", "元", "money")


def test_flow_behind_pace(frame):
    r = row(frame, "town", B, 2025, "tax_total")
    assert r["expected_to_date"] == pytest.approx(300.0)
    assert (r["status"], r["status_zh"], r["laggard"]) == ("behind", "进度落后", True)
    assert r["to_date_yoy"] is None  # the same months of 2024 had nothing: no growth rate
    assert r["completion"] == pytest.approx(250 / 1200)


def test_flow_exactly_on_pace_and_falling_year_on_year(frame):
    r = row(frame, "town", C, 2025, "tax_total")
    assert r["status"] == "on_track" and not r["laggard"]
    assert r["to_date_yoy"] == pytest.approx(300 / 400 - 1)  # -25%
    assert r["name"] == C  # no name known: the id stands for it


def test_stock_is_compared_with_the_whole_target(frame):
    behind = row(frame, "town", A, 2025, "insured_persons")
    assert behind["expected_to_date"] is None  # no pace for a stock
    assert (behind["status"], behind["laggard"]) == ("behind", True)  # 90 < 100, though Feb
    assert behind["to_date_yoy"] == pytest.approx(90 / 60 - 1)
    assert behind["completion"] == pytest.approx(0.9)
    reached = row(frame, "town", B, 2025, "insured_persons")
    assert (reached["status"], reached["laggard"]) == ("on_track", False)
    assert reached["to_date_yoy"] == pytest.approx(0.0)
    assert reached["indicator_zh"] == "参保人数" and reached["unit"] == "人"


def test_actual_decides_met_or_missed(frame):
    met = row(frame, "town", A, 2024, "tax_total")
    assert (met["status"], met["status_zh"], met["laggard"]) == ("met", "已达标", False)
    assert met["completion"] == pytest.approx(650 / 600)  # the attainment
    assert met["to_date_yoy"] == pytest.approx(650 / 500 - 1)
    missed = row(frame, "town", B, 2024, "output_value")
    assert (missed["status"], missed["status_zh"], missed["laggard"]) == ("missed", "未达标", True)
    assert missed["completion"] == pytest.approx(0.8)
    assert missed["month"] is None and missed["to_date_yoy"] is None


def test_target_of_zero(frame):
    r = row(frame, "town", C, 2024, "enterprises")
    assert (r["status"], r["laggard"]) == ("met", False)
    assert r["completion"] is None  # attainment is undefined for a target of 0
    within = row(frame, "town", C, 2025, "insured_persons")
    assert (within["status"], within["laggard"]) == ("on_track", False)  # 0 >= 0
    assert within["completion"] is None and within["to_date_yoy"] is None


def test_no_data(frame):
    for year, indicator in ((2025, "output_value"), (2026, "tax_total")):
        r = row(frame, "specialty_town", "glass", year, indicator)
        assert (r["status"], r["status_zh"], r["laggard"]) == ("no_data", "暂无数据", False)
        assert r["completion"] is None and r["expected_to_date"] is None and r["month"] is None
        assert r["name"] == "玻璃器皿专业镇"
    assert row(frame, "specialty_town", "glass", 2025, "output_value")["indicator_zh"] == "总产值"


def test_every_row_kept_sorted_with_a_known_status(frame):
    assert frame.height == len(ROWS)
    assert frame.select("level", "id", "year", "indicator").rows() == sorted(
        (r[0], r[1], r[2], r[3]) for r in ROWS)
    assert set(frame["status"]) <= set(STATUS_ZH)
    assert frame["laggard"].sum() == 3  # B tax behind, A insured behind, B output missed


def test_empty_eval_target():
    out = progress_frame(pl.DataFrame(schema=SCHEMA))
    assert out.height == 0 and {"status", "status_zh", "laggard", "completion"} <= set(out.columns)


def test_target_names_from_the_dimension_tables():
    towns = pl.DataFrame({"town_code": [A], "town_name": ["桐城镇"]})
    specialty = pl.DataFrame({"id": ["glass"], "name": ["玻璃器皿专业镇"]})
    assert target_names(towns, specialty) == {("town", A): "桐城镇",
                                              ("specialty_town", "glass"): "玻璃器皿专业镇"}
