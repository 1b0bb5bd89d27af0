"""Read one raw file into a frame of text cells with canonical column names.

Every cell is kept as text; parsing into numbers, dates and codes happens later, by
expressions, so that a bad cell rejects its row and never the file. What this module
decides per file: the encoding (UTF-8 with or without BOM, else GB18030, which covers GBK),
the header row (the first row with at least three known column names), the money unit of
each column (header bracket, else a `单位：万元` title row, else the source default), and
`source_row`, the 1-based row number a person sees when opening the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

from pipelines.echo import echo
from pipelines.ingest.limits import (
    EXCEL_MAX_COLUMNS,
    LimitExceeded,
    check_csv_size,
    check_xlsx,
    check_xlsx_size,
)
from schemas.columns import MONEY_UNITS, SourceSpec

HEADER_SCAN_ROWS = 50
TOTAL_MARKERS = ("合计", "总计")

_HEADER_UNIT = re.compile(r"^(?P<name>.*?)[(（](?P<unit>[^()（）]*)[)）]$")
# `单位：万元`, `金额单位：千元`; not `填报单位：某某局` (the reporting body).
_TITLE_UNIT = re.compile(r"(?:^|[\s,，;；(（]|金额|计量|货币)单位\s*[：:]\s*(?P<unit>[^\s,，;；）)]+)")


class FileRejected(Exception):  # noqa: N818 - a verdict, not a programming error
    """The whole file cannot be used; the message is bilingual and says what to do."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


@dataclass
class ParsedTable:
    """Text cells under canonical column names, plus `source_row`."""

    frame: pl.DataFrame
    header_row: int
    money_factors: dict[str, float] = field(default_factory=dict)
    encoding: str = "utf-8"


