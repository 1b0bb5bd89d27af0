"""Reports safe to open (contract v4, sections 4 and 9), checked on the files as written.

The county demo warehouse's tables, with hostile text planted where reports show it: town and
specialty-town names that read as formulas or markup, rejected rows and files whose values,
paths and messages hold formulas, a script tag and a clear person ID under columns that are
not ``person_id``. The CSV is parsed with the csv module, the workbook opened with openpyxl
and read as XML, the HTML read as text.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import zipfile
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from county_warehouse import county_warehouse

from pipelines.defs.reports import REPORT_TABLES
from pipelines.echo import echo_expr
from pipelines.reports.dashboard import write_dashboard
from pipelines.reports.quality_report import REJECTED_CSV, SNAPSHOT_NAME, write_quality_report
from pipelines.reports.safe_cells import (
    echoed_files,
    echoed_rejected,
    echoed_text_expr,
    safe_cell_expr,
    safe_cells,
)
from pipelines.reports.workbook import TOWN_SHEET, write_evaluation_workbook
from pipelines.warehouse import read_table

FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"]
SCRIPT = "<script>alert(1)</script>"
HOSTILE = [*FORMULAS, SCRIPT]
CLEAR_ID = "110101199003077777"  # 17 digits and a check digit: shaped like a person ID
ID_FILE = f"employment/花名册_{CLEAR_ID}.csv"
FORMULA_FILE = "-2+3.csv"
UNSAFE_START = ("=", "+", "-", "@")


def _rejected(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The rejected rows of two hostile files (replacing the county's own, so all are shown)."""
    rows = [dict(file_id="f-formula", source_row=2 + i, column="employer_uscc", rule="uscc_invalid",
                 path=FORMULA_FILE, value=v, message=f"统一社会信用代码无效 / invalid USCC: {v}")
            for i, v in enumerate(HOSTILE)]
    rows += [
        # swapped columns: the ID under employer_uscc, and inside a name
        dict(file_id="f-id", source_row=2, column="employer_uscc", rule="uscc_invalid", path=ID_FILE,
             value=CLEAR_ID, message=f"统一社会信用代码无效 / invalid USCC: {CLEAR_ID}"),
        dict(file_id="f-id", source_row=3, column="name", rule="value_invalid", path=ID_FILE,
             value=f"张三{CLEAR_ID}", message=f"无法读取 / cannot read 张三{CLEAR_ID}"),
        # the rules the report had before: a person_id part of a key, a person_id column
        dict(file_id="f-id", source_row=4, column="period;person_id;employer_uscc", rule="duplicate_key",
             path=ID_FILE, value=f"2024-01;{CLEAR_ID};911408232JEQUAKXXU", message="重复 / duplicate"),
        dict(file_id="f-id", source_row=5, column="person_id", rule="person_id_invalid", path=ID_FILE,
             value=CLEAR_ID, message="无效 / invalid"),
    ]
    return pl.DataFrame(rows).select(pl.col(c).cast(t) for c, t in schema.items())


def _files(dq_file: pl.DataFrame) -> pl.DataFrame:
    """The county's files and the two hostile ones, rejected with hostile messages."""
    mtime = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    extra = [dict(file_id="f-formula", path=FORMULA_FILE, source="employment", sha256="0" * 64, bytes=10,
                  mtime=mtime, status="rejected", rows_read=5, rows_loaded=0, rows_rejected=5,
                  message=f"{SCRIPT} =HYPERLINK(\"http://x\")"),
             dict(file_id="f-id", path=ID_FILE, source="employment", sha256="1" * 64, bytes=10,
                  mtime=mtime, status="rejected", rows_read=4, rows_loaded=0, rows_rejected=4,
                  message=f"列顺序错误 / columns swapped: {CLEAR_ID} under employer_uscc")]
    extra_df = pl.DataFrame(extra).select(pl.col(c).cast(t) for c, t in dq_file.schema.items())
    return pl.concat([dq_file, extra_df])


