"""The named reference: a hand-written DuckDB job doing the same refresh from the same files.

It is deliberately plain: no Dagster, no per-column rule bookkeeping, no dq tables, no
lineage, no disclosure control, no evaluation. What it does (each phase timed):

1. decode   every CSV checked for UTF-8 (BOM allowed) and read by DuckDB in place; a GB18030
            CSV is transcoded to a UTF-8 copy (both by a pool of processes, one per core,
            forked before DuckDB starts) and every xlsx written as a UTF-8 CSV (fastexcel, all
            text); Python picks the header row, the column mapping and the money units per
            file with the pipeline's own `find_header`, `title_unit` and `map_columns` (the
            contract's header rules, not re-implemented here).
2. read     DuckDB `read_csv(..., skip=, header=true, all text columns)` per file, the files
            of a source stacked with `UNION ALL BY NAME` into one in-memory table of text cells
            (an in-memory database: nothing is persisted; past the memory limit DuckDB spills).
3. validate in SQL, per source (`validate`): identifiers (USCC GB 32100 check character,
            person ID MOD 11-2, town code in the towns list, industry class in the GB/T
            4754-2017 list), years, periods and dates normalised, numbers parsed, money units
            applied, ranges, booleans, levels. Identifier-like columns are checked once per
            distinct cell into a table of the valid cells, which the rows join on plain
            equality (an invalid cell drops its row in the join); every other cell is parsed
            once (numbers by a plain cast, the separator-stripping regex only where that
            fails) and the rows are written straight into the fact table with one validity
            column, the invalid rows deleted after. Keys duplicated inside a file dropped and
            supersession by file order (mtime, path): one hash aggregation finds the keys seen
            more than once (few), every other row is current as it is, and the rule is applied
            in full only to those keys. A person ID is keyed by a 64-bit code (its 17 digits
            · 11 + check value, as the pipeline's `_id_code`) and its check digit computed on
            that integer; person_key = HMAC-SHA256 once per distinct valid ID by the pipeline's
            `PersonKeyer` (hashlib with the padded key blocks hashed once), joined to the rows
            together with the code.
4. indicators  ind_town_year: enterprises, output_value, revenue, employees, tax_total
            (taxpayer's enterprise-report town for Y, else its register town),
            insured_persons (distinct persons enrolled in December at employers of the town),
            market_entities (register entities of the town alive at Y-12-31).
5. load     the four fact tables and ind_town_year into a fresh SQLite file through ADBC's
            SQLite driver (`adbc_ingest` of DuckDB's Arrow record batches; 64 KiB pages,
            journal off, synchronous off, exclusive lock), each a WITHOUT ROWID table whose
            PRIMARY KEY is its key, fed in key order (DuckDB sorts). DuckDB's own sqlite
            extension is not used: it downloads itself at first use, and PyPI has no
            duckdb-extension-sqlite wheel for duckdb 2.0.x. (Until the third session: sqlite3
            `executemany`, 365 s at province scale; until issue 16: a file database, windows
            for supersession, a rowid table plus a key index built after.)

Speed history at province scale (45.6 M rows read, 2 cores). Issue 16 before item 1:
339.5 s = decode 21.9, read 11.0, validate 193.5, indicators 3.9, load 105.1 (peak RSS
6.5 GB). Validate went to money/integer cells parsed (a regex each) three or four times per
row (the row filter pushed below the parsing), supersession aggregating struct payloads over
all rows twice, HMAC and check digits in SQL text functions, and joins on coalesce() keys.
Issue 16 item 1 (this version; the machine shared, load average 3 to 9.5 during both runs):
247.3 s = decode 15.1, read 15.6, validate 64.9, indicators 1.8, load 149.5, and 260.9 s =
decode 25.0, read 26.8, validate 65.4, indicators 5.0, load 138.0 (peak RSS 6.9 GB; the read
phase, unchanged, shows how much the other jobs took). The load is unchanged but for 64 KiB
pages (10 to 20 % faster than 16 KiB for the employment table, measured alone); its CPU time
on a province subset was the same as before, so its wall time here is the other jobs'.

Run alone: `python bench/reference.py --raw DIR --out DIR [--truth DIR]`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import polars as pl  # noqa: E402

from pipelines.ingest.inventory import scan_raw_area  # noqa: E402
from pipelines.ingest.pseudonymise import PersonKeyer, pii_key  # noqa: E402
from pipelines.ingest.readers import (  # noqa: E402
    FileRejected,
    find_header,
    map_columns,
    title_unit,
)
from pipelines.reference import industry_classes, shipped_towns  # noqa: E402
from schemas.columns import SOURCES  # noqa: E402

DATA_SOURCES = ("enterprise", "tax", "employment", "registry")
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
BLANKS = "('', '-', '—', '——', '－', '/', '无')"
TRUE_WORDS = "('是', '有', 'y', 'yes', 'true', '1', '1.0', 't')"
FALSE_WORDS = "('否', '无', 'n', 'no', 'false', '0', '0.0', 'f')"
LEVELS = {"无": "none", "none": "none", "市级": "municipal", "municipal": "municipal",
          "省级": "provincial", "provincial": "provincial", "国家级": "national", "national": "national"}
ENTITY_TYPES = {"企业": "enterprise", "enterprise": "enterprise", "个体工商户": "individual",
                "individual": "individual", "农民专业合作社": "cooperative",
                "cooperative": "cooperative"}


# ---------------------------------------------------------------------------- phase 1: decode

def decode_bytes(data: bytes) -> tuple[bytes | None, bool]:
    """(UTF-8 bytes, transcoded): UTF-8 (BOM stripped) as is, else GB18030 transcoded; None
    when neither (or binary)."""
    if b"\x00" in data[:65536]:
        return None, False
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        data.decode("utf-8")
        return data, False
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030").encode("utf-8"), True
    except UnicodeDecodeError:
        return None, False


def xlsx_to_csv_bytes(path: Path) -> bytes | None:
    import fastexcel

    try:
        frame = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string").to_polars()
    except Exception:  # corrupt workbook: the pipeline rejects it too
        return None
    if frame.width == 0:
        return None
    return frame.write_csv(include_header=False).encode("utf-8")


def top_rows(utf8: bytes, n: int = 50) -> list[list[str | None]]:
    reader = csv.reader(io.StringIO(utf8[: 256 * 1024].decode("utf-8", errors="ignore")))
    rows = []
    for row in reader:
        rows.append([c if c != "" else None for c in row])
        if len(rows) >= n:
            break
    return rows


def _decode_csv(job: tuple[str, str]) -> tuple[bytes | None, bool]:
    """In a worker process: a CSV's first 256 KB as UTF-8 and whether it was transcoded; a
    transcoded (GB18030) file written as UTF-8 to the second path."""
    src, copy = job
    utf8, transcoded = decode_bytes(Path(src).read_bytes())
    if utf8 is not None and transcoded:
        Path(copy).parent.mkdir(parents=True, exist_ok=True)
        Path(copy).write_bytes(utf8)
    return (None if utf8 is None else utf8[: 256 * 1024]), transcoded


def decode_area(raw: Path, work: Path, workers: int | None = None) -> tuple[list[dict], dict]:
    """Every data file as a UTF-8 CSV in `work`, with its header row, mapping and units. The
    CSVs are checked and transcoded by a pool of processes (one per core; forked before DuckDB
    starts), in file order; the xlsx files and the header rules run here meanwhile."""
    import multiprocessing

    plans: list[dict] = []
    stats = {"files": 0, "bytes": 0, "skipped": 0}
    seen_sha: set[str] = set()
    files = [f for f in scan_raw_area(raw) if f.source in DATA_SOURCES]
    todo = []
    for f in sorted(files, key=lambda f: (f.source, f.mtime, f.relpath)):
        suffix = f.path.suffix.lower()
        if suffix not in (".csv", ".xlsx") or f.sha256 in seen_sha:
            stats["skipped"] += 1
            continue
        seen_sha.add(f.sha256)
        todo.append(f)
    csvs = [(str(f.path), str(work / f.source / f"{i:05d}.csv"))
            for i, f in enumerate(todo) if f.path.suffix.lower() == ".csv"]
    with multiprocessing.get_context("fork").Pool(workers or os.cpu_count() or 1) as pool:
        decoded = pool.imap(_decode_csv, csvs)
        for i, f in enumerate(todo):
            if f.path.suffix.lower() == ".csv":
                head, transcoded = next(decoded)
            else:
                utf8 = xlsx_to_csv_bytes(f.path)
                head, transcoded = utf8, True
            stats["bytes"] += f.bytes
            if head is None:
                stats["skipped"] += 1
                continue
            spec = SOURCES[f.source]
            top = top_rows(head)
            try:
                h = find_header(top, spec)
                positions, factors = map_columns(top[h], spec, title_unit(top[:h]))
            except (FileRejected, csv.Error):
                stats["skipped"] += 1
                continue
            out = work / f.source / f"{i:05d}.csv"
            if not transcoded:
                out = f.path  # already UTF-8 (DuckDB skips a BOM itself): read in place, no copy
            elif f.path.suffix.lower() == ".xlsx":
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(utf8)
            plans.append({"source": f.source, "csv": str(out), "relpath": f.relpath, "skip": h,
                          "width": len(top[h]), "positions": positions, "factors": factors,
                          "version": len([p for p in plans if p["source"] == f.source])})
            stats["files"] += 1
    return plans, stats


# ---------------------------------------------------------------------------- phase 2: read

def read_sql(plan: dict, spec) -> str:
    """One file as text cells under canonical names, plus file version and money factors."""
    names = [plan["positions"].get(i, f"_x{i}") for i in range(plan["width"])]
    cols = ", ".join(f"'{n}': 'VARCHAR'" for n in names)
    picks = [f'"{n}"' for n in names if not n.startswith("_x")]
    picks += [f"{plan['factors'].get(c.name, 1.0)}::DOUBLE AS \"f_{c.name}\""
              for c in spec.columns if c.kind == "money"]
    path = plan["csv"].replace("'", "''")
    return (f"SELECT {plan['version']}::INTEGER AS __version, {', '.join(picks)} "
            f"FROM read_csv('{path}', skip={plan['skip']}, header=true, columns={{{cols}}}, "
            f"quote='\"', escape='\"', delim=',', null_padding=true, strict_mode=false, "
            f"auto_detect=false)")


# ---------------------------------------------------------------------------- phase 3: validate

def _t(c: str) -> str:
    return f"trim(\"{c}\")"


def _blank(c: str) -> str:
    return f"({_t(c)} IS NULL OR {_t(c)} IN {BLANKS})"


def _num(c: str) -> str:
    """A number cell as DOUBLE: separators and white space removed. The plain cast first (most
    cells have none, and DuckDB's cast ignores only outer white space, so where it succeeds it
    gives what the cleaned text gives), the regex only for the cells it rejects."""
    return (f"coalesce(TRY_CAST({_t(c)} AS DOUBLE), "
            f"TRY_CAST(regexp_replace({_t(c)}, '[,，\\s]', '', 'g') AS DOUBLE))")


def uscc_sql(u: str) -> str:
    """Valid when 18 charset characters and the GB 32100 check character matches."""
    terms = " + ".join(f"(strpos('{USCC_CHARSET}', substr({u}, {i + 1}, 1)) - 1) * {pow(3, i, 31)}"
                       for i in range(17))
    return (f"(regexp_full_match({u}, '[{USCC_CHARSET}]{{18}}') AND "
            f"substr('{USCC_CHARSET}', ((31 - ({terms}) % 31) % 31) + 1, 1) = substr({u}, 18, 1))")


def person_code_sql(p: str) -> str:
    """A person ID of the normalised shape as a BIGINT, one to one: its 17 digits · 11 + its
    check value (X = 10), the pipeline's `_id_code`; NULL for any other text."""
    return (f"CASE WHEN regexp_full_match({p}, '[0-9]{{17}}[0-9X]') THEN "
            f"TRY_CAST(substr({p}, 1, 17) AS BIGINT) * 11 + "
            f"CASE WHEN substr({p}, 18, 1) = 'X' THEN 10 ELSE TRY_CAST(substr({p}, 18, 1) AS BIGINT) END END")


