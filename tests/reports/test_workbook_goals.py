"""The workbook's 认定差距, 目标进度 and 未报企业 sheets on a small hand-made warehouse.

Every number below is chosen by hand and every expected cell worked out by hand:

- 闻喜县玻璃器皿专业镇 (140823-01), municipal_yuncheng, 2024: 7 supporting enterprises of 10
  (3 short), output value 380,000,000 of 500,000,000 yuan (120,000,000 = 1.20 亿元 = 12,000 万元
  short), market share 0.62 with the national-market exception (no threshold, met), leading
  1 of 1 and employees 2,500 of 2,000 met. 闻喜县山楂专业镇 (140823-02) meets everything.
- targets: 桐城镇's tax of 2025, 12,000,000 yuan, has reached 2,400,000 by March (pace
  12,000,000 × 3/12 = 3,000,000: behind, 完成率 0.20, 累计同比 2.4/2.0 − 1 = 0.20); 东镇 has
  2,500,000 of 8,000,000 (pace 2,000,000: on track, 0.3125, 2.5/2.0 − 1 = 0.25); 桐城镇's
  2024 insured persons 1,100 of 1,000 (met, 1.10); the glass town's 2024 output value
  380,000,000 of 500,000,000 (missed, 0.76); a 2023 target met; a 2026 target not shown.
- 闻喜测试玻璃制品有限公司 reported in 2023 (output value 56,780,000 yuan = 5,678 万元, town
  桐城镇, industry 3054) and not in 2024: its town hosts the glass town (3054 a core
  industry) and lies in the county-wide hawthorn town (3054 a supporting industry).
"""

from __future__ import annotations

import openpyxl
import polars as pl
import pytest

from pipelines.evaluation.criteria import load_criteria_sets
from pipelines.evaluation.gap import gap_lines, gap_table
from pipelines.reports.workbook import (
    GAP_SHEET,
    HEADER_ROW,
    MISSING_SHEET,
    NO_TARGETS,
    TARGET_SHEET,
    write_evaluation_workbook,
)
from pipelines.warehouse import publish, read_table
from pipelines.warehouse.tables import polars_schema

YEAR = 2024
GLASS, HAWTHORN = "140823-01", "140823-02"
GLASS_ZH, HAWTHORN_ZH = "闻喜县玻璃器皿专业镇", "闻喜县山楂专业镇"
TONGCHENG, DONGZHEN = "140823100", "140823101"
USCC = "91140823MA0K7Q3X1B"
LIGHT_RED = "FFFFC7CE"
SET_ZH = "运城市重点专业镇认定标准"


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = polars_schema(table)
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema, orient="row") \
        if rows else pl.DataFrame(schema=schema)


def _ind(sid: str, leading: int, supporting: int, output: float, share: float, employees: int) -> dict:
    zero = {c: 0 for c, t in polars_schema("ind_specialty_town_year").items() if t in (pl.Int64, pl.Float64)}
    return {**zero, "specialty_town_id": sid, "year": YEAR, "leading_enterprises": leading,
            "supporting_enterprises": supporting, "output_value": output, "market_share": share,
            "employees": employees}


def _gap(sid: str, indicator: str, value, threshold, shortfall, met, year: int = YEAR) -> dict:
    return {"criteria_set": "municipal_yuncheng", "specialty_town_id": sid, "year": year,
            "indicator": indicator, "value": value, "threshold": threshold, "shortfall": shortfall,
            "met": met}


def _target(level, id_, year, indicator, target, actual=None, attainment=None, met=False,
            latest=None, to_date=None, prev=None) -> dict:
    return {"level": level, "id": id_, "year": year, "indicator": indicator, "target": target,
            "actual": actual, "attainment": attainment, "met": met, "latest_period": latest,
            "to_date": to_date, "to_date_prev": prev}


def _enterprise(year: int, uscc: str, name: str, output: float) -> dict:
    return {"year": year, "uscc": uscc, "name": name, "town_code": TONGCHENG, "industry_code": "3054",
            "output_value": output, "revenue": output, "employees": 120, "high_tech": False,
            "specialized_sme": False, "little_giant": False, "tech_center_level": "none",
            "above_scale": True}