@pytest.fixture(scope="module")
def written(request, tmp_path_factory) -> dict[str, Path]:
    """The three reports written from the county's tables with the hostile text planted."""
    url = county_warehouse(request, "sqlite")
    frames = {name: read_table(url, name) for name in REPORT_TABLES}
    towns = frames["dim_town"].sort("town_code")
    published = set(frames["pub_town_year"]["town_code"].to_list())
    hostile_towns = [c for c in towns["town_code"].to_list() if c in published][:len(HOSTILE)]
    assert len(hostile_towns) == len(HOSTILE)
    rename = dict(zip(hostile_towns, HOSTILE, strict=True))
    frames["dim_town"] = towns.with_columns(
        pl.col("town_code").replace_strict(rename, default=pl.col("town_name")).alias("town_name"))
    specialty = frames["dim_specialty_town"].sort("id")
    names = dict(zip(specialty["id"].to_list()[:2], ["@SUM(A1)", SCRIPT], strict=True))
    frames["dim_specialty_town"] = specialty.with_columns(
        pl.col("id").replace_strict(names, default=pl.col("name")).alias("name"))
    frames["dq_rejected_row"] = _rejected(frames["dq_rejected_row"].schema)
    frames["dq_file"] = _files(frames["dq_file"])

    out = tmp_path_factory.mktemp("safe_reports")
    year = int(frames["eval_specialty_town"]["year"].max())
    return {"quality": write_quality_report(frames, out / "quality.html"),
            "csv": out / REJECTED_CSV, "snapshot": out / SNAPSHOT_NAME,
            "dashboard": write_dashboard(frames, out / "dashboard.html"),
            "workbook": write_evaluation_workbook(frames, year, out / "evaluation.xlsx")}


def test_csv_cells_that_read_as_formulas_are_text(written):
    with written["csv"].open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(HOSTILE) + 4
    by_file = {}
    for r in rows:
        by_file.setdefault(r["文件 file"], {})[int(r["行号 row"])] = (r["列 column"], r["原值 value"])
    # the file name itself begins with "-"; the ID in the other file's name is masked
    assert set(by_file) == {"'-2+3.csv", "employment/花名册_***.csv"}
    assert by_file["'-2+3.csv"] == {
        2: ("employer_uscc", "'=HYPERLINK(\"http://x\")"), 3: ("employer_uscc", "'+1+1"),
        4: ("employer_uscc", "'-2+3"), 5: ("employer_uscc", "'@SUM(A1)"),
        6: ("employer_uscc", "<script>alert(1)</script>")}
    assert by_file["employment/花名册_***.csv"] == {
        2: ("employer_uscc", "***"), 3: ("name", "张三***"),
        4: ("period;person_id;employer_uscc", "2024-01;***;911408232JEQUAKXXU"),
        5: ("person_id", "（不显示 / withheld）")}
    for r in rows:
        for cell in r.values():
            assert not cell.startswith(UNSAFE_START), r


def test_workbook_text_cells_are_strings_never_formulas(written):
    wb = openpyxl.load_workbook(written["workbook"])  # formulas kept as formulas (data_type 'f')
    hostile_cells = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if cell.value in HOSTILE:
                    hostile_cells.append((ws.title, cell))
    # every planted town name is on the town sheet, as a string cell
    town_cells = {c.value: c for title, c in hostile_cells if title == TOWN_SHEET}
    assert set(town_cells) == set(HOSTILE)
    for title, cell in hostile_cells:
        assert cell.data_type == "s", (title, cell.coordinate)
        # one that reads as a formula keeps Excel's quote prefix (stays text when edited)
        assert cell.quotePrefix == (cell.value in FORMULAS), (title, cell.coordinate, cell.value)
    # the specialty-town names too (evaluation sheets and the specialty sheet)
    assert {c.value for t, c in hostile_cells if t != TOWN_SHEET} == {"@SUM(A1)", SCRIPT}
    # the file as written: no formula element in any sheet, the ID nowhere
    with zipfile.ZipFile(written["workbook"]) as z:
        for name in z.namelist():
            text = z.read(name).decode("utf-8", errors="replace")
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in text and "<f " not in text, name
            assert CLEAR_ID not in text, name
        strings = z.read("xl/sharedStrings.xml").decode("utf-8")
    assert "=HYPERLINK(&quot;http://x&quot;)" in strings or '=HYPERLINK("http://x")' in strings
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in strings