def person_sql(code: str) -> str:
    """GB 11643 on the code of `person_code_sql`: the ISO 7064 MOD 11-2 check digit of the 17
    digits (taken from the integer, no text) equals the check value."""
    terms = " + ".join(f"(({code} // 11 // {10 ** (17 - i)}) % 10) * {pow(2, 18 - i, 11)}"
                       for i in range(1, 18))
    return f"((12 - ({terms}) % 11) % 11 = {code} % 11)"


def column_sql(c, max_year: int) -> tuple[str, str, str, str | None]:
    """(normalised column, value expression, ok expression, regex groups computed before)."""
    n, k, req = c.name, c.kind, c.required
    q = f'"{n}"'
    blank_ok = "FALSE" if req else "TRUE"
    if k == "uscc":
        pre = f"upper(regexp_replace({q}, '[\\s\u3000]+', '', 'g')) AS \"{n}\""
        return pre, q, f"coalesce({uscc_sql(q)}, FALSE)"
    if k == "person_id":
        # already of the normalised shape (most cells): nothing to remove or translate
        pre = (f"CASE WHEN regexp_full_match({q}, '[0-9]{{17}}[0-9X]') THEN {q} ELSE "
               f"translate(regexp_replace({q}, '[\\s\u3000]+', '', 'g'), "
               f"'０１２３４５６７８９Ｘｘx', '0123456789XXX') END AS \"{n}\"")
        return pre, q, f"coalesce({person_sql('__code')}, FALSE)"  # __code: see distinct_sql
    if k == "town":
        t = f"regexp_replace({_t(n)}, '[\\s\u3000]', '', 'g')"
        pre = (f"CASE WHEN regexp_full_match({t}, '\\d{{9}}000') THEN substr({t}, 1, 9) "
               f"ELSE {t} END AS \"{n}\"")
        return pre, q, f"{q} IN (SELECT town_code FROM towns)"
    if k == "industry":
        t = f"regexp_replace(upper(regexp_replace({_t(n)}, '[\\s\u3000]', '', 'g')), '^[A-Z]', '')"
        pre = f"CASE WHEN regexp_full_match({t}, '\\d{{1,4}}') THEN lpad({t}, 4, '0') END AS \"{n}\""
        return pre, q, f"{q} IN (SELECT industry_code FROM industries)"
    if k == "hukou":
        t = f"regexp_replace({_t(n)}, '[\\s\u3000]', '', 'g')"
        return f"{t} AS \"{n}\"", q, f"coalesce(regexp_full_match({q}, '\\d{{6}}|\\d{{9}}|\\d{{12}}'), FALSE)"
    if k == "text":
        return f"nullif({_t(n)}, '') AS \"{n}\"", q, f"({q} IS NOT NULL OR {blank_ok})"
    if k == "year":
        v = f"TRY_CAST(regexp_extract({_t(n)}, '^(\\d{{4}})(?:\\.0+)?年?$', 1) AS INTEGER)"
        pre = f"CASE WHEN {_blank(n)} THEN NULL ELSE coalesce({v}, -1) END AS \"{n}\""
        return pre, q, f"({q} BETWEEN 2000 AND {max_year} OR ({q} IS NULL AND {blank_ok}))"
    if k == "period":
        norm = (f"regexp_replace(replace(replace(replace(regexp_replace(regexp_replace({_t(n)}, "
                f"'\\s+\\d{{1,2}}:\\d{{2}}(?::\\d{{2}}(?:\\.\\d+)?)?$', ''), '[\\s\u3000]', '', 'g'), "
                f"'年', '-'), '月', ''), '/', '-'), '\\.0+$', '')")
        g = f"regexp_extract({norm}, '^(\\d{{4}})(?:-(\\d{{1,2}})|(\\d{{2}}))(?:-\\d{{1,2}})?$', ['y', 'm1', 'm2'])"
        gq = f'"__g_{n}"'
        month = f"coalesce(nullif({gq}.m1, ''), {gq}.m2)"
        pre = (f"CASE WHEN {_blank(n)} THEN NULL WHEN {gq}.y <> '' AND "
               f"TRY_CAST({month} AS INTEGER) BETWEEN 1 AND 12 THEN "
               f"{gq}.y || '-' || lpad({month}, 2, '0') ELSE 'bad' END AS \"{n}\"")
        ok = (f"(({q} IS NULL AND {blank_ok}) OR ({q} <> 'bad' AND "
              f"TRY_CAST(substr({q}, 1, 4) AS INTEGER) BETWEEN 2000 AND {max_year}))")
        return pre, q, ok, f"{g} AS {gq}"
    if k == "date":
        norm = (f"replace(replace(replace(replace(regexp_replace({_t(n)}, '[\\s\u3000]+', ' ', 'g'), "
                f"'年', '-'), '月', '-'), '日', ''), '/', '-')")
        g = (f"regexp_extract({norm}, '^(\\d{{4}})-(\\d{{1,2}})-(\\d{{1,2}})(?: \\d{{1,2}}:\\d{{2}}:\\d{{2}}"
             f"(?:\\.\\d+)?)?$|^(\\d{{4}})(\\d{{2}})(\\d{{2}})$', ['y', 'm', 'd', 'y8', 'm8', 'd8'])")
        gq = f'"__g_{n}"'
        y, m, d = (f"coalesce(nullif({gq}.{a}, ''), {gq}.{b})"
                   for a, b in (("y", "y8"), ("m", "m8"), ("d", "d8")))
        text = f"{y} || '-' || lpad({m}, 2, '0') || '-' || lpad({d}, 2, '0')"
        pre = (f"CASE WHEN {_blank(n)} THEN NULL ELSE coalesce(TRY_CAST({text} AS DATE), "
               f"DATE '0001-01-01') END AS \"{n}\"")
        ok = f"(({q} IS NULL AND {blank_ok}) OR ({q} IS NOT NULL AND {q} <> DATE '0001-01-01'))"
        return pre, q, ok, f"{g} AS {gq}"
    if k == "money":
        v = f"round({_num(n)} * \"f_{n}\", 2)"
        pre = f"CASE WHEN {_blank(n)} THEN NULL ELSE coalesce({v}, 'NaN'::DOUBLE) END AS \"{n}\""
        rng = f" AND {q} >= {c.minimum}" if c.minimum is not None else ""
        ok = f"(({q} IS NULL AND {blank_ok}) OR (isfinite({q}){rng}))"
        return pre, q, ok  # a valid row's money is finite or NULL
    if k == "integer":
        v = _num(n)
        pre = (f"CASE WHEN {_blank(n)} THEN NULL WHEN {v} = floor({v}) AND abs({v}) < 9e15 "
               f"THEN CAST({v} AS BIGINT) ELSE -9223372036854775807 END AS \"{n}\"")
        rng = ""
        if c.minimum is not None:
            rng += f" AND {q} >= {int(c.minimum)}"
        if c.maximum is not None:
            rng += f" AND {q} <= {int(c.maximum)}"
        ok = f"(({q} IS NULL AND {blank_ok}) OR ({q} <> -9223372036854775807{rng}))"
        return pre, q, ok
    if k == "boolean":
        lt = f"lower({_t(n)})"
        pre = (f"CASE WHEN {_blank(n)} THEN FALSE WHEN {lt} IN {TRUE_WORDS} THEN TRUE "
               f"WHEN {lt} IN {FALSE_WORDS} THEN FALSE END AS \"{n}\"")
        return pre, q, f"{q} IS NOT NULL"
    if k in ("level", "entity_type"):
        mapping = LEVELS if k == "level" else ENTITY_TYPES
        cases = " ".join(f"WHEN '{a}' THEN '{b}'" for a, b in mapping.items())
        lt = f"lower({_t(n)})"
        blank_value = "'none'" if k == "level" else "NULL"
        pre = f"CASE WHEN {_blank(n)} THEN {blank_value} ELSE (CASE {lt} {cases} END) END AS \"{n}\""
        return pre, q, f"{q} IS NOT NULL"
    raise ValueError(k)