def decode_csv_bytes(data: bytes) -> tuple[bytes, str]:
    """UTF-8 bytes of a CSV and the encoding detected: UTF-8 (BOM or not), else GB18030."""
    head = data[:65536]
    if head.count(b"\x00") > max(8, len(head) // 100):  # UTF-16, a database file, an image...
        raise FileRejected("文件不是文本表格（含二进制内容）",
                           "the file is not a text table (binary content)")
    # a stray NUL stays in its cell: validation rejects that cell (value_invalid), never strips it
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        encoding = "utf-8-sig"
    else:
        encoding = "utf-8"
    try:
        data.decode("utf-8")
        return data, encoding
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise FileRejected(
            "无法识别文件编码（应为 UTF-8、GBK 或 GB18030）",
            "cannot decode the file (expected UTF-8, GBK or GB18030)",
        ) from exc
    return text.encode("utf-8"), "gb18030"


def normalise_header(cell: str | None) -> tuple[str, str | None]:
    """Header text without spaces, and the unit named in brackets, if any."""
    if cell is None:
        return "", None
    text = re.sub(r"[\s\u3000]+", "", str(cell))
    m = _HEADER_UNIT.match(text)
    if m:
        return m.group("name"), m.group("unit")
    return text, None


def header_lookup(spec: SourceSpec) -> dict[str, str]:
    """Accepted header (and the English canonical name, lower-cased) -> canonical column."""
    lookup: dict[str, str] = {}
    for col in spec.columns:
        for h in col.headers:
            lookup[h] = col.name
        lookup[col.name.lower()] = col.name
    return lookup


def _match(name: str, lookup: dict[str, str]) -> str | None:
    return lookup.get(name) or lookup.get(name.lower())


def find_header(rows: list[list[str | None]], spec: SourceSpec) -> int:
    """Index of the first row in which at least three cells are known column names."""
    lookup = header_lookup(spec)
    needed = min(3, len(spec.columns))
    for i, row in enumerate(rows):
        known = {_match(normalise_header(c)[0], lookup) for c in row} - {None}
        if len(known) >= needed:
            return i
    raise FileRejected(
        f"找不到表头：前{len(rows)}行中没有一行含有至少{needed}个已知列名",
        f"no header found: none of the first {len(rows)} rows has {needed} known column names",
    )


def title_unit(rows: list[list[str | None]]) -> str | None:
    """A unit named by a title row such as `单位：万元` or `金额单位：千元`."""
    for row in rows:
        for cell in row:
            if cell is None:
                continue
            m = _TITLE_UNIT.search(str(cell))
            if m:
                unit = m.group("unit")
                if unit not in MONEY_UNITS:
                    raise FileRejected(f"标题行中的金额单位“{unit}”无法识别（应为元、千元、万元或亿元）",
                                       f"unknown money unit '{unit}' in a title row "
                                       "(expected 元, 千元, 万元 or 亿元)")
                return unit
    return None


def map_columns(header: list[str | None], spec: SourceSpec,
                title: str | None) -> tuple[dict[int, str], dict[str, float]]:
    """Position -> canonical column, and each money column's factor to yuan."""
    lookup = header_lookup(spec)
    positions: dict[int, str] = {}
    seen: dict[str, str] = {}
    factors: dict[str, float] = {}
    for pos, cell in enumerate(header):
        name, unit = normalise_header(cell)
        col = _match(name, lookup)
        if col is None:
            continue
        if col in seen:
            raise FileRejected(f"两个表头“{seen[col]}”和“{cell}”对应同一列 {col}",
                               f"two headers ('{seen[col]}' and '{cell}') map to the same column {col}")
        seen[col] = str(cell)
        positions[pos] = col
        if spec.column(col).kind == "money":
            chosen = unit or title or spec.default_money_unit
            if chosen not in MONEY_UNITS:
                raise FileRejected(f"表头“{cell}”中的金额单位“{chosen}”无法识别（应为元、千元、万元或亿元）",
                                   f"unknown money unit '{chosen}' in header '{cell}' "
                                   "(expected 元, 千元, 万元 or 亿元)")
            factors[col] = MONEY_UNITS[chosen]
    missing = [c for c in spec.required if c not in seen]
    if missing:
        labels = "、".join(spec.column(c).label_zh or c for c in missing)
        raise FileRejected(f"缺少必填列：{labels}", f"required column missing: {', '.join(missing)}")
    return positions, factors


def _csv_top_rows(utf8: bytes) -> list[list[str | None]]:
    head = utf8[: 256 * 1024].decode("utf-8", errors="ignore")
    reader = csv.reader(io.StringIO(head))
    rows: list[list[str | None]] = []
    try:
        for row in reader:
            rows.append([c if c != "" else None for c in row])
            if len(rows) >= HEADER_SCAN_ROWS:
                break
    except csv.Error as exc:
        raise FileRejected("CSV 格式错误，无法读取", f"malformed CSV: {short_error(exc)}") from exc
    return rows


def read_csv_cells(data: bytes, spec: SourceSpec) -> ParsedTable:
    utf8, encoding = decode_csv_bytes(data)
    del data
    top = _csv_top_rows(utf8)
    h = find_header(top, spec)
    positions, factors = map_columns(top[h], spec, title_unit(top[:h]))
    try:
        raw = pl.read_csv(
            io.BytesIO(utf8),
            has_header=False,
            infer_schema=False,
            skip_rows=h,
            truncate_ragged_lines=True,
            quote_char='"',
        )
    except Exception as exc:  # polars raises several error types for malformed text
        raise FileRejected("CSV 格式错误，无法读取", f"malformed CSV: {short_error(exc)}") from exc
    raw = raw.slice(1)  # the header row itself
    return _finish(raw, positions, factors, h, spec, encoding)


def read_xlsx_cells(data: bytes, spec: SourceSpec) -> ParsedTable:
    try:  # Excel's limits and the memory bound, from the archive, before anything is unpacked
        check_xlsx(data)
    except LimitExceeded as exc:
        raise FileRejected(exc.zh, exc.en) from exc
    try:
        reader = fastexcel.read_excel(data)
        sheet = reader.load_sheet(0, header_row=None, dtypes="string", skip_rows=0)
        raw = sheet.to_polars()
    except Exception as exc:  # corrupt archive, not a workbook, encrypted...
        raise FileRejected("Excel 文件损坏或无法读取", f"corrupt or unreadable xlsx: {short_error(exc)}") from exc
    if raw.width == 0 or raw.height == 0:
        raise FileRejected("Excel 第一个工作表为空", "the first sheet of the workbook is empty")
    if raw.width > EXCEL_MAX_COLUMNS:  # cells without references cannot be counted before
        raise FileRejected(f"Excel 工作表超出 Excel 的上限：{raw.width:,} 列（最多 {EXCEL_MAX_COLUMNS:,} 列）",
                           f"the sheet is beyond Excel's limits: {raw.width:,} columns "
                           f"(at most {EXCEL_MAX_COLUMNS:,})")
    raw = raw.rename({c: f"column_{i + 1}" for i, c in enumerate(raw.columns)})
    top = [list(r) for r in raw.head(HEADER_SCAN_ROWS).rows()]
    h = find_header(top, spec)
    positions, factors = map_columns(top[h], spec, title_unit(top[:h]))
    return _finish(raw.slice(h + 1), positions, factors, h, spec, "xlsx")


def _finish(raw: pl.DataFrame, positions: dict[int, str], factors: dict[str, float],
            header_index: int, spec: SourceSpec, encoding: str) -> ParsedTable:
    """Name the columns, number the rows as a person sees them, drop blank and total rows."""
    cols = raw.columns
    blank = pl.all_horizontal((pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")) for c in cols)
    frame = (
        raw.with_row_index("source_row", offset=header_index + 2)
        .with_columns(pl.col("source_row").cast(pl.Int64))
        .filter(~blank)
    )
    # Total rows: a cell reads 合计/总计 and the key columns hold nothing else. The exact test
    # runs only on the few rows that contain either word anywhere.
    candidates = frame.filter(pl.any_horizontal(
        # 计 alone: a total may be spaced for alignment (合  计); the exact test below strips spaces
        pl.col(c).str.contains("计", literal=True).fill_null(False) for c in cols))
    if candidates.height:
        def is_total(c: pl.Expr) -> pl.Expr:
            return c.str.replace_all(r"[\s\u3000]", "").is_in(TOTAL_MARKERS).fill_null(False)

        key_blank = pl.all_horizontal(
            (pl.col(cols[p]).str.strip_chars().is_null() | (pl.col(cols[p]).str.strip_chars() == "")
             | is_total(pl.col(cols[p])))
            for p, name in positions.items() if name in spec.key
        )
        totals = candidates.filter(pl.any_horizontal(is_total(pl.col(c)) for c in cols) & key_blank)
        frame = frame.filter(~pl.col("source_row").is_in(totals["source_row"].implode()))
    frame = frame.select("source_row", *[pl.col(cols[p]).alias(name) for p, name in positions.items()])
    # Columns the file does not have are all-null text, so later stages see every column.
    missing = [c.name for c in spec.columns if c.name not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(m) for m in missing)
    return ParsedTable(frame, header_index + 1, factors, encoding)


READERS = {".csv": read_csv_cells, ".xlsx": read_xlsx_cells}


def _unsupported(suffix: str) -> FileRejected:
    return FileRejected(f"不支持的文件格式 {suffix or '(无扩展名)'}（只接受 .csv 和 .xlsx）",
                        f"unsupported format {suffix or '(none)'} (only .csv and .xlsx)")


class FileChanged(Exception):  # noqa: N818 - a verdict, not a programming error
    """The bytes read are not the version listed: the file changed while it was read."""


def read_version(path: Path, sha256: str | None) -> bytes:
    """The bytes of one version of a raw file, read once (contract v4 section 2).

    Refuses, before reading, anything that is not a regular file, an unsupported format and a
    CSV too large for the memory bound; with `sha256`, raises `FileChanged` when the bytes read
    are not that version, so that they are never recorded under another version's hash."""
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise _unsupported(suffix)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise FileRejected("不是普通文件，不会被读取", "not a regular file: never opened")
        try:
            if suffix == ".csv":
                check_csv_size(st.st_size)
            else:
                check_xlsx_size(st.st_size)
        except LimitExceeded as exc:
            raise FileRejected(exc.zh, exc.en) from exc
        data = fh.read()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise FileChanged(path.name)
    return data


def read_cells(path: Path, spec: SourceSpec, data: bytes | None = None) -> ParsedTable:
    """Dispatch on the file's extension; unsupported formats are rejected whole.

    `data`: the file's bytes as read by `read_version` (read here when not given)."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise _unsupported(path.suffix.lower())
    return reader(read_version(path, None) if data is None else data, spec)


def short_error(exc: BaseException) -> str:
    """A library's error as one short line a reader may see: no absolute path, no person ID."""
    text = " ".join(str(exc).split())
    text = re.sub(r"(?:/[^\s/:'\"]+)+/([^\s/:'\"]+)", r"\1", text)  # absolute paths: the file name only
    text = text.split("Context:")[0].strip() or exc.__class__.__name__
    return echo(text) or exc.__class__.__name__


CHANGED_MESSAGE = ("文件在读取过程中被修改，本次未使用，下次刷新时重新读取 / the file changed while it was read: "
                   "not used this time, read again at the next refresh")
GONE_MESSAGE = "文件在列出后被删除或移走 / the file was removed or moved after it was listed"


def failure_message(exc: BaseException) -> str:
    """What staff read when reading one file went wrong in a way that says nothing about its
    bytes (it changed, vanished, could not be read, or a library failed): the error class and
    a short reason, raw-relative names only."""
    if isinstance(exc, FileChanged):
        return CHANGED_MESSAGE
    if isinstance(exc, FileNotFoundError):
        return GONE_MESSAGE
    name = exc.__class__.__name__
    reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror else short_error(exc))[:200]
    if isinstance(exc, OSError):
        return f"无法读取（{name}：{reason}） / cannot be read ({name}: {reason})"
    return (f"读取或校验此文件时出错（{name}：{reason}），此文件未使用，其他文件照常处理 / unexpected "
            f"error while reading or validating this file ({name}: {reason}); it was not used, "
            "the other files load")
