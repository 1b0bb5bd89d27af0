"""`townstat targets` (pipelines/cli.py, pipelines/evaluation/target_terminal.py): the progress
towards a year's targets, printed from a really refreshed warehouse, values worked out by hand;
exit codes 0/1/2; the template written from the warehouse.

The raw area: two Wenxi towns, A 桐城镇 and B 郭家庄镇; a specialty town, glass (hosted by A,
core industry 3054); enterprise reports for 2024 only (u1 in A, u2 in B, both 3054, so glass's
2024 members, and its 2025 members, are u1); tax and enrolment rows for 2024 and 2025.

    tax (yuan)   2024-01  2024-02  2024-03  2024-06   2025-01  2025-02  2025-03
    u1 (A)       100,000   50,000   30,000  200,000   120,000   60,000   40,000
    u2 (B)        20,000                                5,000
    enrolled     2024-02: u1 p1 p2                     2025-02: u1 p1 p2 p3, u2 p4

2025 (tax to 2025-03: 3/12 of a year's target is due; enrolment to 2025-02):
    A tax_total target 1,200,000 (120.00 万元): Jan-Mar 220,000 (22.00 万元) < 300,000 due:
      进度落后; 完成率 220/1200 = 18.3%; 累计同比 220,000 / 180,000 - 1 = +22.2%
    B tax_total target 12,000 (1.20 万元): 5,000 (0.50 万元) >= 3,000 due: 进度正常;
      41.7%; 5,000 / 20,000 - 1 = -75.0%
    A insured_persons target 4: 3 enrolled in 2025-02 < 4: 进度落后; 75.0%; 3 / 2 - 1 = +50.0%
    glass tax_total target 1,000,000 (100.00 万元): u1 220,000 (22.00 万元) < 250,000: 进度落后;
      22.0%; +22.2%
    glass output_value target 5e8 (50,000.00 万元): no 2025 report: 暂无数据
2024 (the year's indicators exist):
    A output_value target 800,000 (80.00 万元): actual 1,000,000 (100.00 万元): 已达标, 125.0%
    B tax_total target 30,000 (3.00 万元): actual 20,000 (2.00 万元): 未达标, 66.7%
One more targets row, an unknown town code, is rejected (unknown_town).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines import cli
from pipelines.evaluation.target_template import DATA_SHEET
from pipelines.evaluation.targets import SCHEMA
from pipelines.reference import shipped_towns
from pipelines.refresh import run_refresh
from pipelines.warehouse import publish
from tests.ingest.rawfiles import GUOJIAZHUANG, TONGCHENG, person, uscc, write_csv

A, B = TONGCHENG, GUOJIAZHUANG
U1, U2 = uscc(1), uscc(2)
PERSONS = [person(i) for i in range(1, 5)]
HEADERS = ["层级", "名称", "指标", "目标", "完成值", "完成率", "累计同比", "状态"]


def _raw_area(root: Path) -> Path:
    write_csv(root / "reference" / "specialty_towns.csv", [
        "id,name,county_code,host_town_codes,category,heritage,national_market,core_industry_codes,"
        "supporting_industry_codes",
        f"glass,玻璃器皿专业镇,140823,{A},manufacturing,否,否,3054,",
    ])
    write_csv(root / "enterprise" / "2024.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数",
        f"2024,{U1},甲玻璃厂,{A},3054,1000000,1000000,10",
        f"2024,{U2},乙玻璃厂,{B},3054,500000,500000,10",
    ])
    write_csv(root / "registry" / "registry.csv", [
        "统一社会信用代码,名称,市场主体类型,乡镇代码,行业代码,成立日期",
        f"{U1},甲玻璃厂,enterprise,{A},3054,2010-01-01",
        f"{U2},乙玻璃厂,enterprise,{B},3054,2010-01-01",
    ])
    write_csv(root / "tax" / "tax.csv", [
        "所属期,统一社会信用代码,税收合计",
        f"2024-01,{U1},100000", f"2024-02,{U1},50000", f"2024-03,{U1},30000", f"2024-06,{U1},200000",
        f"2024-01,{U2},20000",
        f"2025-01,{U1},120000", f"2025-02,{U1},60000", f"2025-03,{U1},40000", f"2025-01,{U2},5000",
    ])
    p1, p2, p3, p4 = PERSONS
    write_csv(root / "employment" / "enrolment.csv", [
        "所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码",
        f"2024-02,{p1},{U1},140823", f"2024-02,{p2},{U1},140823",
        f"2025-02,{p1},{U1},140823", f"2025-02,{p2},{U1},140823", f"2025-02,{p3},{U1},140823",
        f"2025-02,{p4},{U2},140823",
    ])
    write_csv(root / "reference" / "targets.csv", [
        "层级,编号,年度,指标,目标值",
        f"乡镇,{A},2025,tax_total,1200000",
        f"乡镇,{B},2025,tax_total,12000",
        f"乡镇,{A},2025,insured_persons,4",
        "专业镇,glass,2025,tax_total,1000000",
        "专业镇,glass,2025,output_value,500000000",
        f"乡镇,{A},2024,output_value,800000",
        f"乡镇,{B},2024,tax_total,30000",
        "乡镇,140823999,2025,tax_total,1",  # unknown_town
    ])
    return root


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> tuple[str, Path]:
    base = tmp_path_factory.mktemp("targets_cli")
    raw = _raw_area(base / "raw")
    url = f"sqlite:///{base / 'warehouse.sqlite'}"
    outcome = run_refresh(raw, url, cache_dir=str(base / "cache"))
    assert outcome.published, outcome.summary_text()
    return url, raw


def width(text: str) -> int:
    """Terminal columns, computed here independently of the renderer."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["targets", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def table_rows(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    header = next(ln for ln in lines if ln.startswith("|") and "完成率" in ln and "状态" in ln)
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns == HEADERS  # Chinese, the level and name first
    start = lines.index(header) + 2  # below the === rule
    rows = []
    for ln in lines[start:]:
        if ln.startswith("+"):
            break
        rows.append(dict(zip(columns, [c.strip() for c in ln.strip("|").split("|")], strict=True)))
    return rows


