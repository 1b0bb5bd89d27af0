"""The evaluation workbook, opened with openpyxl and checked against the warehouse."""

from __future__ import annotations

import datetime as dt

import openpyxl
import polars as pl
import pytest

from pipelines.evaluation.criteria import load_criteria_sets
from pipelines.evaluation.gap import gap_lines
from pipelines.evaluation.progress import progress_frame
from pipelines.reports.quality_report import missing_reports
from pipelines.reports.tables import table_reader
from pipelines.reports.workbook import HEADER_ROW, NO_TARGETS, write_evaluation_workbook
from pipelines.warehouse import read_table

YEAR = 2024


@pytest.fixture(scope="module")
def workbook(county_url, tmp_path_factory):
    out = write_evaluation_workbook(county_url, YEAR, tmp_path_factory.mktemp("wb") / "eval.xlsx")
    return county_url, openpyxl.load_workbook(out)


def _rows(ws) -> list[dict]:
    headers = [c.value for c in ws[HEADER_ROW]]
    return [dict(zip(headers, r, strict=True))
            for r in ws.iter_rows(min_row=HEADER_ROW + 1, values_only=True)]


def _expected_scores(url: str) -> pl.DataFrame:
    """Score and rank recomputed from eval_criterion and dim_specialty_town (contract 6)."""
    crit = read_table(url, "eval_criterion").filter(pl.col("year") == YEAR)
    nat = dict(read_table(url, "dim_specialty_town").select("id", "national_market").iter_rows())
    rows = []
    for (cs, sid), part in crit.group_by(["criteria_set", "specialty_town_id"]):
        num = den = 0.0
        for r in part.iter_rows(named=True):
            if r["criterion"] == "market" and nat[sid]:
                ratio = 1.0
            elif r["value"] is None:
                ratio = 0.0
            else:
                ratio = r["value"] / r["threshold"]
            num += r["weight"] * min(ratio, 1.5)
            den += 1.5 * r["weight"]
        rows.append({"criteria_set": cs, "specialty_town_id": sid, "score": 100 * num / den})
    df = pl.DataFrame(rows)
    return df.with_columns(pl.col("score").round(6).rank("min", descending=True)
                           .over("criteria_set").cast(pl.Int64).alias("rank"))


def test_sheets_and_layout(workbook):
    _, wb = workbook
    assert wb.sheetnames[-3:] == ["乡镇指标", "专业镇指标", "说明"]
    assert wb.sheetnames[-6:-3] == ["认定差距", "目标进度", "未报企业"]
    assert len(wb.sheetnames) == 8  # two criteria sets
    for ws in wb.worksheets[:-1]:
        assert ws.freeze_panes == f"A{HEADER_ROW + 1}", ws.title
        assert ws.cell(HEADER_ROW, 1).value in ("专业镇编号", "年度")
        # widths fit: the name column is wider than Excel's default 8.43
        assert ws.column_dimensions["B"].width > 9 or ws.column_dimensions["C"].width > 9


def test_evaluation_sheet_scores_and_ranks(workbook):
    url, wb = workbook
    expected = _expected_scores(url).filter(pl.col("criteria_set") == "municipal_yuncheng")
    names = dict(read_table(url, "dim_specialty_town").select("id", "name").iter_rows())
    ws = wb["运城市重点专业镇认定标准"]
    assert "municipal_yuncheng" in ws["A1"].value and str(YEAR) in ws["A1"].value
    rows = _rows(ws)
    assert len(rows) == expected.height == 3
    for row in rows:
        e = expected.filter(pl.col("specialty_town_id") == row["专业镇编号"]).row(0, named=True)
        assert row["专业镇名称"] == names[row["专业镇编号"]]
        assert row["综合得分(0-100)"] == pytest.approx(e["score"], abs=1e-9)
        assert row["排名"] == e["rank"]
    # each criterion's value, threshold and flag; money in 万元
    crit = read_table(url, "eval_criterion").filter(
        (pl.col("year") == YEAR) & (pl.col("criteria_set") == "municipal_yuncheng"))
    first = rows[0]
    scale = crit.filter((pl.col("specialty_town_id") == first["专业镇编号"]) &
                        (pl.col("criterion") == "scale")).row(0, named=True)
    assert first["规模相对较大·指标值(万元)"] == pytest.approx(scale["value"] / 10000)
    assert first["规模相对较大·门槛(万元)"] == pytest.approx(scale["threshold"] / 10000)
    assert first["规模相对较大·是否达标"] == ("是" if scale["met"] else "否")
    hdr = [c.value for c in ws[HEADER_ROW]]
    money_cell = ws.cell(HEADER_ROW + 1, hdr.index("规模相对较大·指标值(万元)") + 1)
    assert money_cell.number_format == "#,##0.00"


