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
from tests.ingest.rawfiles import ingest, rejected, uscc, write_csv, write_xlsx

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


# -- found by the fuzz campaign (bench/fuzz.py) ----------------------------------------------------

def test_absurd_amounts_and_ids_typed_into_number_cells_are_rejected_never_stored(tmp_path):
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    pid18, pid15 = "140105199001011234", "140105480210436"
    write_csv(raw / "tax" / "t.csv", [
        "所属期,纳税人识别号,增值税,开票销售额",
        f"2024-01,{uscc(1)},{pid18},1",          # row 2: an 18-digit ID in an amount
        f"2024-02,{uscc(1)},{pid15},1",          # row 3: a 15-digit one
        f"2024-03,{uscc(1)},1e308,1",            # row 4: finite, beyond any real amount
        f"2024-04,{uscc(1)},99999999999999,1",   # row 5: 1e14 - 1 yuan: the largest allowed
        f"2024-05,{uscc(1)},100000000000000,1",  # row 6: 1e14 yuan: beyond any real amount
    ])
    write_csv(raw / "enterprise" / "e.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(万元),营业收入,从业人员期末人数",
        f"2024,{uscc(2)},甲厂,140823100,3054,1e308,100,10",  # 1e308 万元: no finite amount
        f"2024,{uscc(3)},乙厂,140823100,3054,100,100,{pid15}",
    ])
    tax = ingest(raw, "tax", cache)
    got = {(r, c, rule) for (_, r, c, rule) in rejected(tax)}
    assert got == {(2, "vat", "out_of_range"), (3, "vat", "out_of_range"), (4, "vat", "out_of_range"),
                   (6, "vat", "out_of_range")}
    assert tax.current.select("period", "vat").rows() == [("2024-04", 99999999999999.0)]
    shown = dict(tax.outcomes[0].rejected.select("source_row", "value").iter_rows())
    assert shown[2] == shown[3] == "***"  # echoed masked, never a number
    ent = ingest(raw, "enterprise", cache)
    assert {(r, c, rule) for (_, r, c, rule) in rejected(ent)} == {
        (2, "output_value", "value_invalid"), (3, "employees", "out_of_range")}
    assert ent.current.height == 0
    # nothing the pipeline keeps for itself holds the IDs in clear
    for f in cache.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert pid18.encode() not in data and pid15.encode() not in data, f


def test_a_sheet_wider_than_excel_without_cell_references_is_refused(tmp_path):
    raw = tmp_path / "raw"
    header = b'<row r="1">' + b"".join(
        f'<c t="inlineStr"><is><t>{h}</t></is></c>'.encode() for h in TAX_HEADER.split(",")) + b"</row>"
    wide_row = b'<row r="2">' + b'<c t="inlineStr"><is><t>x</t></is></c>' * 16_385 + b"</row>"
    bare_xlsx(raw / "tax" / "wide.xlsx", sheet(header + wide_row))
    o = _outcome(ingest(raw, "tax"), "wide.xlsx")
    assert o.status == "rejected" and "16,385" in o.message and "16,384" in o.message, o.message


def test_a_workbook_that_unpacks_beyond_the_memory_bound_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWNSTAT_MEMORY_BOUND_MB", "64")  # the file may unpack to 16 MB at most
    raw = tmp_path / "raw"
    path = bare_xlsx(raw / "tax" / "strings.xlsx", sheet(b'<row r="1"/>'))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/sharedStrings.xml", b"<sst>" + b"x" * 20_000_000 + b"</sst>")
    assert path.stat().st_size < 1_000_000
    o = _outcome(ingest(raw, "tax"), "strings.xlsx")
    assert o.status == "rejected" and "TOWNSTAT_MEMORY_BOUND_MB" not in o.message
    assert "memory bound" in o.message, o.message
