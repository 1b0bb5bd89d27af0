"""reference/targets.csv / targets.xlsx (contract v4 section 6.2): reading and rejection rules."""

from __future__ import annotations

import polars as pl

from pipelines.ingest.inventory import scan_raw_area
from pipelines.ingest.references import EMPTY_TARGETS, read_references
from tests.ingest.rawfiles import GUOJIAZHUANG, TONGCHENG, write_csv, write_xlsx

SPECIALTY = [
    "id,name,county_code,host_town_codes,category,heritage,national_market,core_industry_codes,supporting_industry_codes",
    f"glass,玻璃器皿专业镇,140823,{TONGCHENG},manufacturing,否,否,3054,2231",
]
HEADER = "level,id,year,indicator,target"


def _records(result, name: str) -> set[tuple]:
    return {(row, col, rule) for f, _s, _r, _l, _m, rej in result.files if f.relpath.endswith(name)
            for row, col, rule in rej.select("source_row", "column", "rule").iter_rows()}


def _status(result) -> dict[str, tuple]:
    return {f.relpath: (s, r, n, m) for f, s, r, n, m, _rej in result.files}


def _targets(result) -> list[tuple]:
    return [tuple(r) for r in result.targets.sort("level", "id", "year", "indicator").iter_rows()]


def test_every_rule_of_a_targets_file(tmp_path):
    ref = tmp_path / "reference"
    write_csv(ref / "specialty_towns.csv", SPECIALTY)
    write_csv(ref / "targets.csv", [
        HEADER,
        f'town,{TONGCHENG},2024,tax_total,"1,000,000"',  # 2 ok, thousands separator
        f"乡镇,{GUOJIAZHUANG}000,2024,insured_persons,500",  # 3 ok: 乡镇, 12-digit code cut to 9
        "专业镇,glass,2024,output_value,5e8",  # 4 ok: 专业镇
        "specialty_town,glass,2024,market_share,0.125",  # 5 ok: a fraction, kept as written
        "town,140823999,2024,tax_total,1",  # 6 unknown_town (town code)
        "specialty_town,nosuch,2024,output_value,1",  # 7 unknown_town (specialty-town id)
        f"county,{TONGCHENG},2024,tax_total,1",  # 8 value_invalid level
        f"town,{TONGCHENG},2024,market_share,0.5",  # 9 value_invalid: not an ind_town_year indicator
        "specialty_town,glass,2024,new_market_entities,3",  # 10 value_invalid: town-only indicator
        f"town,{TONGCHENG},2024,output_value,abc",  # 11 value_invalid target
        f"town,{TONGCHENG},2023,revenue,1",  # 12 duplicate_key ...
        f"乡镇,{TONGCHENG}000,2023,revenue,2",  # 13 ... with this row after normalisation
        f"town,{GUOJIAZHUANG},2025,tax_total,xyz",  # 14 value_invalid target, and duplicate_key ...
        f"town,{GUOJIAZHUANG},2025,tax_total,3",  # 15 ... with this row: key cells valid in both
        f"town,{TONGCHENG},,revenue_yoy,0.1",  # 16 required_missing year
        f"town,{TONGCHENG},2024,revenue_yoy,-",  # 17 required_missing target (a blank marker)
        f"town,{TONGCHENG},2099,revenue,1",  # 18 out_of_range year
        f"town,{TONGCHENG},2024,enterprises,0",  # 19 ok: a target of 0
    ])
    result = read_references(scan_raw_area(tmp_path))
    assert _targets(result) == [
        ("specialty_town", "glass", 2024, "market_share", 0.125),
        ("specialty_town", "glass", 2024, "output_value", 5e8),
        ("town", TONGCHENG, 2024, "enterprises", 0.0),
        ("town", TONGCHENG, 2024, "tax_total", 1_000_000.0),
        ("town", GUOJIAZHUANG, 2024, "insured_persons", 500.0),
    ]
    assert result.targets.schema == EMPTY_TARGETS.schema
    key = "level;id;year;indicator"
    assert _records(result, "targets.csv") == {
        (6, "id", "unknown_town"), (7, "id", "unknown_town"), (8, "level", "value_invalid"),
        (9, "indicator", "value_invalid"), (10, "indicator", "value_invalid"),
        (11, "target", "value_invalid"), (12, key, "duplicate_key"), (13, key, "duplicate_key"),
        (14, "target", "value_invalid"), (14, key, "duplicate_key"), (15, key, "duplicate_key"),
        (16, "year", "required_missing"), (17, "target", "required_missing"),
        (18, "year", "out_of_range"),
    }
    # listed in dq_file like every file: rows read, rows loaded
    assert _status(result)["reference/targets.csv"][:3] == ("loaded", 18, 5)
    dup = [r for f, *_, r in result.files if f.relpath.endswith("targets.csv")][0]
    assert dup.filter(pl.col("source_row") == 13)["value"].to_list() == [f"town;{TONGCHENG};2023;revenue"]