# Kinds with few distinct values compared with the rows: checked once per distinct value.
DISTINCT_KINDS = {"uscc", "person_id", "town", "industry", "hukou", "period", "date", "year"}


def distinct_sql(source: str, c, max_year: int, cells: str | None = None) -> str:
    """(raw cell __k, normalised value __v, valid __ok) once per distinct cell of a column; the
    person ID also as its code __code (`person_code_sql`)."""
    pre, _, ok, *group = column_sql(c, max_year)
    n = c.name
    g = "".join(", " + x for x in group if x)
    cells = cells or f'SELECT DISTINCT "{n}" FROM raw_{source}'
    norm = f'SELECT "{n}" AS __k, {pre} FROM (SELECT "{n}"{g} FROM ({cells}))'
    code = ""
    if c.kind == "person_id":
        norm = f'SELECT *, {person_code_sql(chr(34) + n + chr(34))} AS __code FROM ({norm})'
        code = ", __code"
    return f'SELECT __k, "{n}" AS __v{code}, {ok} AS __ok FROM ({norm})'


def validate(con: duckdb.DuckDBPyConnection, source: str, max_year: int, pii: bytes) -> int:
    """Fact table of a source (`FACT_TABLES`, `FACT_SQL`): its valid rows, no key duplicated
    inside a file, the latest file winning; raw_{source} is dropped once read. Returns rows.

    1. d_{source}_{column}: the valid distinct cells of every identifier-like column,
       normalised (`distinct_sql`); the rows join them on plain equality, so a row with an
       invalid such cell drops out in the join (an empty cell: inner join when the rules reject
       it, else a left join that lets only an empty cell through unmatched).
    2. the fact table is written from the joined rows with the other cells parsed once and all
       checks in one column __ok; not filtered on the way (a filter would be pushed below the
       parsing and parse every cell twice), the invalid rows are deleted after.
    3. supersession: the keys seen more than once among the valid rows (one hash aggregation
       over the key, no payload) are few; every other valid row is current as it is. The rows
       of those keys are deleted and the rule applied to them in full is inserted back: keys
       seen once in a file, then the row of the latest such file. The employment key holds the
       person ID's code (__pcode), not its text."""
    spec = SOURCES[source]
    # key cells are required, so never NULL in a valid row: plain equality joins on the key
    assert all(c.required for c in spec.columns if c.name in spec.key), source
    joins, cols, oks, groups = [], [], [], []
    for c in spec.columns:
        n = c.name
        if c.kind in DISTINCT_KINDS:
            d = f"d_{source}_{n}"
            con.execute(f"CREATE TEMP TABLE {d} AS SELECT * EXCLUDE (__ok) "
                        f"FROM ({distinct_sql(source, c, max_year)}) WHERE __ok")
            # the empty cell: valid or not, as the rules say (valid only as NULL here)
            null_cell = f'SELECT NULL::VARCHAR AS "{n}"'
            null_v, null_ok = con.execute(
                f"SELECT __v, __ok FROM ({distinct_sql(source, c, max_year, null_cell)})").fetchall()[0]
            if null_ok:
                assert null_v is None, (source, n, null_v)
                joins.append(f'LEFT JOIN {d} ON r."{n}" = {d}.__k')
                cols.append(f'({d}.__k IS NOT NULL OR r."{n}" IS NULL) AS __m_{n}')
                oks.append(f"__m_{n}")
            else:
                joins.append(f'JOIN {d} ON r."{n}" = {d}.__k')
            cols.append(f'{d}.__code AS "{n}", {d}.person_key' if c.kind == "person_id"
                        else f'{d}.__v AS "{n}"')
        else:
            pre, _, ok, *group = column_sql(c, max_year)
            cols.append(pre)
            oks.append(ok)
            groups += [x for x in group if x]
    if source == "registry":
        oks.append("(deregistered IS NULL OR established IS NULL OR deregistered >= established)")
    if source == "employment":  # the rows get code and key from one join
        person_keys(con, pii)
    inner = (f"SELECT r.__version, {', '.join(cols)} FROM "
             f"(SELECT *{''.join(', ' + g for g in groups)} FROM raw_{source}) r {' '.join(joins)}")
    names = ", ".join(f'"{c.name}"' for c in spec.columns) + (", person_key" if source == "employment" else "")
    con.execute(f"CREATE TEMP VIEW v_{source} AS SELECT __version, {names}, "
                f"({' AND '.join(oks) if oks else 'TRUE'}) AS __ok FROM ({inner})")
    table, _ = FACT_TABLES[source]
    con.execute(f"CREATE TABLE {table} AS {FACT_SQL[source]}")
    con.execute(f"DROP VIEW v_{source}")
    con.execute(f"DROP TABLE raw_{source}")
    con.execute(f"DELETE FROM {table} WHERE __ok IS NOT TRUE")  # NULL: not valid
    keys = ", ".join(f'"{k}"' for k in spec.key).replace('"person_id"', "__pcode")
    on = " AND ".join(f"f.{k} = m.{k}" for k in keys.split(", "))
    con.execute(f"CREATE TEMP TABLE multi_{source} AS SELECT {keys} FROM {table} "
                f"GROUP BY {keys} HAVING count(*) > 1")
    con.execute(f"""CREATE TEMP TABLE resolved_{source} AS
        SELECT * FROM (
            SELECT * FROM {table} f SEMI JOIN multi_{source} m ON {on}
            QUALIFY count(*) OVER (PARTITION BY source_version, {keys}) = 1)
        QUALIFY source_version = max(source_version) OVER (PARTITION BY {keys})""")
    con.execute(f"DELETE FROM {table} f USING multi_{source} m WHERE {on}")
    con.execute(f"INSERT INTO {table} SELECT * FROM resolved_{source}")
    for t in [f"d_{source}_{c.name}" for c in spec.columns if c.kind in DISTINCT_KINDS]:
        con.execute(f"DROP TABLE {t}")
    con.execute(f"DROP TABLE multi_{source}")
    con.execute(f"DROP TABLE resolved_{source}")
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def person_keys(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """person_key, the HMAC-SHA256 of the valid person ID, added to d_employment_person_id:
    once per distinct ID (by its code), by the pipeline's `PersonKeyer` (the two padded key
    blocks hashed once; hashlib, about 2 µs an ID on one core, a quarter of the CPU that
    sha256/unhex/encode took in SQL)."""
    import pyarrow as pa

    ids = con.sql("SELECT __code, any_value(__v) AS __v FROM d_employment_person_id "
                  "GROUP BY __code").to_arrow_table()
    digests = PersonKeyer(key)._digests(ids.column("__v").to_pylist())
    table = pa.table({"__code": ids.column("__code"), "person_key": pa.array(digests, pa.string())})
    con.register("person_keys_arrow", table)
    con.execute("CREATE TEMP TABLE d_employment_person_id_k AS SELECT d.*, k.person_key "
                "FROM d_employment_person_id d JOIN person_keys_arrow k USING (__code)")
    con.unregister("person_keys_arrow")
    con.execute("DROP TABLE d_employment_person_id")
    con.execute("ALTER TABLE d_employment_person_id_k RENAME TO d_employment_person_id")


FACT_SQL = {
    "enterprise": """
        SELECT f.* EXCLUDE (__version, __ok), coalesce(f.revenue >= t.threshold, FALSE) AS above_scale,
               f.__version AS source_version, __ok
        FROM v_enterprise f LEFT JOIN thresholds t USING (industry_code)""",
    "tax": """
        SELECT period, CAST(substr(period, 1, 4) AS INTEGER) AS year, uscc, vat,
               corporate_income_tax, other_tax,
               coalesce(total_tax, CASE WHEN vat IS NOT NULL OR corporate_income_tax IS NOT NULL
                        OR other_tax IS NOT NULL THEN round(coalesce(vat, 0)
                        + coalesce(corporate_income_tax, 0) + coalesce(other_tax, 0), 2) END)
                   AS total_tax,
               total_tax AS total_tax_reported, invoice_sales, __version AS source_version, __ok
        FROM v_tax""",
    "employment": """
        SELECT period, CAST(substr(period, 1, 4) AS INTEGER) AS year, person_key,
               employer_uscc, hukou_code, substr(hukou_code, 1, 6) AS hukou_county_code,
               contribution_base, __version AS source_version, __ok, person_id AS __pcode
        FROM v_employment""",
    "registry": "SELECT * EXCLUDE (__version, __ok), __version AS source_version, __ok FROM v_registry",
}

FACT_TABLES = {"enterprise": ("fact_enterprise_year", "year, uscc"),
               "tax": ("fact_tax_month", "period, uscc"),
               "employment": ("fact_employment_month", "period, person_key, employer_uscc"),
               "registry": ("fact_market_entity", "uscc")}

TOWN_YEAR_SQL = """
WITH years AS (SELECT DISTINCT year FROM fact_enterprise_year),
town_of AS (  -- the town of every register entity or reporting enterprise in every year
    SELECT y.year, r.uscc, coalesce(e.town_code, r.town_code) AS town_code
    FROM years y CROSS JOIN fact_market_entity r
    LEFT JOIN fact_enterprise_year e ON e.year = y.year AND e.uscc = r.uscc
    UNION ALL
    SELECT e.year, e.uscc, e.town_code FROM fact_enterprise_year e
    WHERE e.uscc NOT IN (SELECT uscc FROM fact_market_entity)),
ent AS (SELECT town_code, year, count(*) AS enterprises,
               coalesce(sum(output_value), 0) AS output_value, coalesce(sum(revenue), 0) AS revenue,
               coalesce(sum(employees), 0) AS employees
        FROM fact_enterprise_year GROUP BY ALL),
tax AS (SELECT o.town_code, t.year, sum(t.total_tax) AS tax_total
        FROM fact_tax_month t JOIN town_of o ON o.year = t.year AND o.uscc = t.uscc GROUP BY ALL),
ins AS (SELECT o.town_code, m.year, count(DISTINCT m.person_key) AS insured_persons
        FROM fact_employment_month m JOIN town_of o ON o.year = m.year AND o.uscc = m.employer_uscc
        WHERE substr(m.period, 6, 2) = '12' GROUP BY ALL),
mkt AS (SELECT r.town_code, y.year, count(*) AS market_entities
        FROM fact_market_entity r JOIN years y
          ON r.established <= make_date(y.year, 12, 31)
         AND (r.deregistered IS NULL OR r.deregistered > make_date(y.year, 12, 31))
        GROUP BY ALL),
keys AS (SELECT town_code, year FROM ent UNION SELECT town_code, year FROM tax
         UNION SELECT town_code, year FROM ins UNION SELECT town_code, year FROM mkt)
SELECT k.town_code, k.year, coalesce(enterprises, 0) AS enterprises,
       round(coalesce(output_value, 0), 2) AS output_value, round(coalesce(revenue, 0), 2) AS revenue,
       coalesce(employees, 0) AS employees, round(coalesce(tax_total, 0), 2) AS tax_total,
       coalesce(insured_persons, 0) AS insured_persons,
       coalesce(market_entities, 0) AS market_entities
FROM keys k JOIN years USING (year)
LEFT JOIN ent USING (town_code, year) LEFT JOIN tax USING (town_code, year)
LEFT JOIN ins USING (town_code, year) LEFT JOIN mkt USING (town_code, year)
ORDER BY k.town_code, k.year
"""


def threshold_rows(industries: pl.DataFrame) -> list[tuple[str, float]]:
    """The contract's above-scale revenue thresholds, per industry class."""
    rows = []
    for code, section in industries.select("industry_code", "section").iter_rows():
        div = code[:2]
        t = None
        if section in "BCD" or div == "51" or section in "GIN" or div == "84":
            t = 20_000_000.0
        if section in "LMP" or code in ("7020", "7030", "7040", "7090"):
            t = 10_000_000.0
        if div == "52" or section in "OR" or div == "85":
            t = 5_000_000.0
        if section == "H":
            t = 2_000_000.0
        if t is not None:
            rows.append((code, t))
    return rows


# ---------------------------------------------------------------------------- phase 5: load

SQLITE_TYPES = {"VARCHAR": "TEXT", "INTEGER": "INTEGER", "BIGINT": "INTEGER", "DOUBLE": "REAL",
                "BOOLEAN": "INTEGER", "DATE": "TEXT", "HUGEINT": "INTEGER", "DECIMAL": "REAL"}


def load_sqlite(con: duckdb.DuckDBPyConnection, target: Path, tables: dict[str, str],
                batch: int = 500_000) -> dict[str, int]:
    """Copy DuckDB tables to SQLite through ADBC's SQLite driver (DuckDB's Arrow batches bound
    in C, no Python object per value). Each table is a WITHOUT ROWID table whose PRIMARY KEY is
    its key, filled in key order (DuckDB sorts, in parallel): SQLite appends to one B-tree
    instead of filling a rowid table and then sorting the key into a second one."""
    from adbc_driver_sqlite import dbapi as adbc

    counts = {}
    with adbc.connect(str(target), autocommit=True) as db, db.cursor() as cur:
        for pragma in ("page_size = 65536", "journal_mode = OFF", "synchronous = OFF",
                       "locking_mode = EXCLUSIVE", "cache_size = -262144"):
            cur.execute(f"PRAGMA {pragma}")
            cur.fetchall()
        for table, key in tables.items():
            # __ok and __pcode (validation's) are not the fact's
            cols = [c for c in con.execute(f"DESCRIBE {table}").fetchall() if not c[0].startswith("__")]
            ddl = ", ".join(f'"{c[0]}" {SQLITE_TYPES.get(c[1].split("(")[0], "TEXT")}' for c in cols)
            cur.execute(f'CREATE TABLE "{table}" ({ddl}, PRIMARY KEY ({key})) WITHOUT ROWID')
            cast_to = {"DATE": "VARCHAR", "HUGEINT": "BIGINT", "DECIMAL": "DOUBLE"}
            # named as the table's columns: ADBC inserts by name
            casts = ", ".join(f'CAST("{c[0]}" AS {cast_to[c[1].split("(")[0]]}) AS "{c[0]}"'
                              if c[1].split("(")[0] in cast_to else f'"{c[0]}"' for c in cols)
            reader = con.sql(f"SELECT {casts} FROM {table} ORDER BY {key}").to_arrow_reader(batch)
            counts[table] = cur.adbc_ingest(table, reader, mode="append")
    return counts


# ---------------------------------------------------------------------------- the job

def compare_truth(con: duckdb.DuckDBPyConnection, truth: Path) -> dict:
    """Town-year indicators of the reference against the demo's ground truth, per column."""
    con.execute(f"CREATE TABLE truth AS SELECT * FROM read_csv('{truth / 'town_year.csv'}', "
                "all_varchar=true)")
    out = {}
    cols = ["enterprises", "output_value", "revenue", "employees", "tax_total", "insured_persons",
            "market_entities"]
    n_truth = con.execute("SELECT count(*) FROM truth").fetchone()[0]
    for c in cols:
        bad = con.execute(f"""
            SELECT count(*) FROM truth t FULL JOIN ind_town_year r
              ON r.town_code = t.town_code AND r.year = CAST(t.year AS INTEGER)
            WHERE abs(coalesce(CAST(t.{c} AS DOUBLE), 0) - coalesce(CAST(r.{c} AS DOUBLE), 0)) > 0.005
        """).fetchone()[0]
        out[c] = {"rows": n_truth, "mismatched": bad}
    return out


def run(raw: Path, out: Path, truth: Path | None = None, memory_limit: str = "6GB",
        progress=print) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    work = out / "utf8"
    phases: dict[str, float] = {}
    t_all = time.perf_counter()

    t = time.perf_counter()
    plans, stats = decode_area(raw, work)
    phases["decode"] = time.perf_counter() - t
    progress(f"  reference decode: {stats['files']} files, {stats['bytes'] / 1e6:.0f} MB "
             f"in {phases['decode']:.1f}s")

    # in memory: nothing of the job is worth persisting; past the limit DuckDB spills to temp
    con = duckdb.connect()
    con.execute(f"SET memory_limit='{memory_limit}'")
    con.execute(f"SET temp_directory='{out / 'duckdb_tmp'}'")
    con.execute("SET preserve_insertion_order=false")
    towns_csv = raw / "reference" / "towns.csv"
    towns = pl.read_csv(towns_csv, infer_schema=False) if towns_csv.exists() else shipped_towns()
    industries = industry_classes()
    con.register("towns_df", towns.select("town_code"))
    con.execute("CREATE TABLE towns AS SELECT DISTINCT town_code FROM towns_df")
    con.register("ind_df", industries)
    con.execute("CREATE TABLE industries AS SELECT industry_code FROM ind_df")
    con.execute("CREATE TABLE thresholds (industry_code VARCHAR, threshold DOUBLE)")
    con.executemany("INSERT INTO thresholds VALUES (?, ?)", threshold_rows(industries))

    t = time.perf_counter()
    rows_read = {}
    for source in DATA_SOURCES:
        spec = SOURCES[source]
        selects = [read_sql(p, spec) for p in plans if p["source"] == source]
        cols = ", ".join(f'NULL::VARCHAR AS "{c.name}"' for c in spec.columns)
        facs = ", ".join(f'NULL::DOUBLE AS "f_{c.name}"' for c in spec.columns if c.kind == "money")
        empty = f"SELECT NULL::INTEGER AS __version, {cols}{', ' + facs if facs else ''} WHERE FALSE"
        union = "\nUNION ALL BY NAME\n".join([empty, *selects])
        con.execute(f"CREATE TABLE raw_{source} AS {union}")
        rows_read[source] = con.execute(f"SELECT count(*) FROM raw_{source}").fetchone()[0]
    phases["read"] = time.perf_counter() - t
    progress(f"  reference read: {sum(rows_read.values()):,} rows in {phases['read']:.1f}s")

    t = time.perf_counter()
    max_year = dt.date.today().year
    pii = pii_key()
    facts = {FACT_TABLES[source][0]: validate(con, source, max_year, pii) for source in DATA_SOURCES}
    phases["validate"] = time.perf_counter() - t
    progress(f"  reference validate + supersede: {phases['validate']:.1f}s "
             f"({', '.join(f'{k} {v:,}' for k, v in facts.items())})")

    t = time.perf_counter()
    con.execute(f"CREATE TABLE ind_town_year AS {TOWN_YEAR_SQL}")
    phases["indicators"] = time.perf_counter() - t
    progress(f"  reference indicators: {phases['indicators']:.1f}s")

    t = time.perf_counter()
    target = out / "reference.sqlite"
    target.unlink(missing_ok=True)
    tables = {name: key for name, key in FACT_TABLES.values()}
    tables["ind_town_year"] = "town_code, year"
    loaded = load_sqlite(con, target, tables)
    phases["load"] = time.perf_counter() - t
    progress(f"  reference load into SQLite: {sum(loaded.values()):,} rows in {phases['load']:.1f}s")

    result = {"phases": phases, "seconds": time.perf_counter() - t_all, "files": stats,
              "rows_read": rows_read, "rows_loaded": loaded}
    if truth and (truth / "town_year.csv").exists():
        result["truth"] = compare_truth(con, truth)
        progress("  reference vs truth (mismatched town-years): "
                 + ", ".join(f"{c} {v['mismatched']}/{v['rows']}" for c, v in result["truth"].items()))
    con.close()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raw", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="work directory (UTF-8 copies, SQLite)")
    p.add_argument("--truth", type=Path, help="ground-truth directory with town_year.csv")
    p.add_argument("--memory-limit", default="6GB")
    a = p.parse_args()
    res = run(a.raw, a.out, a.truth, a.memory_limit)
    print(json.dumps(res, indent=2, ensure_ascii=False, default=str))
    os.sys.stdout.flush()


if __name__ == "__main__":
    main()