def test_quality_report_escapes_every_value_and_masks_ids(written):
    page = written["quality"].read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page
    for v in FORMULAS:
        assert html.escape(v) in page
    # the rows of the files: values under their columns, the ID masked in path, value, message
    assert "<td>employment/花名册_***.csv</td>" in page
    assert "<td class=n>3</td><td>name</td><td>张三***</td>" in page
    assert "<td class=n>2</td><td>employer_uscc</td><td>***</td>" in page
    assert "列顺序错误 / columns swapped: *** under employer_uscc" in page
    assert f"<td class=n>6</td><td>employer_uscc</td><td>{html.escape(SCRIPT)}</td>" in page


def test_dashboard_escapes_names(written):
    page = written["dashboard"].read_text(encoding="utf-8")
    assert "<script>alert" not in page
    # the name is escaped for plotly (which shows it as text); plotly's JSON escapes the "/"
    assert "&lt;script&gt;alert(1)&lt;\\u002fscript&gt;" in page
    assert page.count("<script") == 1 + 8  # plotly.js and one call per chart, nothing planted


def test_no_clear_id_in_any_report(written):
    for what, path in written.items():
        data = path.read_bytes()
        assert CLEAR_ID.encode() not in data, what
    assert "employment/花名册_***.csv" in written["snapshot"].read_text(encoding="utf-8")


def test_safe_cell_rule():
    cases = {
        "=1+1": "'=1+1", "+1": "'+1", "-5": "'-5", "@A1": "'@A1", "\t=1": "'\t=1", "\r=1": "'\r=1",
        "a=b": "a=b", " =1": " =1", "": "", "'=1": "'=1", "－1": "－1", "桐城镇": "桐城镇",
    }
    df = pl.DataFrame({"text": [*cases, None], "n": list(range(-len(cases), 1))})
    out = safe_cells(df)
    assert out["text"].to_list() == [*cases.values(), None]
    assert out["n"].to_list() == df["n"].to_list()  # numbers are not text: left alone
    assert pl.select(safe_cell_expr(pl.lit("=x"))).item() == "'=x"


def test_echoed_rejected_masks_only_what_needs_it():
    """The reports' echo of dq_rejected_row evaluates the masking only on cells with something
    to mask (issue 16); every cell must come out as the contract's echo of the whole column."""
    long_value = "长" * 250
    FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
    rej = pl.DataFrame({
        "value": [CLEAR_ID, CLEAR_ID.translate(FULL_WIDTH), "a\x01b", long_value, None, "ok",
                  "1234567890123456789"],  # 19 digits: not shaped like an ID, kept
        "path": [ID_FILE, "tax/a.csv", None, "q\x7fr.csv", "x.csv", "x.csv", "x.csv"],
        "column": ["person_id", "uscc", "vat", "vat", "vat", "vat", "vat"],
        "message": [f"第3行 {CLEAR_ID} 与 {CLEAR_ID} 重复", "m", "m", "m", "m", None, "m"],
        "source_row": list(range(7)),
    })
    out = echoed_rejected(rej)
    # worked out by hand from contract v4 section 4
    assert out["value"].to_list() == ["***", "***", "a\ufffdb", "长" * 200 + "…", None, "ok",
                                      "1234567890123456789"]
    assert out["path"].to_list() == ["employment/花名册_***.csv", "tax/a.csv", None, "q\ufffdr.csv",
                                     "x.csv", "x.csv", "x.csv"]
    assert out["message"].to_list() == ["第3行 *** 与 *** 重复", "m", "m", "m", "m", None, "m"]
    assert out["source_row"].to_list() == list(range(7))
    # and the same as the masking applied to every cell (the second method)
    whole = rej.with_columns(echo_expr(pl.col("value")).alias("value"),
                             *(echoed_text_expr(pl.col(c)).alias(c) for c in ("path", "column", "message")))
    assert out.equals(whole)
    files = pl.DataFrame({"path": [ID_FILE, "a.csv"], "message": ["ok", f"bad {CLEAR_ID}\x02"]})
    assert echoed_files(files).to_dicts() == [
        {"path": "employment/花名册_***.csv", "message": "ok"},
        {"path": "a.csv", "message": "bad ***\ufffd"}]