def _tables() -> dict[str, pl.DataFrame]:
    """Every table the workbook reads; eval_gap and eval_target as worked out above."""
    return {
        "dim_town": _frame("dim_town", [
            {"town_code": TONGCHENG, "town_name": "桐城镇", "county_code": "140823"},
            {"town_code": DONGZHEN, "town_name": "东镇", "county_code": "140823"}]),
        "dim_specialty_town": _frame("dim_specialty_town", [
            {"id": GLASS, "name": GLASS_ZH, "county_code": "140823", "host_town_codes": TONGCHENG,
             "category": "manufacturing", "heritage": False, "national_market": True,
             "core_industry_codes": "3054", "supporting_industry_codes": "3099"},
            {"id": HAWTHORN, "name": HAWTHORN_ZH, "county_code": "140823", "host_town_codes": "",
             "category": "manufacturing", "heritage": False, "national_market": False,
             "core_industry_codes": "0151", "supporting_industry_codes": "3054"}]),
        "ind_specialty_town_year": _frame("ind_specialty_town_year", [
            _ind(GLASS, 1, 7, 380_000_000.0, 0.62, 2500),
            _ind(HAWTHORN, 2, 12, 600_000_000.0, 0.55, 2100)]),
        "eval_gap": _frame("eval_gap", [
            _gap(GLASS, "leading_enterprises", 1.0, 1.0, 0.0, True),
            _gap(GLASS, "supporting_enterprises", 7.0, 10.0, 3.0, False),
            _gap(GLASS, "output_value", 380_000_000.0, 500_000_000.0, 120_000_000.0, False),
            _gap(GLASS, "market_share", 0.62, None, 0.0, True),
            _gap(GLASS, "employees", 2500.0, 2000.0, 0.0, True),
            _gap(HAWTHORN, "leading_enterprises", 2.0, 1.0, 0.0, True),
            _gap(HAWTHORN, "supporting_enterprises", 12.0, 10.0, 0.0, True),
            _gap(HAWTHORN, "output_value", 600_000_000.0, 500_000_000.0, 0.0, True),
            _gap(HAWTHORN, "market_share", 0.55, 0.5, 0.0, True),
            _gap(HAWTHORN, "employees", 2100.0, 2000.0, 0.0, True),
            # another year: not on the 2024 sheet
            _gap(GLASS, "supporting_enterprises", 5.0, 10.0, 5.0, False, year=2023)]),
        "eval_target": _frame("eval_target", [
            _target("town", TONGCHENG, 2025, "tax_total", 12_000_000.0, latest="2025-03",
                    to_date=2_400_000.0, prev=2_000_000.0),
            _target("town", DONGZHEN, 2025, "tax_total", 8_000_000.0, latest="2025-03",
                    to_date=2_500_000.0, prev=2_000_000.0),
            _target("town", TONGCHENG, 2024, "insured_persons", 1000.0, actual=1100.0, attainment=1.1,
                    met=True, latest="2024-12", to_date=1100.0, prev=1000.0),
            _target("specialty_town", GLASS, 2024, "output_value", 500_000_000.0, actual=380_000_000.0,
                    attainment=0.76),
            _target("specialty_town", HAWTHORN, 2023, "supporting_enterprises", 12.0, actual=12.0,
                    attainment=1.0, met=True),
            _target("town", TONGCHENG, 2026, "tax_total", 15_000_000.0)]),
        "dq_flag": _frame("dq_flag", [
            {"source": "enterprise", "key": f"{YEAR}|{USCC}", "rule": "report_missing",
             "detail": "上年已报送年报（工业总产值 56780000 元，乡镇 140823100）"},
            {"source": "enterprise", "key": "2023|91140823MA0K7Q3Y2C", "rule": "report_missing",
             "detail": "上年已报送年报"},
            {"source": "enterprise", "key": f"{YEAR}|{USCC}", "rule": "tax_sales_gap", "detail": "x"}]),
        "fact_enterprise_year": _frame("fact_enterprise_year", [
            _enterprise(2023, USCC, "闻喜测试玻璃制品有限公司", 56_780_000.0),
            _enterprise(2022, "91140823MA0K7Q3Y2C", "闻喜另一家有限公司", 1_000_000.0)]),
        **{t: _frame(t, []) for t in ("dq_file", "eval_specialty_town", "eval_criterion", "pub_town_year")},
    }


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('goals') / 'warehouse.sqlite'}"
    publish(url, _tables())
    return url


@pytest.fixture(scope="module")
def book(warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("goals_wb") / "eval.xlsx"
    return openpyxl.load_workbook(write_evaluation_workbook(warehouse, YEAR, out))


def _rows(ws) -> list[dict]:
    headers = [c.value for c in ws[HEADER_ROW]]
    return [dict(zip(headers, r, strict=True))
            for r in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True)]


def test_the_three_sheets_come_before_the_indicator_sheets(book):
    assert book.sheetnames == [GAP_SHEET, TARGET_SHEET, MISSING_SHEET, "乡镇指标", "专业镇指标", "说明"]
    for name in (GAP_SHEET, TARGET_SHEET, MISSING_SHEET):
        ws = book[name]
        assert ws.freeze_panes == f"A{HEADER_ROW + 1}"
        assert ws.cell(HEADER_ROW, 1).value == "年度"
    assert "内部" in book[TARGET_SHEET]["A1"].value
    notes = {r[0]: r[1] for r in book["说明"].iter_rows(min_row=3, values_only=True) if r[0]}
    assert {GAP_SHEET, TARGET_SHEET, MISSING_SHEET} <= set(notes)