def test_gbk_csv_with_chinese_headers_and_levels(tmp_path):
    ref = tmp_path / "reference"
    write_csv(ref / "specialty_towns.csv", SPECIALTY)
    write_csv(ref / "targets.csv", [
        "2025年度目标",  # a title row above the header
        "层级,编号,年度,指标,目标值",
        f"乡镇,{TONGCHENG},2025,tax_total,1200000.5",
        "专业镇,glass,2025,insured_persons,300",
        "专业镇,玻璃,2025,insured_persons,300",  # 5 unknown_town
    ], encoding="gbk")
    result = read_references(scan_raw_area(tmp_path))
    assert _targets(result) == [
        ("specialty_town", "glass", 2025, "insured_persons", 300.0),
        ("town", TONGCHENG, 2025, "tax_total", 1_200_000.5),
    ]
    assert _records(result, "targets.csv") == {(5, "id", "unknown_town")}


def test_xlsx_with_numeric_cells(tmp_path):
    ref = tmp_path / "reference"
    write_csv(ref / "specialty_towns.csv", SPECIALTY)
    write_xlsx(ref / "targets.xlsx", [
        ["level", "id", "year", "indicator", "target"],
        ["town", int(TONGCHENG), 2024, "tax_total", 1.5e8],
        ["specialty_town", "glass", 2024, "leading_enterprises", 1],
        ["specialty_town", "glass", 2024, "tax_total", "many"],  # 4 value_invalid
    ])
    result = read_references(scan_raw_area(tmp_path))
    assert _targets(result) == [
        ("specialty_town", "glass", 2024, "leading_enterprises", 1.0),
        ("town", TONGCHENG, 2024, "tax_total", 1.5e8),
    ]
    assert _records(result, "targets.xlsx") == {(4, "target", "value_invalid")}
    assert _status(result)["reference/targets.xlsx"][:3] == ("loaded", 3, 2)


def test_csv_and_xlsx_side_by_side_the_later_is_in_force(tmp_path):
    ref = tmp_path / "reference"
    write_csv(ref / "targets.csv", [HEADER, f"town,{TONGCHENG},2024,tax_total,1"], mtime=1_700_000_000)
    write_xlsx(ref / "targets.xlsx", [["level", "id", "year", "indicator", "target"],
                                      ["town", TONGCHENG, 2024, "tax_total", 2]], mtime=1_700_000_100)
    result = read_references(scan_raw_area(tmp_path))
    assert _targets(result) == [("town", TONGCHENG, 2024, "tax_total", 2.0)]
    status = _status(result)
    assert status["reference/targets.csv"][0] == "rejected"
    assert "targets.xlsx" in status["reference/targets.csv"][3]
    assert status["reference/targets.xlsx"][0] == "loaded"


def test_no_targets_file_and_an_unreadable_one(tmp_path):
    result = read_references(scan_raw_area(tmp_path))
    assert result.targets.height == 0 and result.targets.schema == EMPTY_TARGETS.schema
    write_csv(tmp_path / "reference" / "targets.csv", ["level,id,year", f"town,{TONGCHENG},2024"])
    result = read_references(scan_raw_area(tmp_path))
    assert result.targets.height == 0 and result.targets.schema == EMPTY_TARGETS.schema
    assert _status(result)["reference/targets.csv"][0] == "rejected"  # required column missing
