"""Limits that keep one file from exhausting the machine (contract v4 section 2).

Excel's own limits decide what a sheet or a cell may be; the refresh's memory bound decides
how large a file may be before it is refused whole instead of being read. The xlsx check
streams the sheet's XML out of the archive (never the whole of it in memory) and stops at the
first limit crossed, so a 2 MB zip bomb costs a few seconds, not the run.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

import polars as pl

from pipelines import settings

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
CELL_MAX_CHARS = 32_767
# Amounts and counts no enterprise, town or province reaches (China's GDP is about 1.3e14
# yuan): beyond them a number is an identifier in the wrong cell or garbage, out_of_range. A
# person ID (15 or 18 digits, first digit 1-8) is always beyond both.
MONEY_LIMIT_YUAN = 1e14
COUNT_LIMIT = 1e9
# dq_rejected_row keeps the first rows of each rule per file; rows_rejected counts them all
REJECTED_ROWS_PER_RULE = 10_000

# Peak memory of reading and validating a file, per byte of it: measured on an enrolment CSV
# of 105 MB (1.72 M rows), validated alone in one process, 1,007 MB peak RSS, 900 MB above the
# process's start, so 8.5x; a margin on top. An xlsx sheet: per cell (calamine's cell and the
# text column Polars makes of it).
CSV_BYTES_FACTOR = 9
XLSX_BYTES_PER_CELL = 64
XLSX_BYTES_FACTOR = 8  # an xlsx's own bytes, held while its cells are read
# 6 GiB: two ingest workers each reading a file of up to 340 MB stay within it (a province's
# monthly enrolment file is about 180 MB); a 1 GB export is refused whole.
DEFAULT_MEMORY_BOUND_MB = settings.DEFAULT_MEMORY_BOUND_MB


def memory_bound_bytes() -> int:
    """The refresh's memory bound (TOWNSTAT_MEMORY_BOUND_MB, default 6 GiB)."""
    return max(64, settings.memory_bound_mb()) * 1024 * 1024


def file_budget_bytes() -> int:
    """What one file may take while it is read: half the bound (two files are read at once)."""
    return memory_bound_bytes() // 2


class LimitExceeded(Exception):  # noqa: N818 - a verdict, not a programming error
    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


def check_xlsx_size(size: int) -> None:
    """Refuse a workbook whose bytes alone would take a large part of the memory bound (a real
    sheet of Excel's 1,048,576 rows is far smaller)."""
    if size * XLSX_BYTES_FACTOR > file_budget_bytes():
        raise LimitExceeded(
            f"Excel 文件过大（{_mb(size)}），超过刷新的内存上限；请拆分后再放入",
            f"workbook too large ({_mb(size)}) for the refresh's memory bound: split it")


def check_csv_size(size: int) -> None:
    """Refuse a CSV whose rows would not fit the memory bound, before reading it."""
    need = size * CSV_BYTES_FACTOR
    if need > file_budget_bytes():
        raise LimitExceeded(
            f"文件过大（{_mb(size)}，读取约需 {_mb(need)} 内存，超过刷新的内存上限 {_mb(file_budget_bytes())}）；"
            "请按月或按地区拆分后再放入，或调高 TOWNSTAT_MEMORY_BOUND_MB",
            f"file too large ({_mb(size)}; reading it needs about {_mb(need)}, over the refresh's "
            f"memory bound of {_mb(file_budget_bytes())} per file): split it by month or area, or "
            "raise TOWNSTAT_MEMORY_BOUND_MB",
        )


@dataclass
class SheetExtent:
    rows: int  # highest row number seen
    columns: int  # highest column number seen
    cells: int  # cell elements seen


_ROW = re.compile(rb"<(?:\w+:)?row\b[^>]*?\br=\"(\d+)\"")
_ROW_BARE = re.compile(rb"<(?:\w+:)?row[\s>/]")
_CELL = re.compile(rb"<(?:\w+:)?c[\s>/]")
# a cell reference of three letters or more (column 703 and beyond); fewer cannot pass 16,384
_WIDE_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*?\br=\"([A-Z]{3,})\d+\"")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\bref=\"(?:[A-Z]+\d+:)?([A-Z]+)(\d+)\"")
CHUNK = 1 << 20