def test_progress_of_2025(refreshed, capsys):
    url, raw = refreshed
    code, out, _ = run(capsys, "--year", "2025", "--warehouse", url, "--raw", str(raw))
    assert code == 0
    rows = {(r["名称"], r["指标"]): r for r in table_rows(out)}
    assert len(rows) == 5
    expected = {
        ("桐城镇", "税收合计(万元)"): ("乡镇", "120.00", "22.00 (截至 2025-03)", "18.3%", "+22.2%", "进度落后"),
        ("郭家庄镇", "税收合计(万元)"): ("乡镇", "1.20", "0.50 (截至 2025-03)", "41.7%", "-75.0%", "进度正常"),
        ("桐城镇", "参保人数(人)"): ("乡镇", "4", "3 (截至 2025-02)", "75.0%", "+50.0%", "进度落后"),
        ("玻璃器皿专业镇", "税收合计(万元)"): ("专业镇", "100.00", "22.00 (截至 2025-03)", "22.0%", "+22.2%",
                                          "进度落后"),
        ("玻璃器皿专业镇", "总产值(万元)"): ("专业镇", "50,000.00", "-", "-", "-", "暂无数据"),
    }
    for key, (level, target, reached, completion, yoy, status) in expected.items():
        r = rows[key]
        assert (r["层级"], r["目标"], r["完成值"], r["完成率"], r["累计同比"], r["状态"]) == \
            (level, target, reached, completion, yoy, status), key
    assert "共 5 项目标，已达标 0，落后 3（未达标 0、进度落后 3），进度正常 1，暂无数据 1。" in out
    flat = out.replace("\n", "").replace("|", "").replace(" ", "")
    for needle in ("时间进度：税收截至2025-03，应完成全年目标的3/12=25.0%。",
                   "税收数据截至2025-03，参保数据截至2025-02",
                   "目标文件reference/targets.csv：读入8行，采用7行，拒收1行",
                   "金额单位万元", "内部资料", "5targets,0met,3lagging"):
        assert needle in flat, needle
    assert re.search(r"数据截至 \d{4}-\d{2}-\d{2} \d{2}:\d{2}", out)  # the data date