def test_distance_to_recognition_in_words_and_numbers(book, warehouse):
    ws = book[GAP_SHEET]
    assert str(YEAR) in ws["A1"].value
    rows = _rows(ws)
    assert [(r["标准集"], r["专业镇编号"]) for r in rows] == [(SET_ZH, GLASS), (SET_ZH, HAWTHORN)]
    glass, hawthorn = rows
    # the words, Chinese first, in the catalogue's order whatever order the warehouse gives the rows in
    assert glass["认定差距"] == f"{GLASS_ZH}：还差 3 家关联配套企业、总产值还差 1.20 亿元"
    assert glass["Distance to recognition"] == \
        f"{GLASS_ZH}: 3 more supporting enterprises; output value short by 120.00 million yuan"
    assert hawthorn["认定差距"] == f"{HAWTHORN_ZH}：已全部达标"
    assert hawthorn["Distance to recognition"] == f"{HAWTHORN_ZH}: meets every criterion"
    # the same words as gap_lines gives for the warehouse's eval_gap
    gap = read_table(warehouse, "eval_gap")
    names = {GLASS: GLASS_ZH, HAWTHORN: HAWTHORN_ZH}
    assert [x for r in rows for x in (r["认定差距"], r["Distance to recognition"])] == \
        gap_lines(gap, names, "municipal_yuncheng", YEAR)
    # the numbers: counts as they are, money in 万元, shares as fractions shown as %
    assert glass["专业镇名称"] == GLASS_ZH and glass["年度"] == YEAR
    assert glass["未达标指标数"] == 2 and hawthorn["未达标指标数"] == 0
    assert (glass["关联配套企业数·指标值(家)"], glass["关联配套企业数·门槛(家)"],
            glass["关联配套企业数·差距(家)"], glass["关联配套企业数·是否达标"]) == (7, 10, 3, "否")
    assert (glass["总产值·指标值(万元)"], glass["总产值·门槛(万元)"], glass["总产值·差距(万元)"],
            glass["总产值·是否达标"]) == (38000, 50000, 12000, "否")
    assert (glass["全省市场占有率·指标值(%)"], glass["全省市场占有率·门槛(%)"],
            glass["全省市场占有率·差距(%)"], glass["全省市场占有率·是否达标"]) == (0.62, None, 0, "是")
    assert (glass["龙头企业数·是否达标"], glass["从业人员期末人数·指标值(人)"]) == ("是", 2500)
    assert hawthorn["全省市场占有率·门槛(%)"] == 0.5
    hdr = [c.value for c in ws[HEADER_ROW]]
    cell = ws.cell(HEADER_ROW + 1, hdr.index("总产值·差距(万元)") + 1)
    assert cell.number_format == "#,##0.00"
    assert ws.cell(HEADER_ROW + 1, hdr.index("全省市场占有率·指标值(%)") + 1).number_format == "0.00%"


def test_targets_and_progress_with_laggards_in_light_red(book):
    ws = book[TARGET_SHEET]
    assert "2025" in ws["A1"].value and "2023、2024、2025" in ws["A2"].value
    rows = _rows(ws)
    assert [(r["年度"], r["乡镇/专业镇"], r["指标"]) for r in rows] == [
        (2023, f"{HAWTHORN} {HAWTHORN_ZH}", "关联配套企业数"), (2024, f"{GLASS} {GLASS_ZH}", "总产值"),
        (2024, f"{TONGCHENG} 桐城镇", "参保人数"), (2025, f"{TONGCHENG} 桐城镇", "税收合计"),
        (2025, f"{DONGZHEN} 东镇", "税收合计")]  # no 2026
    hawthorn, glass, insured, behind, on_track = rows
    assert behind == {
        "年度": 2025, "乡镇/专业镇": f"{TONGCHENG} 桐城镇", "层级": "乡镇", "指标": "税收合计", "单位": "万元",
        "目标值": 1200, "实际值": None, "完成率": pytest.approx(0.2), "最新所属期": "2025-03",
        "本年累计": 240, "按进度应达": 300, "上年同期": 200, "累计同比": pytest.approx(0.2),
        "状态": "进度落后", "是否落后": "是"}
    assert (on_track["本年累计"], on_track["按进度应达"],
            on_track["完成率"], on_track["累计同比"], on_track["状态"], on_track["是否落后"]) == \
        ( 250, 200, pytest.approx(0.3125), pytest.approx(0.25), "进度正常", "否")
    assert (glass["层级"], glass["单位"], glass["目标值"], glass["实际值"],
            glass["完成率"], glass["状态"], glass["是否落后"]) == \
        ("专业镇", "万元", 50000, 38000, pytest.approx(0.76), "未达标", "是")
    assert (insured["单位"], insured["目标值"], insured["实际值"], insured["完成率"], insured["状态"],
            insured["按进度应达"]) == ("人", 1000, 1100, pytest.approx(1.1), "已达标", None)
    assert (hawthorn["单位"], hawthorn["状态"]) == ("家", "已达标")
    hdr = [c.value for c in ws[HEADER_ROW]]
    assert ws.cell(HEADER_ROW + 1, hdr.index("完成率") + 1).number_format == "0.00%"
    # the laggards' rows (未达标, 进度落后) on the light red fill, every cell; the others not
    for i, r in enumerate(rows, start=HEADER_ROW + 1):
        fills = {(c.fill.patternType, c.fill.fgColor.rgb) for c in ws[i]}
        if r["是否落后"] == "是":
            assert fills == {("solid", LIGHT_RED)}, r
        else:
            assert all(p is None for p, _ in fills), r