def column_number(letters: bytes | str) -> int:
    n = 0
    for ch in letters.decode() if isinstance(letters, bytes) else letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def first_sheet_member(zf: zipfile.ZipFile) -> str | None:
    """The archive member holding the workbook's first sheet."""
    names = set(zf.namelist())
    try:
        ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
              "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
        with zf.open("xl/workbook.xml") as fh:  # never more than 4 MB of it
            wb = ElementTree.fromstring(fh.read(4 * CHUNK))
        sheet = wb.find("m:sheets/m:sheet", ns)
        rid = sheet.get(f"{{{ns['r']}}}id") if sheet is not None else None
        with zf.open("xl/_rels/workbook.xml.rels") as fh:
            rels = ElementTree.fromstring(fh.read(4 * CHUNK))
        for rel in rels:
            if rel.get("Id") == rid:
                target = rel.get("Target", "").lstrip("/")
                member = target if target.startswith("xl/") else f"xl/{target}"
                if member in names:
                    return member
    except (KeyError, ElementTree.ParseError, AttributeError):
        pass
    sheets = sorted((n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
                    key=lambda n: int(re.sub(r"\D", "", n)))
    return sheets[0] if sheets else None


def check_xlsx(data: bytes) -> SheetExtent | None:
    """Refuse a workbook whose first sheet crosses Excel's limits or the memory bound.

    Reads the `<dimension>` first, then streams the sheet's XML in 1 MB pieces counting rows
    and cells, stopping at the first limit crossed. None when the bytes are not a zip (the
    reader then says the file is corrupt)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    with zf:
        # everything the reader would unpack (shared strings, styles, the sheet), as declared
        unpacked = sum(i.file_size for i in zf.infolist())
        if unpacked > file_budget_bytes() // 2:
            raise LimitExceeded(
                f"Excel 文件解压后过大（约 {_mb(unpacked)}），超过刷新的内存上限；请检查文件或拆分后再放入",
                f"the workbook unpacks to about {_mb(unpacked)}, over the refresh's memory bound: check "
                "the file or split it")
        member = first_sheet_member(zf)
        if member is None:
            return None
        cell_budget = file_budget_bytes() // XLSX_BYTES_PER_CELL
        extent = SheetExtent(0, 0, 0)

        def verdict() -> None:
            over_rows, over_cols = extent.rows > EXCEL_MAX_ROWS, extent.columns > EXCEL_MAX_COLUMNS
            if over_rows or over_cols:
                zh = "、".join([f"至少 {extent.rows:,} 行"] * over_rows + [f"至少 {extent.columns:,} 列"] * over_cols)
                en = " and ".join([f"at least {extent.rows:,} rows"] * over_rows
                                  + [f"at least {extent.columns:,} columns"] * over_cols)
                raise LimitExceeded(
                    f"Excel 工作表超出 Excel 的上限（{EXCEL_MAX_ROWS:,} 行、{EXCEL_MAX_COLUMNS:,} 列）：{zh}；"
                    "整个文件拒收，未展开读取，请检查导出",
                    f"the sheet is beyond Excel's limits ({EXCEL_MAX_ROWS:,} rows, {EXCEL_MAX_COLUMNS:,} "
                    f"columns): {en}; the file is refused whole without being unpacked, check the export")
            if max(extent.rows * max(extent.columns, 1), extent.cells) > cell_budget:
                raise LimitExceeded(
                    f"Excel 工作表过大（至少 {extent.rows:,} 行 × {extent.columns:,} 列），超过刷新的内存上限；"
                    "请拆分后再放入，或调高 TOWNSTAT_MEMORY_BOUND_MB",
                    f"the sheet is too large for the refresh's memory bound (at least {extent.rows:,} "
                    f"rows x {extent.columns:,} columns): split it, or raise TOWNSTAT_MEMORY_BOUND_MB")

        try:
            with zf.open(member) as fh:
                tail = b""
                first = True
                row_tags = 0
                while True:
                    chunk = fh.read(CHUNK)
                    if not chunk:
                        break
                    text = tail + chunk
                    if first:
                        first = False
                        dim = _DIMENSION.search(text[:4096])
                        if dim:  # what the writer declares; a lie is caught by the count below
                            extent.columns = max(extent.columns, column_number(dim.group(1)))
                            extent.rows = max(extent.rows, int(dim.group(2)))
                            verdict()
                    # a tag cut at the chunk's end is counted in the next round
                    cut = text.rfind(b"<")
                    body, tail = (text[:cut], text[cut:]) if cut > len(text) - 256 else (text, b"")
                    numbered = _ROW.findall(body)
                    row_tags += len(_ROW_BARE.findall(body))
                    extent.rows = max(extent.rows, row_tags, max((int(m) for m in numbered), default=0))
                    extent.cells += len(_CELL.findall(body))
                    wide = _WIDE_REF.findall(body)
                    if wide:
                        extent.columns = max(extent.columns, max(column_number(w) for w in wide))
                    verdict()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            return None  # a damaged archive: the reader says so
        return extent


def cap_rejected(rejected: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The first REJECTED_ROWS_PER_RULE rows (by source_row) of each rule, and how many rejected
    rows were left out of the list (contract v4 section 2)."""
    if rejected.height <= REJECTED_ROWS_PER_RULE:
        return rejected, 0
    rank = pl.col("source_row").rank("dense").over("rule")
    rows_per_rule = rejected.group_by("rule").agg(pl.col("source_row").n_unique().cast(pl.Int64).alias("n"))
    left_out = int(rows_per_rule.select((pl.col("n") - REJECTED_ROWS_PER_RULE).clip(0).sum()).item())
    return rejected.filter(rank <= REJECTED_ROWS_PER_RULE), left_out