def test_progress_of_2024_and_one_level(refreshed, capsys):
    url, raw = refreshed
    code, out, _ = run(capsys, "--year", "2024", "--warehouse", url)
    assert code == 0
    rows = {(r["名称"], r["指标"]): r for r in table_rows(out)}
    assert len(rows) == 2
    a = rows[("桐城镇", "工业总产值(万元)")]
    assert (a["目标"], a["完成值"], a["完成率"], a["状态"]) == ("80.00", "100.00", "125.0%", "已达标")
    b = rows[("郭家庄镇", "税收合计(万元)")]
    assert (b["目标"], b["完成值"], b["完成率"], b["状态"]) == ("3.00", "2.00", "66.7%", "未达标")
    assert "共 2 项目标，已达标 1，落后 1（未达标 1、进度落后 0）" in out
    assert "时间进度：" not in out  # every tax target of 2024 has its year's value

    code, out, _ = run(capsys, "--year", "2025", "--level", "specialty_town", "--warehouse", url)
    assert code == 0
    assert {r["层级"] for r in table_rows(out)} == {"专业镇"} and len(table_rows(out)) == 2
    code, out, _ = run(capsys, "--year", "2025", "--level", "乡镇", "--warehouse", url)
    assert code == 0 and {r["层级"] for r in table_rows(out)} == {"乡镇"}
    # 2024 has no specialty-town target: exit 1, said plainly
    code, out, _ = run(capsys, "--year", "2024", "--level", "specialty_town", "--warehouse", url)
    assert code == 1 and "2024 年没有专业镇年度目标" in out


def test_block_is_aligned_and_shows_no_person_id(refreshed, capsys):
    url, _raw = refreshed
    for year in ("2024", "2025"):
        code, out, err = run(capsys, "--year", year, "--warehouse", url)
        assert code == 0
        lines = out.rstrip("\n").splitlines()
        assert len({width(ln) for ln in lines}) == 1
        assert not [ch for ch in out if unicodedata.east_asian_width(ch) == "A"]
        for p in PERSONS:
            assert p not in out and p not in err
        assert not re.search(r"(?<!\d)\d{17}[\dXx](?!\d)", out + err)


def test_no_targets_for_the_year_exit_1(refreshed, capsys, tmp_path):
    url, raw = refreshed
    code, out, _ = run(capsys, "--year", "2023", "--warehouse", url, "--raw", str(raw))
    assert code == 1
    assert "2023 年没有年度目标" in out and "2024、2025" in out
    assert f"{raw}/reference/targets.csv" in out and "--template" in out
    # no warehouse at all: exit 1, and no warehouse file is created by asking
    missing = tmp_path / "none" / "w.sqlite"
    code, out, _ = run(capsys, "--year", "2025", "--warehouse", f"sqlite:///{missing}")
    assert code == 1 and "尚未刷新" in out and "targets.csv" in out
    assert not missing.exists()


def test_bad_arguments_exit_2(refreshed, capsys, tmp_path):
    url, raw = refreshed
    for args in (
        [],  # no --year
        ["--year", "twenty"],
        ["--year", "2025", "--level", "county"],
        ["--year", "2025", "--out", str(tmp_path / "x.xlsx")],  # --out without --template
        ["--template"],  # no --out
        ["--template", "--out", str(tmp_path / "targets.csv")],  # not an xlsx
        ["--template", "--out", str(tmp_path / "t.xlsx"), "--level", "town"],
        # the empty template straight into the raw area would wipe the targets in force
        ["--template", "--out", str(raw / "reference" / "targets.xlsx"), "--raw", str(raw)],
    ):
        code, _out, _err = run(capsys, *args, "--warehouse", url)
        assert code == 2, args
    assert not (raw / "reference" / "targets.xlsx").exists()