def test_missing_reports_of_the_year(book):
    ws = book[MISSING_SHEET]
    assert "内部" in ws["A1"].value and "上年报送、本年未报送年报" in ws["A1"].value
    rows = _rows(ws)
    assert rows == [{"年度": YEAR, "统一社会信用代码": USCC, "企业名称（上年年报）": "闻喜测试玻璃制品有限公司",
                     "乡镇": "140823100 桐城镇", "所属专业镇": f"{GLASS_ZH}；{HAWTHORN_ZH}",
                     "2023年工业总产值(万元)": 5678}]


def test_an_older_warehouse_without_gap_and_target_tables(tmp_path):
    """No eval_gap or eval_target table: the gap is computed as eval_gap is, the targets
    sheet says there are none; an empty dq_flag gives the missing sheet its note."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    publish(url, {n: f for n, f in _tables().items() if n not in ("eval_gap", "eval_target", "dq_flag")}
            | {"dq_flag": _frame("dq_flag", [])})
    wb = openpyxl.load_workbook(write_evaluation_workbook(url, YEAR, tmp_path / "old.xlsx"))
    ws = wb[TARGET_SHEET]
    assert ws.cell(HEADER_ROW - 1, 1).value == NO_TARGETS
    assert [c.value for c in ws[HEADER_ROW]][:4] == ["年度", "乡镇/专业镇", "层级", "指标"]
    assert ws.max_row == HEADER_ROW
    assert wb[MISSING_SHEET].cell(HEADER_ROW - 1, 1).value == "无未报企业 / every enterprise reported"
    rows = _rows(wb[GAP_SHEET])
    names = {GLASS: GLASS_ZH, HAWTHORN: HAWTHORN_ZH}
    ind = read_table(url, "ind_specialty_town_year")
    gap = gap_table(ind, read_table(url, "dim_specialty_town"), load_criteria_sets())
    sets = {s.name: s.name_zh for s in load_criteria_sets()}
    expected = [x for name in sorted(sets) for sid in (GLASS, HAWTHORN)
                for x in gap_lines(gap.filter(pl.col("specialty_town_id") == sid)
                                   .sort("indicator"), names, name, YEAR)]
    assert [x for r in rows for x in (r["认定差距"], r["Distance to recognition"])] == expected
    # under the municipal set, the same words as the hand-made eval_gap
    municipal = [r for r in rows if r["标准集"] == SET_ZH]
    assert municipal[0]["认定差距"] == f"{GLASS_ZH}：还差 3 家关联配套企业、总产值还差 1.20 亿元"
    assert municipal[1]["认定差距"] == f"{HAWTHORN_ZH}：已全部达标"


def test_frames_without_gap_and_targets(warehouse, tmp_path):
    """The pipeline's frames (no eval_gap, no eval_target): the same gap words, no targets."""
    frames = {n: read_table(warehouse, n) for n in _tables() if n not in ("eval_gap", "eval_target")}
    wb = openpyxl.load_workbook(write_evaluation_workbook(frames, YEAR, tmp_path / "f.xlsx"))
    assert wb[TARGET_SHEET].cell(HEADER_ROW - 1, 1).value == NO_TARGETS
    municipal = [r for r in _rows(wb[GAP_SHEET]) if r["标准集"] == SET_ZH]
    assert [r["认定差距"] for r in municipal] == [
        f"{GLASS_ZH}：还差 3 家关联配套企业、总产值还差 1.20 亿元", f"{HAWTHORN_ZH}：已全部达标"]
    assert _rows(wb[MISSING_SHEET])[0]["统一社会信用代码"] == USCC
