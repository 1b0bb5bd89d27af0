"""The county's goals through a real refresh (contract v4 sections 6.1, 6.2 and the report_missing
flag of section 8), on SQLite and PostgreSQL: a raw area written by hand, every eval_target and
eval_gap cell of it worked out by hand below.

Towns A (桐城镇 140823100) and B (郭家庄镇 140823101); one specialty town, glass, hosted by A,
core 3054, supporting 2231; u1 is its leading enterprise from 2020; the province's glass output
is 200,000,000 yuan in 2024 (none given for 2023). Reports for 2023 and 2024, none for 2025 (tax
January to March, enrolment January and February).

    reports         2023                     2024                       register
    u1 3054         A  out 40,000,000 e 100  A  out 50,000,000 e 120    B
    u2 3054         A  out 10,000,000 e 30   B  out  8,000,000 e 20     B
    u3 1713         -                        A  out  2,000,000 e 10     A
    u6 2231         -                        A  out  3,000,000 e 15     -
    u7 3054         A  out  7,000,000 e 25   - (stopped reporting)      A
    u4, u5          individual businesses, never report                 A, B

Town of a taxpayer/employer: 2023 u1 A, u2 A, u3 A, u4 A, u5 B, u7 A; 2024 u1 A, u2 B, u3 A,
u4 A, u5 B, u6 A, u7 A (register); 2025 (no reports: the register) u1 B, u2 B, u3 A, u4 A, u5 B,
u7 A. Glass members: 2023 u1, u2, u7; 2024 u1, u6; 2025 none reported, so those of 2024.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import polars as pl
import pytest

from pipelines.refresh import run_refresh
from pipelines.warehouse import read_table
from tests.ingest.rawfiles import person, uscc, write_csv

A, B = "140823100", "140823101"
U = {n: uscc(n) for n in (1, 2, 3, 4, 5, 6, 7)}
P = {n: person(n) for n in range(1, 9)}
KEY = "level;id;year;indicator"

ENTERPRISE = {
    2023: [(1, A, "3054", 40_000_000, 100), (2, A, "3054", 10_000_000, 30), (7, A, "3054", 7_000_000, 25)],
    2024: [(1, A, "3054", 50_000_000, 120), (2, B, "3054", 8_000_000, 20), (3, A, "1713", 2_000_000, 10),
           (6, A, "2231", 3_000_000, 15)],
}
TAX = [  # period, taxpayer, total_tax (blank: no part given, null)
    ("2023-01", 1, "100"), ("2023-02", 1, "50"), ("2023-03", 2, "30"), ("2023-04", 1, "1000"),
    ("2023-12", 4, "7"),
    ("2024-01", 1, "200"), ("2024-02", 2, "40"), ("2024-03", 3, "10"), ("2024-03", 4, "5"),
    ("2024-05", 7, "100"), ("2024-06", 1, "300"), ("2024-12", 5, "9"),
    ("2025-01", 1, "400"), ("2025-02", 2, "60"), ("2025-02", 4, ""), ("2025-03", 3, "20"),
]
ENROLMENT = [  # period, employer, person
    ("2023-12", 1, 1), ("2023-12", 2, 2),
    ("2024-02", 1, 8),
    ("2024-03", 1, 1), ("2024-03", 1, 2), ("2024-03", 2, 3), ("2024-03", 4, 4),
    ("2024-12", 1, 1), ("2024-12", 2, 3), ("2024-12", 1, 3), ("2024-12", 3, 5),
    ("2025-01", 1, 1),
    ("2025-02", 1, 1), ("2025-02", 1, 2), ("2025-02", 2, 6), ("2025-02", 4, 4), ("2025-02", 3, 7),
]
REGISTRY = [(1, B, "3054", "企业"), (2, B, "3054", "企业"), (3, A, "1713", "企业"),
            (4, A, "5111", "个体工商户"), (5, B, "5111", "个体工商户"), (7, A, "3054", "企业")]

TARGETS = [  # source rows 2.. of targets.csv
    "level,id,year,indicator,target",
    f"town,{A},2024,tax_total,600",                     # 2
    f"乡镇,{A},2025,tax_total,100",                      # 3
    f"town,{B},2025,tax_total,0",                       # 4
    f"town,{B},2024,enterprises,0",                     # 5
    f"town,{A},2024,output_value,50000000",             # 6
    f"town,{A},2024,insured_persons,1",                 # 7
    f"town,{A},2025,insured_persons,3",                 # 8
    f"town,{B},2024,insured_persons,2",                 # 9
    "专业镇,glass,2024,tax_total,1000",                  # 10
    "specialty_town,glass,2025,tax_total,200",          # 11
    "specialty_town,glass,2024,insured_persons,2",      # 12
    "specialty_town,glass,2025,insured_persons,10",     # 13
    "specialty_town,glass,2024,market_share,0.5",       # 14
    "town,140823999,2024,tax_total,1",                  # 15 unknown_town
    f"town,{A},2024,market_share,0.5",                  # 16 value_invalid: not a town indicator
    f"town,{A},2024,revenue,abc",                       # 17 value_invalid: not a number
    f"town,{B},2024,revenue,1",                         # 18 duplicate_key ...
    f"乡镇,{B},2024,revenue,2",                          # 19 ... with this one
]
REJECTED = {(15, "id", "unknown_town"), (16, "indicator", "value_invalid"),
            (17, "target", "value_invalid"), (18, KEY, "duplicate_key"), (19, KEY, "duplicate_key")}

# (level, id, year, indicator): (target, actual, attainment, met, latest_period, to_date, to_date_prev)
EXPECTED_TARGET = {
    # 2024 at A: u1 200+300, u3 10, u4 5, u7 100 = 615; 2023 at A: u1 100+50+1000, u2 30, u4 7 = 1187
    ("town", A, 2024, "tax_total"): (600.0, 615.0, 615 / 600, True, "2024-12", 615.0, 1187.0),
    # no reports in 2025: no row; Jan-Mar 2025 at A: u3 20, u4 null = 20; Jan-Mar 2024 at A's
    # 2024 taxpayers: u1 200, u3 10, u4 5 = 215
    ("town", A, 2025, "tax_total"): (100.0, None, None, False, "2025-03", 20.0, 215.0),
    # target 0: no attainment; Jan-Mar 2025 at B: u1 400 + u2 60; Jan-Mar 2024 at B: u2 40
    ("town", B, 2025, "tax_total"): (0.0, None, None, False, "2025-03", 460.0, 40.0),
    # target 0 with an actual (u2): met, attainment null
    ("town", B, 2024, "enterprises"): (0.0, 1.0, None, True, None, None, None),
    # 50,000,000 + 2,000,000 + 3,000,000
    ("town", A, 2024, "output_value"): (5e7, 5.5e7, 1.1, True, None, None, None),
    # Dec 2024 at u1, u3, u4, u6, u7: p1, p3, p5; Dec 2023 at u1, u2, u3, u4, u7: p1, p2
    ("town", A, 2024, "insured_persons"): (1.0, 3.0, 3.0, True, "2024-12", 3.0, 2.0),
    # enrolment runs to 2025-02; at u3, u4, u7: p7, p4; 2024-02 at A's 2024 employers: p8
    ("town", A, 2025, "insured_persons"): (3.0, None, None, False, "2025-02", 2.0, 1.0),
    # Dec 2024 at B's u2, u5: p3; Dec 2023 at B's u5: nobody (0, not null)
    ("town", B, 2024, "insured_persons"): (2.0, 1.0, 0.5, False, "2024-12", 1.0, 0.0),
    # members 2024 u1, u6: 500; members 2023 u1, u2, u7: 1150 + 30
    ("specialty_town", "glass", 2024, "tax_total"): (1000.0, 500.0, 0.5, False, "2024-12", 500.0, 1180.0),
    # 2025: the members of 2024; Jan-Mar 2025 u1 400; Jan-Mar 2024 u1 200
    ("specialty_town", "glass", 2025, "tax_total"): (200.0, None, None, False, "2025-03", 400.0, 200.0),
    # Dec 2024 at u1, u6: p1, p3; Dec 2023 at u1, u2, u7: p1, p2
    ("specialty_town", "glass", 2024, "insured_persons"): (2.0, 2.0, 1.0, True, "2024-12", 2.0, 2.0),
    # 2025-02 at u1, u6: p1, p2; 2024-02 at u1: p8
    ("specialty_town", "glass", 2025, "insured_persons"): (10.0, None, None, False, "2025-02", 2.0, 1.0),
    # core output 50,000,000 of the province's 200,000,000
    ("specialty_town", "glass", 2024, "market_share"): (0.5, 0.25, 0.5, False, None, None, None),
}

# (criteria_set, year, indicator): (value, threshold, shortfall, met); both shipped sets use the
# seed's numbers (the provincial set's placeholders equal the municipal ones)
EXPECTED_GAP = {
    (2024, "leading_enterprises"): (1.0, 1.0, 0.0, True),
    (2024, "supporting_enterprises"): (1.0, 10.0, 9.0, False),       # u6
    (2024, "output_value"): (5.3e7, 5e8, 4.47e8, False),             # u1 + u6
    (2024, "market_share"): (0.25, 0.5, 0.25, False),
    (2024, "employees"): (135.0, 2000.0, 1865.0, False),             # 120 + 15
    (2023, "leading_enterprises"): (1.0, 1.0, 0.0, True),
    (2023, "supporting_enterprises"): (2.0, 10.0, 8.0, False),       # u2, u7
    (2023, "output_value"): (5.7e7, 5e8, 4.43e8, False),
    (2023, "market_share"): (None, 0.5, 0.5, False),                 # no provincial total
    (2023, "employees"): (155.0, 2000.0, 1845.0, False),
}


def _write_area(raw: Path) -> None:
    # money in 元 by the header (enterprise reports default to 万元)
    head = "year,uscc,name,town_code,industry_code,工业总产值(元),营业收入(元),employees"
    for year, rows in ENTERPRISE.items():
        write_csv(raw / "enterprise" / f"{year}.csv", [head] + [
            f"{year},{U[n]},企业{n},{town},{ind},{out},{out},{emp}" for n, town, ind, out, emp in rows])
    write_csv(raw / "tax" / "tax.csv", ["period,uscc,total_tax"]
              + [f"{p},{U[n]},{t}" for p, n, t in TAX])
    write_csv(raw / "employment" / "enrolment.csv", ["period,person_id,employer_uscc,hukou_code"]
              + [f"{p},{P[k]},{U[n]},140823" for p, n, k in ENROLMENT])
    write_csv(raw / "registry" / "register.csv", ["uscc,name,entity_type,town_code,industry_code,established"]
              + [f"{U[n]},主体{n},{kind},{town},{ind},2010-01-01" for n, town, ind, kind in REGISTRY])
    ref = raw / "reference"
    write_csv(ref / "specialty_towns.csv", [
        "id,name,county_code,host_town_codes,category,heritage,national_market,core_industry_codes,"
        "supporting_industry_codes",
        f"glass,玻璃器皿专业镇,140823,{A},manufacturing,否,否,3054,2231"])
    write_csv(ref / "leading_enterprises.csv", ["specialty_town_id,uscc,from_year,to_year",
                                                f"glass,{U[1]},2020,"])
    write_csv(ref / "market_totals.csv", ["specialty_town_id,year,provincial_output",
                                          "glass,2024,200000000"])
    write_csv(ref / "targets.csv", TARGETS)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def warehouse(request, tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("goals")
    _write_area(root / "raw")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'warehouse.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(f"goals_{uuid.uuid4().hex[:12]}")
    outcome = run_refresh(root / "raw", url, cache_dir=str(root / "cache"), reports_dir=str(root / "reports"))
    assert outcome.published and not outcome.failed_steps, outcome.summary_text()
    assert not outcome.failed_checks, outcome.failed_checks
    return url


def test_eval_target_cells(warehouse):
    got = {tuple(r[:4]): r[4:] for r in read_table(warehouse, "eval_target").select(
        "level", "id", "year", "indicator", "target", "actual", "attainment", "met", "latest_period",
        "to_date", "to_date_prev").iter_rows()}
    assert set(got) == set(EXPECTED_TARGET)
    for key, want in EXPECTED_TARGET.items():
        target, actual, attainment, met, latest, to_date, prev = got[key]
        assert (target, actual, met, latest, to_date, prev) == (want[0], want[1], want[3], want[4], want[5], want[6]), key
        assert attainment == (None if want[2] is None else pytest.approx(want[2], rel=1e-9)), key


def test_bad_target_rows_are_rejected_at_their_rows(warehouse):
    files = read_table(warehouse, "dq_file").filter(pl.col("path").str.ends_with("targets.csv"))
    assert files.select("status", "rows_read", "rows_loaded").row(0) == ("loaded", 18, 13)
    rej = read_table(warehouse, "dq_rejected_row").filter(pl.col("file_id") == files["file_id"][0])
    assert set(rej.select("source_row", "column", "rule").iter_rows()) == REJECTED
    # the eval/targets check's promise: every target row is in eval_target or rejected
    assert read_table(warehouse, "eval_target").height + len({r for r, _c, _u in REJECTED}) == len(TARGETS) - 1


def test_eval_gap_cells_for_both_shipped_sets(warehouse):
    gap = read_table(warehouse, "eval_gap")
    assert set(gap["criteria_set"]) == {"municipal_yuncheng", "provincial_shanxi"}
    assert set(gap["specialty_town_id"]) == {"glass"}
    for set_name in ("municipal_yuncheng", "provincial_shanxi"):
        rows = gap.filter(pl.col("criteria_set") == set_name)
        got = {(r["year"], r["indicator"]): (r["value"], r["threshold"], r["shortfall"], r["met"])
               for r in rows.iter_rows(named=True)}
        assert set(got) == set(EXPECTED_GAP), set_name
        for key, (value, threshold, shortfall, met) in EXPECTED_GAP.items():
            v, t, s, m = got[key]
            assert v == (None if value is None else pytest.approx(value, rel=1e-12)), (set_name, key)
            assert t == pytest.approx(threshold, rel=1e-12), (set_name, key)
            assert s == pytest.approx(shortfall, rel=1e-12, abs=1e-9), (set_name, key)
            assert m is met, (set_name, key)


def test_report_missing_flags_the_firm_that_stopped(warehouse):
    flags = read_table(warehouse, "dq_flag").filter(pl.col("rule") == "report_missing")
    assert flags["key"].to_list() == [f"2024|{U[7]}"]
    detail = flags["detail"][0]
    assert "7000000" in detail.replace(",", "") and A in detail
    # nothing imputed: A's 2024 output is the three reports, not u7's last value
    town = read_table(warehouse, "ind_town_year").filter((pl.col("town_code") == A) & (pl.col("year") == 2024))
    assert town["output_value"][0] == 5.5e7


def test_laggards_in_the_asset_metadata(warehouse):
    from pipelines.defs.evaluation import _laggard_table
    from pipelines.evaluation.progress import progress_frame, target_names

    progress = progress_frame(read_table(warehouse, "eval_target"), target_names(
        read_table(warehouse, "dim_town"), read_table(warehouse, "dim_specialty_town")))
    # missed: B's 2024 insured 1 of 2, glass's 2024 tax 500 of 1000 and market share 0.25 of 0.5;
    # behind within 2025: A's tax 20 by March against 100 x 3/12 = 25, A's insured 2 of 3 and
    # glass's insured 2 of 10 (stocks); on track: B's tax (target 0), glass's tax 400 >= 50
    want = {("town", B, 2024, "insured_persons"), ("specialty_town", "glass", 2024, "tax_total"),
            ("specialty_town", "glass", 2024, "market_share"), ("town", A, 2025, "tax_total"),
            ("town", A, 2025, "insured_persons"), ("specialty_town", "glass", 2025, "insured_persons")}
    lag = progress.filter(pl.col("laggard"))
    assert set(lag.select("level", "id", "year", "indicator").iter_rows()) == want
    md = _laggard_table(lag)
    assert md.count("\n| ") == len(want)  # one row per laggard below the header and separator
    assert "| 桐城镇 | 2025 | 税收合计 | 100.00 | 20.00（截至 2025-03） | 进度落后 |" in md
    assert "| 玻璃器皿专业镇 | 2024 | 税收合计 | 1,000.00 | 500.00 | 未达标 |" in md
