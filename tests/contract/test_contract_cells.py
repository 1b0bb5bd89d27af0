"""Reading raw files (contract sections 1 and 2): the 亿元 unit, every boolean spelling, the
tech-centre level 无, duplicate keys among rows that break other rules too, a year after the
current year, 总计 / 合计 total rows, the three-known-names header rule, 8-digit numbers in
xlsx cells, numeric industry codes padded to 4 digits."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "indicators"))
from synthetic_facts import employment_frame, registry_frame, tax_frame, towns_frame  # noqa: E402

from pipelines.indicators import town_year  # noqa: E402
from pipelines.ingest.cells import current_year  # noqa: E402
from pipelines.ingest.inventory import scan_raw_area  # noqa: E402
from pipelines.ingest.references import read_references  # noqa: E402
from tests.ingest.rawfiles import (  # noqa: E402
    TONGCHENG,
    ingest,
    only,
    rejected,
    uscc,
    write_csv,
    write_xlsx,
)

ENT = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数"


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    monkeypatch.setenv("TOWNSTAT_INGEST_WORKERS", "1")  # no process pool for a few small files


def _values(res, column: str) -> dict[str, object]:
    return dict(res.current.select("uscc", column).iter_rows())


# ------------------------------------------------------------------------------ units
def test_yi_yuan_unit_in_a_header_and_in_a_title_row(tmp_path):
    write_csv(tmp_path / "enterprise" / "header.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(亿元),营业收入（亿元）,从业人员期末人数,研发费用",
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,1.23456789,0.2,10,0.015",  # 研发费用 without unit: 万元
    ])
    write_csv(tmp_path / "enterprise" / "title.csv", [
        "2024年规模以上工业企业年报,,,,,,,",
        "单位：亿元,,,,,,,",
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值,营业收入,从业人员期末人数",
        f"2024,{uscc(2)},乙,{TONGCHENG},3054,\"1,234.5\",0.0000001,10",
    ])
    write_csv(tmp_path / "tax" / "t.csv", [
        "所属期,纳税人识别号,增值税(亿元),企业所得税",  # tax without unit: 元
        f"2024-01,{uscc(3)},0.00012345,7",
    ])
    ent = ingest(tmp_path, "enterprise")
    a = only(ent.current, uscc=uscc(1))
    assert (a["output_value"], a["revenue"], a["rd_expenditure"]) == (123_456_789.0, 20_000_000.0, 150.0)
    assert a["above_scale"] is True  # C at exactly 20,000,000
    b = only(ent.current, uscc=uscc(2))
    assert (b["output_value"], b["revenue"]) == (123_450_000_000.0, 10.0)
    t = only(ingest(tmp_path, "tax").current, uscc=uscc(3))
    assert (t["vat"], t["corporate_income_tax"], t["total_tax"]) == (12_345.0, 7.0, 12_352.0)


# --------------------------------------------------------------------------- booleans
# (true, false) spellings of section 1, plus Excel's own TRUE / FALSE and capitalised words
BOOLEAN_PAIRS = [("是", "否"), ("有", "无"), ("Y", "N"), ("yes", "no"), ("true", "false"), ("1", "0"),
                 ("y", "n"), ("TRUE", "FALSE"), ("Yes", "No")]


def test_every_boolean_spelling_of_section_1(tmp_path):
    head = ENT + ",高新技术企业,专精特新,小巨人"
    lines, want = [head], {}
    for n, (t, f) in enumerate(BOOLEAN_PAIRS, 1):
        lines.append(f"2024,{uscc(n)},企{n},{TONGCHENG},3054,1,1,1,{t},{f},{t}")
        want[uscc(n)] = (True, False, True)
    n = len(BOOLEAN_PAIRS) + 1
    lines.append(f"2024,{uscc(n)},企{n},{TONGCHENG},3054,1,1,1,,-,无")  # blank (and blank markers): false
    want[uscc(n)] = (False, False, False)
    n += 1
    lines.append(f"2024,{uscc(n)},企{n},{TONGCHENG},3054,1,1,1,2,,")  # '2' is no boolean
    write_csv(tmp_path / "enterprise" / "e.csv", lines)
    res = ingest(tmp_path, "enterprise")
    got = {u: (h, s, g) for u, h, s, g in
           res.current.select("uscc", "high_tech", "specialized_sme", "little_giant").iter_rows()}
    assert got == want
    assert rejected(res) == {("enterprise/e.csv", n + 1, "high_tech", "value_invalid")}


def test_boolean_spellings_in_the_reference_files(tmp_path):
    write_csv(tmp_path / "reference" / "specialty_towns.csv", [
        "id,name,county_code,host_town_codes,category,heritage,national_market,core_industry_codes,supporting_industry_codes",
        "S1,甲,140823,,manufacturing,Y,no,3054,",
        "S2,乙,140823,,agriculture,有,,0171,",
        "S3,丙,140823,,light_industry,false,1,1751,",
    ])
    refs = read_references([f for f in scan_raw_area(tmp_path) if f.source == "reference"])
    got = {i: (h, m) for i, h, m in refs.specialty_towns.select("id", "heritage", "national_market").iter_rows()}
    assert got == {"S1": (True, False), "S2": (True, False), "S3": (False, True)}


# ----------------------------------------------------------------------------- levels
def test_tech_center_level_spellings_and_none(tmp_path):
    head = ENT + ",企业技术中心"
    cells = {1: ("无", "none"), 2: ("", "none"), 3: ("-", "none"), 4: ("市级", "municipal"),
             5: ("省级", "provincial"), 6: ("国家级", "national")}
    lines = [head] + [f"2024,{uscc(n)},企{n},{TONGCHENG},3054,1,1,1,{c}" for n, (c, _) in cells.items()]
    write_csv(tmp_path / "enterprise" / "e.csv", lines)
    res = ingest(tmp_path, "enterprise")
    assert rejected(res) == set()
    assert _values(res, "tech_center_level") == {uscc(n): v for n, (_, v) in cells.items()}

    ind = town_year(res.current, tax_frame([]), employment_frame([]), registry_frame([]), towns_frame([TONGCHENG]))
    assert ind.filter(year=2024)["tech_center_enterprises"].to_list() == [3]  # 无, blank and - are none


# ------------------------------------------------------------------------ duplicate keys
def test_duplicate_keys_among_rows_that_break_other_rules(tmp_path):
    lines = [
        ENT,
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,1,1,1",  # 2: duplicate of row 3
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,abc,1,1",  # 3: duplicate + value_invalid
        f"2024,{uscc(2)},乙,999999999,3054,1,1,1",  # 4: unknown_town + duplicate of row 5
        f"2024,{uscc(2)[:9]} {uscc(2)[9:].lower()},乙,{TONGCHENG},9999,1,1,1",  # 5: same key after normalising; industry_invalid
        f"2024,{uscc(3)},丙,{TONGCHENG},3054,1,1,1",  # 6: accepted: row 7's key is not valid
        f"20x4,{uscc(3)},丙,{TONGCHENG},3054,1,1,1",  # 7: value_invalid year only
        f"2023,{uscc(3)},丙,{TONGCHENG},3054,1,-5,1",  # 8: another year: out_of_range only
    ]
    write_csv(tmp_path / "enterprise" / "e.csv", lines)
    res = ingest(tmp_path, "enterprise")
    p = "enterprise/e.csv"
    assert rejected(res) == {
        (p, 2, "year;uscc", "duplicate_key"),
        (p, 3, "year;uscc", "duplicate_key"), (p, 3, "output_value", "value_invalid"),
        (p, 4, "year;uscc", "duplicate_key"), (p, 4, "town_code", "unknown_town"),
        (p, 5, "year;uscc", "duplicate_key"), (p, 5, "industry_code", "industry_invalid"),
        (p, 7, "year", "value_invalid"),
        (p, 8, "revenue", "out_of_range"),
    }
    o = res.outcomes[0]
    assert (o.rows_read, o.rows_loaded) == (7, 1)
    assert res.current.select("year", "uscc").rows() == [(2024, uscc(3))]


def test_duplicate_periods_after_normalising_with_another_rule_broken(tmp_path):
    write_csv(tmp_path / "tax" / "t.csv", [
        "所属期,纳税人识别号,增值税,企业所得税",
        f"2024-03,{uscc(1)},1,1",  # 2: duplicate of row 3 (202403 is 2024-03)
        f"202403,{uscc(1)},x,1",  # 3: duplicate + value_invalid
        f"2024年4月,{uscc(1)},1,1",  # 4: duplicate of row 5
        f"2024/04,{uscc(1)},1,—— ",  # 5: duplicate (a blank corporate tax breaks nothing)
        f"2024-05,{uscc(1)},1,1",  # 6: accepted: row 7's period is not valid
        f"2024-13,{uscc(1)},1,1",  # 7: value_invalid period only
    ])
    res = ingest(tmp_path, "tax")
    p = "tax/t.csv"
    assert rejected(res) == {
        (p, 2, "period;uscc", "duplicate_key"),
        (p, 3, "period;uscc", "duplicate_key"), (p, 3, "vat", "value_invalid"),
        (p, 4, "period;uscc", "duplicate_key"),
        (p, 5, "period;uscc", "duplicate_key"),
        (p, 7, "period", "value_invalid"),
    }
    assert res.current.select("period", "source_row").rows() == [("2024-05", 6)]


def test_a_text_period_with_an_impossible_day_is_value_invalid(tmp_path):
    write_csv(tmp_path / "tax" / "t.csv", [
        "所属期,纳税人识别号,增值税",
        f"2024-5-32,{uscc(1)},1",
        f"2024-02-30,{uscc(2)},1",
    ])
    res = ingest(tmp_path, "tax")
    assert rejected(res) == {("tax/t.csv", 2, "period", "value_invalid"),
                             ("tax/t.csv", 3, "period", "value_invalid")}


# ------------------------------------------------------------------------------ years
def test_a_year_after_the_current_year_is_out_of_range(tmp_path):
    now = current_year()
    assert now == dt.date.today().year
    write_csv(tmp_path / "enterprise" / "e.csv", [
        ENT,
        f"{now},{uscc(1)},甲,{TONGCHENG},3054,1,1,1",
        f"{now + 1},{uscc(2)},乙,{TONGCHENG},3054,1,1,1",
        f"2000,{uscc(3)},丙,{TONGCHENG},3054,1,1,1",
    ])
    write_csv(tmp_path / "tax" / "t.csv", [
        "所属期,纳税人识别号,增值税",
        f"{now}-12,{uscc(1)},1",
        f"{now + 1}-01,{uscc(2)},1",
        f"{now + 1}年1月,{uscc(3)},1",
        f"{now + 1}01,{uscc(4)},1",
    ])
    ent, tax = ingest(tmp_path, "enterprise"), ingest(tmp_path, "tax")
    assert rejected(ent) == {("enterprise/e.csv", 3, "year", "out_of_range")}
    assert sorted(ent.current["year"].to_list()) == [2000, now]
    assert rejected(tax) == {("tax/t.csv", r, "period", "out_of_range") for r in (3, 4, 5)}
    assert tax.current["period"].to_list() == [f"{now}-12"]


# ------------------------------------------------------------------------- total rows
def test_total_rows_are_skipped_and_not_counted(tmp_path):
    write_csv(tmp_path / "enterprise" / "e.csv", [
        "2024年报表",  # 1
        ENT,  # 2
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,10,10,1",  # 3
        ",,总计,,,10,10,1",  # 4 total: key columns blank
        f"2024,{uscc(2)},乙,{TONGCHENG},3054,20,20,2",  # 5
        ",,合计,,,30,30,3",  # 6 total
        f"2024,{uscc(3)},总计,{TONGCHENG},3054,30,30,3",  # 7 a firm named 总计: key filled, a data row
        ",,小计,,,30,30,3",  # 8 not a total word: a row with its keys missing
    ])
    write_csv(tmp_path / "tax" / "t.csv", [
        "所属期,纳税人识别号,增值税",
        f"2024-01,{uscc(1)},5",  # 2
        "总计,,5",  # 3 total: the word in the first (key) column, the other key blank
        f"2024-02,{uscc(1)},6",  # 4
    ])
    ent, tax = ingest(tmp_path, "enterprise"), ingest(tmp_path, "tax")
    p = "enterprise/e.csv"
    assert rejected(ent) == {(p, 8, c, "required_missing") for c in ("year", "uscc", "town_code", "industry_code")}
    assert (ent.outcomes[0].rows_read, ent.outcomes[0].rows_loaded) == (4, 3)
    assert dict(ent.current.select("uscc", "source_row").iter_rows()) == {uscc(1): 3, uscc(2): 5, uscc(3): 7}
    assert only(ent.current, uscc=uscc(3))["name"] == "总计"
    assert rejected(tax) == set()
    assert (tax.outcomes[0].rows_read, tax.outcomes[0].rows_loaded) == (2, 2)
    assert sorted(tax.current["source_row"].to_list()) == [2, 4]


# ------------------------------------------------------------------------ header rule
def test_a_row_with_two_known_names_is_not_the_header(tmp_path):
    write_csv(tmp_path / "tax" / "t.csv", [
        "所属期,2024年1月,纳税人识别号,见附表",  # 1: two known names (所属期, 纳税人识别号)
        "所属期,纳税人识别号,增值税,备注",  # 2: three known names: the header
        f"2024-01,{uscc(1)},100,甲",  # 3
        f"2024-02,{uscc(1)},200,乙",  # 4
    ])
    res = ingest(tmp_path, "tax")
    o = res.outcomes[0]
    assert (o.status, o.rows_read, o.rows_loaded) == ("loaded", 2, 2)
    assert rejected(res) == set()
    got = {(p, r): v for p, r, v in res.current.select("period", "source_row", "vat").iter_rows()}
    assert got == {("2024-01", 3): 100.0, ("2024-02", 4): 200.0}


def test_no_row_with_three_known_names_rejects_the_file(tmp_path):
    write_csv(tmp_path / "tax" / "t.csv", [
        "所属期,纳税人识别号,说明",  # two known names only
        f"2024-01,{uscc(1)},甲",
    ])
    write_csv(tmp_path / "tax" / "ok.csv", ["所属期,纳税人识别号,增值税", f"2024-01,{uscc(2)},1"])
    res = ingest(tmp_path, "tax")
    status = {o.file.relpath: (o.status, o.rows_loaded) for o in res.outcomes}
    assert status == {"tax/t.csv": ("rejected", 0), "tax/ok.csv": ("loaded", 1)}
    assert res.current["uscc"].to_list() == [uscc(2)]


# ------------------------------------------------------------------------- xlsx cells
def test_eight_digit_numbers_and_numeric_codes_in_xlsx_cells(tmp_path):
    write_xlsx(tmp_path / "registry" / "r.xlsx", [
        ["市场主体登记"],  # 1: title
        ["统一社会信用代码", "名称", "市场主体类型", "乡镇代码", "行业代码", "成立日期", "注销日期"],  # 2
        [uscc(1), "甲", "企业", 140823100, 133, 20240315, None],  # 3: numbers throughout
        [uscc(2), "乙", "个体工商户", 140823100000, 3054, 20200101, 20231231],  # 4: 12-digit town
        [uscc(3), "丙", "农民专业合作社", 140823101, 171, dt.date(2019, 5, 6), 20230229],  # 5: no 29 Feb 2023
    ])
    # (the period spellings of section 1 hold no 8-digit number: only date columns read one)
    write_xlsx(tmp_path / "tax" / "t.xlsx", [
        ["所属期", "纳税人识别号", "增值税", "税收合计"],
        [202403, uscc(1), 100, None],  # a period typed as a number
        ["2024年4月", uscc(2), 50.5, 60],
    ])
    reg = ingest(tmp_path, "registry")
    assert rejected(reg) == {("registry/r.xlsx", 5, "deregistered", "value_invalid")}
    got = {u: (t, i, e, d) for u, t, i, e, d in
           reg.current.select("uscc", "town_code", "industry_code", "established", "deregistered").iter_rows()}
    assert got == {
        uscc(1): ("140823100", "0133", dt.date(2024, 3, 15), None),
        uscc(2): ("140823100", "3054", dt.date(2020, 1, 1), dt.date(2023, 12, 31)),
    }
    tax = ingest(tmp_path, "tax")
    got = {u: (p, v, t) for u, p, v, t in tax.current.select("uscc", "period", "vat", "total_tax").iter_rows()}
    assert got == {uscc(1): ("2024-03", 100.0, 100.0), uscc(2): ("2024-04", 50.5, 60.0)}


def test_csv_industry_codes_padded_and_section_letters_dropped(tmp_path):
    lines = [ENT]
    cells = {1: ("133", "0133"), 2: ("171", "0171"), 3: ("C3054", "3054"), 4: ("c1713", "1713"),
             5: ("A0133", "0133"), 6: ("0171", "0171"), 7: ("511", "0511")}
    lines += [f"2024,{uscc(n)},企{n},{TONGCHENG},{c},1,1,1" for n, (c, _) in cells.items()]
    bad = {8: "13", 9: "305", 10: "30541", 11: "CC3054"}  # a division, a group, 5 digits, two letters
    lines += [f"2024,{uscc(n)},企{n},{TONGCHENG},{c},1,1,1" for n, c in bad.items()]
    write_csv(tmp_path / "enterprise" / "e.csv", lines)
    res = ingest(tmp_path, "enterprise")
    assert _values(res, "industry_code") == {uscc(n): v for n, (_, v) in cells.items()}
    assert rejected(res) == {("enterprise/e.csv", n + 1, "industry_code", "industry_invalid") for n in bad}


def test_total_rows_spelled_with_spaces_for_alignment(tmp_path):
    write_csv(tmp_path / "enterprise" / "e.csv", [
        ENT,
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,10,10,1",  # 2
        ",,合  计,,,10,10,1",  # 3
        ",,总\u3000计,,,10,10,1",  # 4
    ])
    ent = ingest(tmp_path, "enterprise")
    assert rejected(ent) == set()
    assert (ent.outcomes[0].rows_read, ent.outcomes[0].rows_loaded) == (1, 1)