def test_template_from_the_warehouse(refreshed, capsys, tmp_path):
    url, raw = refreshed
    out_file = tmp_path / "filled" / "targets.xlsx"
    code, out, _ = run(capsys, "--template", "--out", str(out_file), "--year", "2026", "--warehouse", url,
                       "--raw", str(raw))
    assert code == 0 and out_file.is_file()
    assert "dim_town" in out and f"{raw}/reference/targets.xlsx" in out
    wb = openpyxl.load_workbook(out_file)
    kinds = {dv.type for dv in wb[DATA_SHEET].data_validations.dataValidation}
    assert kinds == {"list", "whole", "decimal"}
    lists = wb["代码表"]
    ids = [r[0] for r in lists.iter_rows(min_row=2, max_col=1, values_only=True) if r[0]]
    assert ids[0] == "glass" and A in ids and B in ids


@pytest.fixture(params=["sqlite", "postgresql"])
def published(request, tmp_path) -> str:
    """Hand-made eval_target, dim_town and dim_specialty_town, published as a refresh would."""
    url = (f"sqlite:///{tmp_path / 'w.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    # level, id, year, indicator, target, actual, attainment, met, latest_period, to_date, to_date_prev
    et = pl.DataFrame([
        ("specialty_town", "glass", 2025, "market_share", 0.125, 0.15, 1.2, True, None, None, None),
        ("specialty_town", "glass", 2025, "leading_enterprises", 3.0, 2.0, 2 / 3, False, None, None, None),
        ("town", A, 2025, "rd_intensity", 0.025, None, None, False, None, None, None),
        ("town", A, 2025, "tax_total", 123_456_789.0, None, None, False, "2025-09", 98_765_432.1, 80_000_000.0),
    ], schema=SCHEMA, orient="row")
    clear_id = PERSONS[0]
    dims = pl.DataFrame([{
        "id": "glass", "name": f"玻璃{clear_id}专业镇", "county_code": "140823", "host_town_codes": A,
        "category": "manufacturing", "heritage": False, "national_market": False,
        "core_industry_codes": "3054", "supporting_industry_codes": "",
    }])
    publish(url, {"eval_target": et, "dim_town": shipped_towns().filter(pl.col("county_code") == "140823"),
                  "dim_specialty_town": dims})
    return url


def test_ratios_counts_and_large_money(published, capsys):
    code, out, _ = run(capsys, "--year", "2025", "--warehouse", published)
    assert code == 0
    rows = {r["指标"]: r for r in table_rows(out)}
    share = rows["全省市场占有率"]  # a ratio: the target and actual as percentages
    assert (share["目标"], share["完成值"], share["完成率"], share["状态"]) == ("12.50%", "15.00%", "120.0%", "已达标")
    leading = rows["龙头企业数(家)"]
    assert (leading["目标"], leading["完成值"], leading["完成率"], leading["状态"]) == ("3", "2", "66.7%", "未达标")
    rd = rows["研发投入强度"]
    assert (rd["目标"], rd["完成值"], rd["状态"]) == ("2.50%", "-", "暂无数据")
    tax = rows["税收合计(万元)"]
    # 123,456,789 yuan = 12,345.68 万元; 98,765,432.10 = 9,876.54 万元 by 2025-09; 9/12 due:
    # 92,592,591.75 <= 98,765,432.10: on track; 98,765,432.1 / 123,456,789 = 80.0%;
    # 98,765,432.1 / 80,000,000 - 1 = +23.5%
    assert (tax["目标"], tax["完成值"], tax["完成率"], tax["累计同比"], tax["状态"]) == \
        ("12,345.68", "9,876.54 (截至 2025-09)", "80.0%", "+23.5%", "进度正常")
    assert "9/12 = 75.0%" in out
    # a person ID pasted into a name is masked like every echo
    assert PERSONS[0] not in out and "玻璃***专业镇" in out
    assert "数据时间未知" in out  # no dq_file: the date is not made up