def test_town_sheet_is_the_published_table_in_wan_yuan(workbook):
    url, wb = workbook
    pub = read_table(url, "pub_town_year").filter(pl.col("year") <= YEAR)
    towns = dict(read_table(url, "dim_town").select("town_code", "town_name").iter_rows())
    rows = _rows(wb["乡镇指标"])
    assert len(rows) == pub.height
    got = {(r["年度"], r["乡镇代码"]): r for r in rows}
    for p in pub.iter_rows(named=True):
        r = got[(p["year"], p["town_code"])]
        assert r["乡镇名称"] == towns[p["town_code"]]
        assert r["企业数(家)"] == p["enterprises"]
        if p["output_value"] is None:
            assert r["工业总产值(万元)"] is None  # suppressed stays blank
        else:
            assert r["工业总产值(万元)"] == pytest.approx(p["output_value"] / 10000)
    r = got[(YEAR, "140823100")]
    assert r["乡镇名称"] == "桐城镇"
    suppressed = pub.filter(pl.col("suppressed") != "").row(0, named=True)
    assert got[(suppressed["year"], suppressed["town_code"])]["披露控制不公开的项"]


def test_specialty_sheet_and_notes(workbook):
    url, wb = workbook
    ind = read_table(url, "ind_specialty_town_year").filter(pl.col("year") <= YEAR)
    rows = _rows(wb["专业镇指标"])
    assert len(rows) == ind.height
    e = ind.filter((pl.col("year") == YEAR) & (pl.col("specialty_town_id") == "140823-01")).row(0, named=True)
    r = next(x for x in rows if x["年度"] == YEAR and x["专业镇编号"] == "140823-01")
    assert r["总产值(万元)"] == pytest.approx(e["output_value"] / 10000)
    assert r["龙头企业数(家)"] == e["leading_enterprises"]
    notes = {row[0]: row[1] for row in wb["说明"].iter_rows(min_row=3, values_only=True) if row[0]}
    mtime = read_table(url, "dq_file")["mtime"].max().astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert mtime.strftime("%Y-%m-%d %H:%M") in notes["数据日期"]
    assert any(k.startswith("来源：") for k in notes)


def test_gap_targets_and_missing_reports_sheets(workbook):
    """认定差距 says what gap_lines says for the warehouse's eval_gap; 目标进度 has every
    eval_target row up to YEAR + 1 (or the no-targets note when there are none), laggards on
    the light red fill; 未报企业 the report_missing flags of YEAR."""
    url, wb = workbook
    gap = read_table(url, "eval_gap").filter(pl.col("year") == YEAR)
    names = dict(read_table(url, "dim_specialty_town").select("id", "name").iter_rows())
    rows = _rows(wb["认定差距"])
    expected = [x for s in sorted(gap["criteria_set"].unique().to_list())
                for x in gap_lines(gap, names, s, YEAR)]
    assert len(expected) == 2 * len(rows) == 2 * gap.select("criteria_set", "specialty_town_id").n_unique()
    assert [x for r in rows for x in (r["认定差距"], r["Distance to recognition"])] == expected
    code = {cs.name_zh or cs.name: cs.name for cs in load_criteria_sets()}
    for r in rows:  # the numbers beside the words: output value and its shortfall in 万元
        e = gap.filter((pl.col("criteria_set") == code[r["标准集"]]) & (pl.col("indicator") == "output_value")
                       & (pl.col("specialty_town_id") == r["专业镇编号"])).row(0, named=True)
        assert r["总产值·指标值(万元)"] == pytest.approx(e["value"] / 10000)
        assert r["总产值·差距(万元)"] == pytest.approx(e["shortfall"] / 10000)
        assert r["总产值·是否达标"] == ("是" if e["met"] else "否")

    targets = read_table(url, "eval_target").filter(pl.col("year") <= YEAR + 1)
    ws = wb["目标进度"]
    rows = _rows(ws)
    assert len(rows) == targets.height
    if targets.is_empty():
        assert ws.cell(HEADER_ROW - 1, 1).value == NO_TARGETS
    else:
        progress = progress_frame(targets)
        assert sorted(r["是否落后"] == "是" for r in rows) == sorted(progress["laggard"].to_list())
        for i, r in enumerate(rows, start=HEADER_ROW + 1):
            fill = ws.cell(i, 1).fill
            assert (fill.fgColor.rgb == "FFFFC7CE") == (r["是否落后"] == "是"), r

    read = table_reader(url)
    missing = missing_reports(read("dq_flag"), read("fact_enterprise_year"), read) \
        .filter(pl.col("year") == YEAR)
    rows = _rows(wb["未报企业"])
    assert missing.height > 0
    assert [r["统一社会信用代码"] for r in rows] == missing["uscc"].to_list()
    first = missing.row(0, named=True)
    assert rows[0]["企业名称（上年年报）"] == first["name"]
    assert rows[0][f"{YEAR - 1}年工业总产值(万元)"] == pytest.approx(first["output_value"] / 10000)
