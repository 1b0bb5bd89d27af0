"""Limits (issue 12 item 2, contract v4 section 2): a sheet beyond Excel's limits or a file
beyond the memory bound is refused whole before it is unpacked or read; one file lists at most
10,000 rejected rows per rule."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import polars as pl
import pytest

from pipelines.ingest.limits import REJECTED_ROWS_PER_RULE, check_xlsx, column_number
from tests.ingest.rawfiles import ingest, uscc, write_csv, write_xlsx

TAX_HEADER = "所属期,纳税人识别号,增值税"


def bare_xlsx(path: Path, sheet_xml: bytes) -> Path:
    """A minimal workbook whose first sheet is `sheet_xml` (written by hand, deflated)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'content-types"><Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
                   'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
                   'worksheet+xml"/></Types>')
        z.writestr("_rels/.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
                   '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                   '</Relationships>')
        z.writestr("xl/workbook.xml",
                   '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                   '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                   '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
                   '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                   '</Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return path


def sheet(rows: bytes, dimension: str | None = None) -> bytes:
    dim = f'<dimension ref="{dimension}"/>'.encode() if dimension else b""
    return (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
            b'2006/main">' + dim + b"<sheetData>" + rows + b"</sheetData></worksheet>")


def cell_row(r: int, ref: str, text: str) -> bytes:
    return f'<row r="{r}"><c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c></row>'.encode()


def _outcome(result, name: str):
    return next(o for o in result.outcomes if o.file.relpath.endswith(name))


def test_column_letters_by_hand():
    assert [column_number(c) for c in ("A", "Z", "AA", "XFD", "XFE")] == [1, 26, 27, 16_384, 16_385]


def test_sheets_beyond_excels_limits_are_refused_before_unpacking(tmp_path):
    raw = tmp_path / "raw"
    header = b'<row r="1">' + b"".join(
        f'<c r="{c}1" t="inlineStr"><is><t>{h}</t></is></c>'.encode()
        for c, h in zip("ABC", TAX_HEADER.split(","), strict=True)) + b"</row>"
    # a declared dimension beyond Excel's rows: refused from the first kilobytes
    bare_xlsx(raw / "tax" / "declared.xlsx", sheet(header, "A1:C1048577"))
    # no dimension, 1,048,578 row elements: counted while streaming (21 MB of XML, 2.6 MB zipped)
    rows = b"".join(b'<row r="%d"/>' % r for r in range(2, 1_048_579))
    bare_xlsx(raw / "tax" / "counted.xlsx", sheet(header + rows))
    # one cell in column XFE (16,385): too wide
    bare_xlsx(raw / "tax" / "wide.xlsx", sheet(header + cell_row(2, "XFE2", "1")))
    # inside the limits: read as usual
    write_xlsx(raw / "tax" / "fine.xlsx", [TAX_HEADER.split(","), ["2024-01", uscc(1), 5]])
    assert (raw / "tax" / "counted.xlsx").stat().st_size < 3_000_000
    started = time.monotonic()
    result = ingest(raw, "tax")
    assert time.monotonic() - started < 60
    for name, words in (("declared.xlsx", "至少 1,048,577 行"), ("counted.xlsx", "at least 1,048,578 rows"),
                        ("wide.xlsx", "at least 16,385 columns")):
        o = _outcome(result, name)
        assert o.status == "rejected", (name, o.message)
        assert "Excel" in o.message and words in o.message, o.message
        assert o.rows_read == 0 and o.accepted is None
    fine = _outcome(result, "fine.xlsx")
    assert fine.status == "loaded" and fine.rows_loaded == 1
    assert result.current.select("uscc", "vat").rows() == [(uscc(1), 5.0)]


def test_extent_of_a_sheet_within_the_limits_is_counted(tmp_path):
    rows = b"".join(cell_row(r, f"B{r}", "x") for r in range(1, 1001))
    path = bare_xlsx(tmp_path / "a.xlsx", sheet(rows))
    extent = check_xlsx(path.read_bytes())
    assert (extent.rows, extent.cells) == (1000, 1000)
    assert check_xlsx(b"not a zip") is None


def test_a_csv_over_the_memory_bound_is_refused_without_reading_it(tmp_path, monkeypatch):
    # bound 64 MB: a file may take 32 MB while read, so a CSV of more than 32/9 = 3.6 MB is refused
    monkeypatch.setenv("TOWNSTAT_MEMORY_BOUND_MB", "64")
    raw = tmp_path / "raw"
    line = f"2024-01,{uscc(1)},1"
    n = 7 * 1024 * 1024 // (len(line) + 1) + 1
    write_csv(raw / "tax" / "huge.csv", [TAX_HEADER, *[line] * n])
    write_csv(raw / "tax" / "small.csv", [TAX_HEADER, f"2024-02,{uscc(2)},3"])
    assert (raw / "tax" / "huge.csv").stat().st_size > 7 * 1024 * 1024
    result = ingest(raw, "tax")
    huge = _outcome(result, "huge.csv")
    assert huge.status == "rejected" and "TOWNSTAT_MEMORY_BOUND_MB" in huge.message
    assert huge.rows_read == 0
    assert result.current.select("period", "uscc").rows() == [("2024-02", uscc(2))]


@pytest.mark.parametrize("bad_rows", [REJECTED_ROWS_PER_RULE + 37])
def test_a_file_lists_at_most_ten_thousand_rejected_rows_per_rule(tmp_path, bad_rows):
    raw = tmp_path / "raw"
    # rows 2.. : `bad_rows` with a broken USCC (one rule), 5 with a bad amount (another), 3 good
    lines = [TAX_HEADER, *[f"2024-01,BAD{i},1" for i in range(bad_rows)],
             *[f"2024-01,{uscc(i)},x" for i in range(1, 6)], *[f"2024-01,{uscc(i)},1" for i in range(6, 9)]]
    write_csv(raw / "tax" / "garbage.csv", lines)
    o = _outcome(ingest(raw, "tax"), "garbage.csv")
    assert o.rows_read == bad_rows + 8 and o.rows_loaded == 3
    by_rule = o.rejected.group_by("rule").agg(pl.col("source_row").min().alias("first"),
                                              pl.col("source_row").max().alias("last"), pl.len())
    got = {r["rule"]: (r["first"], r["last"], r["len"]) for r in by_rule.to_dicts()}
    # the first 10,000 rows by source_row: rows 2 .. 10,001
    assert got == {"uscc_invalid": (2, REJECTED_ROWS_PER_RULE + 1, REJECTED_ROWS_PER_RULE),
                   "value_invalid": (bad_rows + 2, bad_rows + 6, 5)}
    assert "37" in o.message and "10,000" in o.message
