"""No clear person ID escapes (issue 12 item 6, contract v4 section 4): whichever column an ID
stands in, whatever text it hides in, it reaches no table, report or log line in clear."""

from __future__ import annotations

import sqlite3
import zipfile

import polars as pl

from pipelines.echo import echo, has_clear_id_expr, mask_ids, mask_ids_expr
from pipelines.ingest.identifiers import uscc_is_valid
from pipelines.quality.person_ids import clear_id_cells
from pipelines.warehouse.read import read_table
from tests.ingest.rawfiles import TONGCHENG, person, uscc, write_csv, write_xlsx
from tests.test_hostile_raw_area import (
    ENROLMENT_HEADER,
    ENTERPRISE_HEADER,
    TAX_HEADER,
    clean_area,
    refresh,
)


def _person_passing_the_uscc_check() -> str:
    """A valid person ID that also passes the USCC check character (about 1 in 31 do)."""
    ids = pl.Series([person(n) for n in range(200, 1000)])
    ok = pl.DataFrame({"id": ids}).filter(uscc_is_valid(pl.col("id")))["id"]
    assert ok.len() > 0
    return ok[0]


def test_masking_by_hand():
    cases = {
        "110105194912310021": "***",
        "11010519491231002X": "***",
        "11010519491231002x": "***",
        "140823900101001": "***",  # 15 digits: the old ID
        "张三110105194912310021个体户": "张三***个体户",
        "ID:110105194912310021;11010519491231002X.": "ID:***;***.",
        "1101051949123100": "1101051949123100",  # 16 digits: not an ID's shape
        "11010519491231002100": "11010519491231002100",  # 20 digits
        "91140823MA0K2Q7T4B": "91140823MA0K2Q7T4B",  # a USCC with letters
        "１１０１０５１９４９１２３１００２Ｘ": "***",  # full-width
    }
    frame = pl.DataFrame({"s": list(cases)})
    by_polars = frame.select(mask_ids_expr(pl.col("s")))["s"].to_list()
    assert by_polars == list(cases.values())
    assert [mask_ids(s) for s in cases] == list(cases.values())
    flagged = frame.select(has_clear_id_expr(pl.col("s")))["s"].to_list()
    assert flagged == ["***" in v for v in cases.values()]
    assert echo("a\x00b" + "c" * 300) == "a\ufffdb" + "c" * 197 + "…"  # 200 characters, then the ellipsis


def test_the_guard_finds_an_id_in_any_echoed_column():
    frames = {
        "dq_file": pl.DataFrame({"path": ["tax/a.csv", "tax/张三110105194912310021.csv"],
                                 "message": ["", "ok"], "sha256": ["1" * 64, "2" * 64]}),
        "dq_rejected_row": pl.DataFrame({"path": ["tax/a.csv"], "column": ["employer_uscc"],
                                         "value": ["***"], "message": ["值 11010519491231002X"]}),
    }
    found = clear_id_cells(frames).sort("table", "column")
    assert found.rows() == [("dq_file", "path", 1), ("dq_rejected_row", "message", 1)]


def test_swapped_columns_ids_in_names_and_a_15_digit_id_never_reach_the_warehouse_or_reports(tmp_path):
    raw = tmp_path / "raw"
    clean_area(raw)
    tricky = _person_passing_the_uscc_check()
    swapped_ids = [person(n) for n in range(20, 26)] + [tricky]
    # the export's header says ID then employer, its data is employer then ID
    write_csv(raw / "employment" / "swapped.csv",
              [ENROLMENT_HEADER, *[f"2024-11,{uscc(i)},{pid},140823" for i, pid in enumerate(swapped_ids, 1)]],
              mtime=1_700_000_200)
    xlsx_ids = [person(n) for n in range(30, 33)]
    write_xlsx(raw / "employment" / "swapped.xlsx",
               [ENROLMENT_HEADER.split(","), *[["2024-10", uscc(i), pid, "140823"] for i, pid in enumerate(xlsx_ids, 1)]],
               mtime=1_700_000_210)
    name_id = person(40)
    old_id = "140823900101001"
    write_csv(raw / "enterprise" / "names.csv", [
        ENTERPRISE_HEADER,
        f"2023,{uscc(1)},张三{name_id}个体户,{TONGCHENG},3054,5,5,1",
        f"2023,{old_id},李四厂,{TONGCHENG},3054,5,5,1",
    ], mtime=1_700_000_220)
    write_csv(raw / "tax" / "free_text.csv", [TAX_HEADER, f"2024-05,{uscc(1)},身份证{person(41)}"],
              mtime=1_700_000_230)
    clear = [*swapped_ids, *xlsx_ids, name_id, old_id, person(41), *[person(i) for i in range(1, 9)]]

    url, log = refresh(raw, tmp_path, "w")

    # the swapped rows are rejected; the employer column's echo is masked
    rej = read_table(url, "dq_rejected_row")
    swapped = rej.filter(pl.col("path") == "employment/swapped.csv")
    assert set(swapped["source_row"].to_list()) == set(range(2, 2 + len(swapped_ids)))
    employer = swapped.filter(pl.col("column") == "employer_uscc")
    assert employer["rule"].unique().to_list() == ["uscc_invalid"]
    assert employer["value"].unique().to_list() == ["***"]
    assert employer.height == len(swapped_ids)  # the one passing the USCC check too
    assert read_table(url, "fact_employment_month").filter(pl.col("period").is_in(["2024-10", "2024-11"])).height == 0
    names = read_table(url, "fact_enterprise_year").filter(pl.col("year") == 2023)
    assert names.select("uscc", "name").rows() == [(uscc(1), "张三***个体户")]
    assert rej.filter((pl.col("path") == "enterprise/names.csv") & (pl.col("column") == "uscc"))["value"].to_list() == ["***"]

    # nowhere in clear: every text cell of the warehouse, every report file, the run's log
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    dump = "\n".join(con.iterdump())
    con.close()
    reports = tmp_path / "w-reports"
    texts = [dump, "\n".join(log)]
    for f in reports.rglob("*"):
        if f.suffix == ".xlsx":
            with zipfile.ZipFile(f) as z:
                texts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
        elif f.is_file():
            texts.append(f.read_text(encoding="utf-8-sig", errors="replace"))
    assert {"quality.html", "rejected_rows.csv", "dashboard.html"} <= {p.name for p in reports.iterdir()}
    for pid in clear:
        assert not any(pid in t for t in texts), pid

