"""The named reference: a hand-written DuckDB job doing the same refresh from the same files.

It is deliberately plain: no Dagster, no per-column rule bookkeeping, no dq tables, no
lineage, no disclosure control, no evaluation. What it does (each phase timed):

1. decode   every CSV checked for UTF-8 (BOM allowed) and read by DuckDB in place; a GB18030
            CSV is transcoded to a UTF-8 copy and every xlsx written as a UTF-8 CSV (fastexcel,
            all text); Python picks the header row, the column mapping and the money units per
            file with the pipeline's own `find_header`, `title_unit` and `map_columns` (the
            contract's header rules, not re-implemented here).
2. read     DuckDB `read_csv(..., skip=, header=true, all text columns)` per file, the files
            of a source stacked with `UNION ALL BY NAME` into one in-memory table of text cells
            (an in-memory database: nothing is persisted; past the memory limit DuckDB spills).
3. validate in SQL: identifiers (USCC GB 32100 check character, person ID MOD 11-2, town
            code in the towns list, industry class in the GB/T 4754-2017 list), years,
            periods and dates normalised, numbers parsed, money units applied, ranges,
            booleans, levels; identifier-like columns checked once per distinct value; rows
            with any bad cell dropped; keys duplicated inside a file dropped; supersession by
            file order (mtime, path), both with hash aggregations (no window); person IDs
            replaced by person_key = HMAC-SHA256 computed in SQL once per distinct person ID.
4. indicators  ind_town_year: enterprises, output_value, revenue, employees, tax_total
            (taxpayer's enterprise-report town for Y, else its register town),
            insured_persons (distinct persons enrolled in December at employers of the town),
            market_entities (register entities of the town alive at Y-12-31).
5. load     the four fact tables and ind_town_year into a fresh SQLite file through ADBC's
            SQLite driver (`adbc_ingest` of DuckDB's Arrow record batches, journal off), each
            a WITHOUT ROWID table whose PRIMARY KEY is its key, fed in key order (DuckDB
            sorts). DuckDB's own sqlite extension is not used: it downloads itself at first use,
            and PyPI has no duckdb-extension-sqlite wheel for duckdb 2.0.x. (Until the third
            session: sqlite3 `executemany`, 365 s at province scale; until issue 16: a file
            database, windows for supersession, a rowid table plus a key index built after.)

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
from pipelines.ingest.pseudonymise import pii_key  # noqa: E402
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


def decode_area(raw: Path, work: Path) -> tuple[list[dict], dict]:
    """Every data file as a UTF-8 CSV in `work`, with its header row, mapping and units."""
    plans: list[dict] = []
    stats = {"files": 0, "bytes": 0, "skipped": 0}
    seen_sha: set[str] = set()
    files = [f for f in scan_raw_area(raw) if f.source in DATA_SOURCES]
    for f in sorted(files, key=lambda f: (f.source, f.mtime, f.relpath)):
        suffix = f.path.suffix.lower()
        if suffix not in (".csv", ".xlsx") or f.sha256 in seen_sha:
            stats["skipped"] += 1
            continue
        seen_sha.add(f.sha256)
        if suffix == ".csv":
            utf8, transcoded = decode_bytes(f.path.read_bytes())
        else:
            utf8, transcoded = xlsx_to_csv_bytes(f.path), True
        stats["bytes"] += f.bytes
        if utf8 is None:
            stats["skipped"] += 1
            continue
        spec = SOURCES[f.source]
        top = top_rows(utf8)
        try:
            h = find_header(top, spec)
            positions, factors = map_columns(top[h], spec, title_unit(top[:h]))
        except (FileRejected, csv.Error):
            stats["skipped"] += 1
            continue
        if not transcoded:
            out = f.path  # already UTF-8 (DuckDB skips a BOM itself): read in place, no copy
        else:
            out = work / f.source / f"{len(plans):05d}.csv"
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
    return f"TRY_CAST(regexp_replace({_t(c)}, '[,，\\s]', '', 'g') AS DOUBLE)"


def uscc_sql(u: str) -> str:
    """Valid when 18 charset characters and the GB 32100 check character matches."""
    terms = " + ".join(f"(strpos('{USCC_CHARSET}', substr({u}, {i + 1}, 1)) - 1) * {pow(3, i, 31)}"
                       for i in range(17))
    return (f"(regexp_full_match({u}, '[{USCC_CHARSET}]{{18}}') AND "
            f"substr('{USCC_CHARSET}', ((31 - ({terms}) % 31) % 31) + 1, 1) = substr({u}, 18, 1))")


def person_sql(p: str) -> str:
    """GB 11643: 17 digits and the ISO 7064 MOD 11-2 check digit (X = 10)."""
    terms = " + ".join(f"TRY_CAST(substr({p}, {i}, 1) AS INTEGER) * {pow(2, 18 - i, 11)}"
                       for i in range(1, 18))
    check = f"CASE WHEN substr({p}, 18, 1) = 'X' THEN 10 ELSE TRY_CAST(substr({p}, 18, 1) AS INTEGER) END"
    return (f"(regexp_full_match({p}, '[0-9]{{17}}[0-9X]') AND "
            f"(12 - ({terms}) % 11) % 11 = {check})")


def column_sql(c, max_year: int) -> tuple[str, str, str, str | None]:
    """(normalised column, value expression, ok expression, regex groups computed before)."""
    n, k, req = c.name, c.kind, c.required
    q = f'"{n}"'
    blank_ok = "FALSE" if req else "TRUE"
    if k == "uscc":
        pre = f"upper(regexp_replace({q}, '[\\s\u3000]+', '', 'g')) AS \"{n}\""
        return pre, q, f"coalesce({uscc_sql(q)}, FALSE)"
    if k == "person_id":
        pre = (f"translate(regexp_replace({q}, '[\\s\u3000]+', '', 'g'), "
               f"'０１２３４５６７８９Ｘｘx', '0123456789XXX') AS \"{n}\"")
        return pre, q, f"coalesce({person_sql(q)}, FALSE)"
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
        return pre, f"CASE WHEN isfinite({q}) THEN {q} END", ok
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


def validate_sql(source: str, max_year: int, derived: dict[str, tuple[str, str]] | None = None) -> str:
    """The current rows of a source: valid rows, no in-file duplicate key, latest file wins.

    `derived` maps a distinct-checked column to (name, expression of its valid value `__v`):
    computed once per distinct value and carried to the output (the person_key HMAC).
    Supersession by two hash aggregations (no window): keys seen once among the valid rows of
    a file, then per key the row of the latest such file (arg_max over the file version)."""
    spec = SOURCES[source]
    derived = derived or {}
    ctes, joins, pres, vals, oks, groups = [], [], [], [], [], []
    for c in spec.columns:
        pre, val, ok, *group = column_sql(c, max_year)
        g = [x for x in group if x]
        n = c.name
        vals.append((n, val))
        if c.kind in DISTINCT_KINDS:
            extra_col = ""
            if n in derived:
                d_name, d_expr = derived[n]
                extra_col = f", CASE WHEN __ok THEN {d_expr} END AS __d"
                pres_d = f', d_{n}.__d AS "{d_name}"'
            ctes.append(f"""d_{n} AS (
                SELECT __k, __v, __ok{extra_col} FROM (
                SELECT __k, "{n}" AS __v, {ok} AS __ok FROM (
                    SELECT "{n}" AS __k, {pre} FROM (
                        SELECT "{n}"{''.join(', ' + x for x in g)}
                        FROM (SELECT DISTINCT "{n}" FROM raw_{source})))))""")
            joins.append(f'LEFT JOIN d_{n} ON coalesce(r."{n}", chr(1)) = coalesce(d_{n}.__k, chr(1))')
            pres.append(f'd_{n}.__v AS "{n}", d_{n}.__ok AS "__ok_{n}"'
                        + (pres_d if n in derived else ""))
            if n in derived:
                vals.append((derived[n][0], f'"{derived[n][0]}"'))
            oks.append(f'coalesce("__ok_{n}", FALSE)')
        else:
            groups += g
            pres.append(pre)
            oks.append(ok)
    keys = [f'"{k}"' for k in spec.key]
    key = ", ".join(keys)
    payload = [(n, v) for n, v in vals if n not in spec.key]
    extra = ""
    if source == "registry":
        extra = " AND (deregistered IS NULL OR established IS NULL OR deregistered >= established)"
    pack = ", ".join(f'"{n}" := {v}' for n, v in payload)
    outs = ", ".join(f'"{n}"' if n in spec.key else f'__r."{n}" AS "{n}"' for n, _ in vals)
    return f"""
        WITH {', '.join(ctes)},
        grouped AS (SELECT *{''.join(', ' + g for g in groups)} FROM raw_{source}),
        norm AS (SELECT r.__version, {', '.join(pres)} FROM grouped r {' '.join(joins)}),
        checked AS (SELECT *, ({' AND '.join(oks)}){extra} AS __ok FROM norm),
        once AS (SELECT __version, {key}, any_value(struct_pack({pack})) AS __r
                 FROM checked WHERE __ok GROUP BY __version, {key} HAVING count(*) = 1),
        latest AS (SELECT {key}, max(__version) AS __version, arg_max(__r, __version) AS __r
                   FROM once GROUP BY {key})
        SELECT __version, {outs} FROM latest
    """


def hmac_sql(col: str, key: bytes) -> str:
    """HMAC-SHA256 in SQL: sha256(K^opad || unhex(sha256(K^ipad || msg)))."""
    import hashlib

    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in key).hex()
    opad = bytes(b ^ 0x5C for b in key).hex()
    return f"sha256(unhex('{opad}') || unhex(sha256(unhex('{ipad}') || encode({col}))))"


FACT_SQL = {
    "enterprise": """
        SELECT f.* EXCLUDE (__version), coalesce(f.revenue >= t.threshold, FALSE) AS above_scale,
               f.__version AS source_version
        FROM v_enterprise f LEFT JOIN thresholds t USING (industry_code)""",
    "tax": """
        SELECT period, CAST(substr(period, 1, 4) AS INTEGER) AS year, uscc, vat,
               corporate_income_tax, other_tax,
               coalesce(total_tax, CASE WHEN vat IS NOT NULL OR corporate_income_tax IS NOT NULL
                        OR other_tax IS NOT NULL THEN round(coalesce(vat, 0)
                        + coalesce(corporate_income_tax, 0) + coalesce(other_tax, 0), 2) END)
                   AS total_tax,
               total_tax AS total_tax_reported, invoice_sales, __version AS source_version
        FROM v_tax""",
    "employment": """
        SELECT period, CAST(substr(period, 1, 4) AS INTEGER) AS year, person_key,
               employer_uscc, hukou_code, substr(hukou_code, 1, 6) AS hukou_county_code,
               contribution_base, __version AS source_version
        FROM v_employment""",
    "registry": "SELECT * EXCLUDE (__version), __version AS source_version FROM v_registry",
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
        for pragma in ("page_size = 16384", "journal_mode = OFF", "synchronous = OFF",
                       "locking_mode = EXCLUSIVE", "cache_size = -262144"):
            cur.execute(f"PRAGMA {pragma}")
            cur.fetchall()
        for table, key in tables.items():
            cols = con.execute(f"DESCRIBE {table}").fetchall()
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
    key = pii_key()
    # person_key = HMAC-SHA256 of the valid person ID, once per distinct ID
    derived = {"employment": {"person_id": ("person_key", hmac_sql("__v", key))}}
    for source in DATA_SOURCES:
        con.execute(f"CREATE TABLE v_{source} AS {validate_sql(source, max_year, derived.get(source))}")
        con.execute(f"DROP TABLE raw_{source}")
    facts = {}
    for source in DATA_SOURCES:
        table, _ = FACT_TABLES[source]
        con.execute(f"CREATE TABLE {table} AS {FACT_SQL[source]}")
        con.execute(f"DROP TABLE v_{source}")
        facts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
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
