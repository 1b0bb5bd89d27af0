"""Write small raw files by hand for the ingest tests, and run ingest over them."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from pipelines.ingest.inventory import scan_raw_area
from pipelines.ingest.pseudonymise import DEMO_PII_KEY
from pipelines.ingest.references import read_references, reference_context
from pipelines.ingest.sources import IngestCache, SourceResult, cache_fingerprint, ingest_source

# Valid identifiers, check characters worked out by hand (see test_identifiers.py).
USCC_A = "91350100M000100Y43"
PERSON_A = "11010519491231002X"

# Wenxi towns (real codes from the shipped list).
TONGCHENG = "140823100"
GUOJIAZHUANG = "140823101"


def uscc(n: int) -> str:
    """A valid USCC whose digits 9..17 encode n (check character by the standard's formula)."""
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = f"91140823{n:09d}"
    total = sum(charset.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return body + charset[(31 - total % 31) % 31]


def person(n: int) -> str:
    body = f"14082319900101{n:03d}"
    total = sum(int(c) * pow(2, 18 - i, 11) for i, c in enumerate(body, 1))
    v = (12 - total % 11) % 11
    return body + ("X" if v == 10 else str(v))


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8", mtime: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def write_xlsx(path: Path, rows: list[list], mtime: int | None = None) -> Path:
    import datetime as dt

    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, dt.date):
                ws.write_datetime(r, c, dt.datetime(v.year, v.month, v.day), date_fmt)
            elif isinstance(v, int | float):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, str(v))
    wb.close()
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def ingest(root: Path, source: str, cache_dir: Path | None = None) -> SourceResult:
    files = scan_raw_area(root)
    refs = read_references([f for f in files if f.source == "reference"])
    ctx = reference_context(refs.towns)
    key = DEMO_PII_KEY.encode()
    cache = IngestCache(cache_dir, cache_fingerprint(ctx, key))
    return ingest_source(source, [f for f in files if f.source == source], ctx, key, cache)


def rejected(result: SourceResult) -> set[tuple[str, int, str, str]]:
    """(path, source_row, column, rule) of every rejected cell."""
    out = set()
    for o in result.outcomes:
        for row, col, rule in o.rejected.select("source_row", "column", "rule").iter_rows():
            out.add((o.file.relpath, row, col, rule))
    return out


def only(frame: pl.DataFrame, **where) -> dict:
    rows = frame.filter(**where).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]
