"""Great Expectations 1.x suites over the published warehouse tables, with offline Data Docs.

``validate_warehouse(url, docs_dir)`` validates the tables of the warehouse at ``url``
(SQLite or PostgreSQL, through a GX SQL datasource) against the suites declared below and
builds static Data Docs under ``docs_dir`` on every call. Each expectation carries an id
(``meta["id"]``, e.g. ``pub_town_year.enterprises.non_negative``) and a severity,
``critical`` or ``warning`` (GX's own ``severity`` field and ``meta["severity"]``).

GX runs offline: ``GX_ANALYTICS_ENABLED=false`` is set before the import and the context is
built with ``analytics_enabled: false``; progress bars are off. The Data Docs pages link
bootstrap, jQuery, font-awesome and vega from CDNs; after each build every page is rewritten
to use the local copies shipped in ``pipelines/reports/static/gx/`` (see ``docs/reports.md``).

GX is imported inside the function only: its import is slow (~4 s) and nothing else in the
project should pay for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from pipelines.evaluation.layout import WIDE_CRITERIA
from pipelines.indicators.catalogue import indicator, indicators, money_columns
from pipelines.kept_json import write_kept_json
from pipelines.warehouse import make_engine
from schemas import rules as rule_catalogue

log = logging.getLogger(__name__)

CRITICAL = "critical"
WARNING = "warning"
SUITE_PREFIX = "townstat"
DATASOURCE = "townstat_warehouse"
STATIC_DIR = Path(__file__).resolve().parents[1] / "reports" / "static" / "gx"
MIN_YEAR = 2000

MONEY_PUB = tuple(money_columns("ind_town_year"))
FILE_STATUSES = ("loaded", "rejected", "duplicate", "removed")
RULES = tuple(rule_catalogue.RULES)
FLAG_RULES = tuple(name for name, flag in rule_catalogue.FLAGS.items() if flag.computed)
CRITERIA = ("concentration", "scale", "market", "employment")
CATEGORIES = ("manufacturing", "agriculture", "light_industry")

KEYS: dict[str, tuple[str, ...]] = {
    "dim_town": ("town_code",),
    "dim_specialty_town": ("id",),
    "fact_enterprise_year": ("year", "uscc"),
    "ind_town_year": ("town_code", "year"),
    "ind_specialty_town_year": ("specialty_town_id", "year"),
    "eval_criterion": ("criteria_set", "specialty_town_id", "year", "criterion"),
    "eval_specialty_town": ("criteria_set", "specialty_town_id", "year"),
    "pub_town_year": ("town_code", "year"),
    "dq_file": ("file_id",),
    "dq_rejected_row": ("file_id", "source_row", "column", "rule"),
    "dq_flag": ("source", "key", "rule"),
}


@dataclass(frozen=True)
class Check:
    """One expectation, declared without GX (so the list can be read without importing it)."""

    id: str
    table: str
    kind: str  # unique | between | in_set | not_null | row_count | rows (an SQL query)
    severity: str
    description: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class QualityResult:
    """Outcome of ``validate_warehouse``: ids of failed expectations by severity, a summary
    row per expectation, and the Data Docs index page."""

    critical_failed: list[str]
    warnings: list[str]
    results: list[dict[str, Any]]
    docs_index: Path
    success: bool = True
    #: tables whose results were those of an earlier call on the same content (``kept``)
    reused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.critical_failed


def _q(col: str) -> str:
    return f'"{col}"'


def _unique(table: str, severity: str = CRITICAL) -> Check:
    key = KEYS[table]
    cols = ", ".join(_q(c) for c in key)
    return Check(
        f"{table}.key.unique", table, "rows", severity,
        f"{table}: 主键 ({', '.join(key)}) 唯一 / key ({', '.join(key)}) is unique",
        {"query": f"SELECT {cols}, count(*) AS n FROM {{batch}} GROUP BY {cols} HAVING count(*) > 1"},
    )


def _between(table: str, col: str, lo: float | None, hi: float | None, severity: str,
             label: str) -> Check:
    text = (f"≥ {lo}" if hi is None else f"≤ {hi}" if lo is None else f"∈ [{lo}, {hi}]")
    return Check(
        f"{table}.{col}.{label}", table, "between", severity, f"{table}.{col} {text}",
        {"column": col, "min_value": lo, "max_value": hi},
    )


def _counts(table: str) -> list[str]:
    return [i.name for i in indicators(table) if i.kind == "count"]


def _indicator_checks(table: str, catalogue_table: str, key: str) -> list[Check]:
    """The expectations every indicator column carries by its catalogue entry: counts and
    money not negative (money that may be, a warning), ratios between 0 and 1, yoy at least −1,
    a subset never above its whole, a derived column equal to its formula."""
    out: list[Check] = []
    for i in indicators(catalogue_table):
        if i.kind == "count" or (i.kind == "money" and not i.may_be_negative):
            out.append(_between(table, i.name, 0, None, CRITICAL, "non_negative"))
        elif i.kind == "money":
            out.append(_between(table, i.name, 0, None, WARNING, "non_negative"))  # refunds
        elif i.kind == "ratio":
            out.append(_between(table, i.name, 0, 1, WARNING, "share"))
        elif i.kind == "yoy" and not indicator(catalogue_table, i.inputs[0]).may_be_negative:
            out.append(_between(table, i.name, -1, None, WARNING, "yoy_at_least_minus_1"))
        if i.at_most:
            out.append(_rows(f"{table}.{i.name}.not_above_{i.at_most}", table, CRITICAL,
                             f"{table}: {i.name_zh} ≤ {indicator(catalogue_table, i.at_most).name_zh} / "
                             f"{i.name} ≤ {i.at_most}",
                             f"SELECT {key}, year FROM {{batch}} WHERE {i.name} > {i.at_most}"))
        if i.derived is not None:
            out.append(_rows(f"{table}.{i.name}.equals_formula", table, CRITICAL,
                             f"{table}: {i.name_zh} = {i.formula} / {i.name} = {i.formula}",
                             f"SELECT {key}, year FROM {{batch}} WHERE {i.name} <> {i.formula}"))
    return out


def _nonneg(table: str, cols: tuple[str, ...], severity: str = CRITICAL) -> list[Check]:
    return [_between(table, c, 0, None, severity, "non_negative") for c in cols]


def _years(table: str, col: str = "year") -> Check:
    return _between(table, col, MIN_YEAR, dt.date.today().year, CRITICAL, "sensible_year")


def _in_dim(table: str, col: str, dim: str, dim_col: str) -> Check:
    return Check(
        f"{table}.{col}.in_{dim}", table, "rows", CRITICAL,
        f"{table}.{col} 均在 {dim}.{dim_col} 中 / every {col} exists in {dim}.{dim_col}",
        {"query": (f"SELECT t.{_q(col)} FROM {{batch}} AS t LEFT JOIN {dim} AS d "
                   f"ON d.{_q(dim_col)} = t.{_q(col)} "
                   f"WHERE t.{_q(col)} IS NOT NULL AND d.{_q(dim_col)} IS NULL")},
    )


def _in_set(table: str, col: str, values: tuple[str, ...], severity: str = CRITICAL) -> Check:
    return Check(f"{table}.{col}.in_set", table, "in_set", severity,
                 f"{table}.{col} ∈ {{{', '.join(values)}}}", {"column": col, "value_set": list(values)})


def _rows(id_: str, table: str, severity: str, description: str, query: str) -> Check:
    return Check(id_, table, "rows", severity, description, {"query": query})


def _row_count(table: str, severity: str, lo: int = 1) -> Check:
    return Check(f"{table}.row_count.at_least_{lo}", table, "row_count", severity,
                 f"{table}: 至少 {lo} 行 / at least {lo} row(s)", {"min_value": lo})


def _strip_listed(expr: str, names: tuple[str, ...]) -> str:
    """SQL removing each ``;name;`` from ``expr`` (``';a;b;'`` -> ``';'``), SQLite and PostgreSQL."""
    for n in names:
        expr = f"replace({expr}, ';{n};', ';')"
    return expr


def checks() -> list[Check]:
    """Every expectation, grouped by table (one suite per table)."""
    out: list[Check] = []
    # dimensions
    out += [_unique("dim_town"), _row_count("dim_town", CRITICAL),
            Check("dim_town.town_code.nine_digits", "dim_town", "regex", CRITICAL,
                  "dim_town.town_code 为9位数字 / town_code has 9 digits",
                  {"column": "town_code", "regex": "^[0-9]{9}$"})]
    out += [_unique("dim_specialty_town"), _row_count("dim_specialty_town", WARNING),
            _in_set("dim_specialty_town", "category", CATEGORIES)]
    # the enterprise facts (where every indicator comes from)
    out += [_unique("fact_enterprise_year"), _years("fact_enterprise_year"),
            _in_dim("fact_enterprise_year", "town_code", "dim_town", "town_code"),
            *_nonneg("fact_enterprise_year", ("output_value", "revenue", "employees"))]
    # indicators (internal) and published town indicators
    for table in ("ind_town_year", "pub_town_year"):
        out += [_unique(table), _years(table), _row_count(table, WARNING),
                _in_dim(table, "town_code", "dim_town", "town_code"),
                *_indicator_checks(table, "ind_town_year", "town_code")]
    # contract section 7: a money cell listed in `suppressed` is NULL
    for col in MONEY_PUB:
        out.append(_rows(
            f"pub_town_year.{col}.null_when_suppressed", "pub_town_year", CRITICAL,
            f"pub_town_year.{col}: 列入 suppressed 时必须为空 / NULL whenever listed in suppressed",
            f"SELECT town_code, year, suppressed FROM {{batch}} WHERE {col} IS NOT NULL "
            f"AND (';' || suppressed || ';') LIKE '%;{col};%'"))
    out.append(_rows(
        "pub_town_year.suppressed.known_columns", "pub_town_year", CRITICAL,
        "pub_town_year.suppressed 只列金额列 / suppressed lists money columns only",
        "SELECT town_code, year, suppressed FROM {batch} WHERE suppressed <> '' AND "
        + _strip_listed("';' || suppressed || ';'", MONEY_PUB) + " <> ';'"))
    out.append(_rows(
        "pub_town_year.rows.equal_ind_town_year", "pub_town_year", CRITICAL,
        "pub_town_year 与 ind_town_year 行一一对应、计数列相同 / the same rows and counts as ind_town_year",
        "SELECT t.town_code, t.year FROM {batch} AS t LEFT JOIN ind_town_year AS i "
        "ON i.town_code = t.town_code AND i.year = t.year "
        "WHERE i.town_code IS NULL OR " + " OR ".join(f"i.{c} <> t.{c}" for c in _counts("ind_town_year"))
        + " "
        "UNION ALL SELECT i.town_code, i.year FROM ind_town_year AS i WHERE NOT EXISTS "
        "(SELECT 1 FROM pub_town_year AS p WHERE p.town_code = i.town_code AND p.year = i.year)"))
    # specialty-town indicators
    t = "ind_specialty_town_year"
    out += [_unique(t), _years(t), _row_count(t, WARNING),
            _in_dim(t, "specialty_town_id", "dim_specialty_town", "id"),
            *_indicator_checks(t, t, "specialty_town_id")]
    # evaluation
    t = "eval_criterion"
    out += [_unique(t), _years(t), _row_count(t, WARNING),
            _in_dim(t, "specialty_town_id", "dim_specialty_town", "id"),
            _in_set(t, "criterion", CRITERIA, WARNING),
            _between(t, "ratio", 0, None, CRITICAL, "non_negative"),
            _between(t, "weight", 0, None, CRITICAL, "non_negative"),
            _between(t, "threshold", 0, None, CRITICAL, "non_negative")]
    t = "eval_specialty_town"
    out += [_unique(t), _years(t), _row_count(t, WARNING),
            _in_dim(t, "specialty_town_id", "dim_specialty_town", "id"),
            _between(t, "score", 0, 100, CRITICAL, "score_0_100"),
            _between(t, "rank", 1, None, CRITICAL, "rank_at_least_1"),
            *[_between(t, c, 0, 1, WARNING, "share") if indicator("ind_specialty_town_year", c).kind == "ratio"
              else _between(t, c, 0, None, CRITICAL, "non_negative")
              for w in WIDE_CRITERIA for c in w.reads],
            _in_set(t, "category", CATEGORIES),
            Check(f"{t}.score.not_null", t, "not_null", CRITICAL,
                  f"{t}.score 非空 / score is not null", {"column": "score"}),
            _rows(f"{t}.rank.at_most_rows", t, CRITICAL,
                  f"{t}: 名次不超过同组行数 / rank ≤ rows in (criteria_set, year)",
                  'SELECT t.criteria_set, t.year, t."rank" FROM {batch} AS t JOIN '
                  "(SELECT criteria_set, year, count(*) AS n FROM eval_specialty_town "
                  "GROUP BY criteria_set, year) AS g "
                  'ON g.criteria_set = t.criteria_set AND g.year = t.year WHERE t."rank" > g.n')]
    # data-quality tables: row counts add up, rejected rows point at files seen
    t = "dq_file"
    out += [_unique(t), _row_count(t, CRITICAL), _in_set(t, "status", FILE_STATUSES),
            *_nonneg(t, ("rows_read", "rows_loaded", "rows_rejected", "bytes")),
            _rows(f"{t}.rows_rejected.equals_read_minus_loaded", t, CRITICAL,
                  f"{t}: rows_rejected = rows_read − rows_loaded",
                  "SELECT file_id, rows_read, rows_loaded, rows_rejected FROM {batch} "
                  "WHERE rows_read IS NOT NULL AND rows_loaded IS NOT NULL AND "
                  "(rows_rejected IS NULL OR rows_rejected <> rows_read - rows_loaded)"),
            _rows(f"{t}.rows_rejected.matches_dq_rejected_row", t, WARNING,
                  f"{t}: 拒收行数不少于 dq_rejected_row 中该文件的不同行号数 / "
                  "rows_rejected ≥ distinct rejected row numbers of the file",
                  "SELECT t.file_id FROM {batch} AS t JOIN (SELECT file_id, "
                  "count(DISTINCT source_row) AS n FROM dq_rejected_row GROUP BY file_id) AS r "
                  "ON r.file_id = t.file_id WHERE t.status IN ('loaded', 'rejected') "
                  "AND coalesce(t.rows_rejected, 0) < r.n")]
    t = "dq_rejected_row"
    out += [_unique(t), _in_set(t, "rule", RULES),
            _in_dim(t, "file_id", "dq_file", "file_id"),
            _between(t, "source_row", 1, None, CRITICAL, "at_least_1"),
            _rows(f"{t}.value.no_person_id", t, CRITICAL,
                  f"{t}: 身份证号列不回显原值 / no person ID echoed in value",
                  "SELECT file_id, source_row FROM {batch} WHERE \"column\" LIKE "
                  "'%person_id%' AND value IS NOT NULL AND value <> '' AND value NOT LIKE '%***%'")]
    t = "dq_flag"
    out += [_unique(t), _in_set(t, "rule", FLAG_RULES, WARNING)]
    return out


# --------------------------------------------------------------------------- GX plumbing


def _import_gx():
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("TQDM_DISABLE", "1")
    import great_expectations as gx  # noqa: PLC0415 - slow import, kept out of import paths

    return gx


def _expectation(gx, check: Check):
    e = gx.expectations
    meta = {"id": check.id, "severity": check.severity, "table": check.table}
    common = {"meta": meta, "description": check.description, "severity": check.severity}
    a = check.args
    if check.kind == "between":
        return e.ExpectColumnValuesToBeBetween(column=a["column"], min_value=a["min_value"],
                                               max_value=a["max_value"], **common)
    if check.kind == "in_set":
        return e.ExpectColumnValuesToBeInSet(column=a["column"], value_set=a["value_set"], **common)
    if check.kind == "not_null":
        return e.ExpectColumnValuesToNotBeNull(column=a["column"], **common)
    if check.kind == "regex":
        return e.ExpectColumnValuesToMatchRegex(column=a["column"], regex=a["regex"], **common)
    if check.kind == "row_count":
        return e.ExpectTableRowCountToBeBetween(min_value=a["min_value"], **common)
    if check.kind == "rows":
        return e.UnexpectedRowsExpectation(unexpected_rows_query=a["query"], **common)
    raise ValueError(check.kind)


def _context(gx, docs_dir: Path, kept: Path | None = None):
    from great_expectations.data_context.types.base import (  # noqa: PLC0415
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        data_docs_sites={
            "townstat": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                  "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    if kept is not None:  # results kept between calls: the Data Docs list a reused table's too
        config.stores[config.validation_results_store_name] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(kept / "validations")}}
    return gx.get_context(project_config=config, mode="ephemeral")


def _datasource(context, url: str):
    u = make_url(url)
    if u.get_backend_name() == "postgresql":
        cs = u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return context.data_sources.add_or_update_postgres(DATASOURCE, connection_string=cs)
    if u.get_backend_name() == "sqlite":
        return context.data_sources.add_or_update_sqlite(
            DATASOURCE, connection_string=u.render_as_string(hide_password=False))
    raise ValueError(f"unsupported warehouse backend {u.get_backend_name()!r}")


def _existing_tables(url: str, fingerprints: bool) -> tuple[set[str], dict[str, str]]:
    """The tables at ``url`` and, if asked, the content fingerprints the publication recorded
    for them (one connection for both)."""
    from pipelines.warehouse.bookkeeping import published_fingerprints  # noqa: PLC0415

    engine = make_engine(url)
    try:
        present = set(inspect(engine).get_table_names())
        if not fingerprints:
            return present, {}
        with engine.begin() as conn:
            return present, published_fingerprints(conn)
    finally:
        engine.dispose()


def _table_keys(by_table: dict[str, list[Check]], fingerprints: dict[str, str], gx_version: str) -> dict[str, str]:
    """What a table's results depend on: its content, the content of every suite table its
    checks name (a dimension looked up, a table joined), the checks themselves and GX's
    version. A table without a recorded content fingerprint has no key (always validated)."""
    keys = {}
    for table, table_checks in by_table.items():
        declared = repr([(c.id, c.kind, c.severity, c.description, sorted(c.args.items(), key=str))
                         for c in table_checks])
        read = sorted({t for t in KEYS if t == table or re.search(rf"\b{t}\b", declared)})
        if all(t in fingerprints for t in read):
            h = hashlib.sha256(f"{gx_version}\0{declared}".encode())
            for t in read:
                h.update(f"\0{t}={fingerprints[t]}".encode())
            keys[table] = h.hexdigest()
    return keys


def _memo_file(kept: Path, table: str) -> Path:
    return kept / f"{SUITE_PREFIX}.{table}.results.json"


def _read_memo(kept: Path, table: str, key: str) -> list[dict[str, Any]] | None:
    """The result rows kept for ``table`` under ``key`` (None: none, another key, unreadable)."""
    try:
        memo = json.loads(_memo_file(kept, table).read_text(encoding="utf-8"))
        return memo["results"] if memo.get("key") == key else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_memo(kept: Path, table: str, key: str, rows: list[dict[str, Any]]) -> None:
    write_kept_json(_memo_file(kept, table), {"key": key, "results": rows})


def validate_warehouse(url: str, docs_dir: Path, kept: Path | None = None) -> QualityResult:
    """Validate the warehouse at ``url`` and build offline Data Docs under ``docs_dir``.

    Returns the ids of failed critical expectations (publication should not be trusted)
    and of failed warnings, a summary row per expectation and the Data Docs index page.
    A table missing from the warehouse is a critical failure ``<table>.exists``.

    ``kept``: a folder kept between calls (the cache's, beside the staging copy). GX's
    validation results are stored there, and for each table its result rows under a key of
    what they depend on (`_table_keys`, from the content fingerprints the publication
    recorded): a table whose key is unchanged is not validated again (a night's new tax file
    leaves the 580,000 rejected rows and the enterprise reports as they were); its rows and
    its Data Docs page are those of the call that validated it.
    """
    docs_dir = Path(docs_dir).resolve()
    docs_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("validations", "expectations"):  # the docs show the stored results only
        shutil.rmtree(docs_dir / stale, ignore_errors=True)
    gx = _import_gx()
    for name in ("great_expectations", "tqdm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if kept is not None:  # GX's file store wants an absolute folder (the default cache is relative)
        kept = Path(kept).resolve()
        kept.mkdir(parents=True, exist_ok=True)
    context = _context(gx, docs_dir, kept)
    source = _datasource(context, url)
    present, fingerprints = _existing_tables(url, fingerprints=kept is not None)

    by_table: dict[str, list[Check]] = {}
    for c in checks():
        by_table.setdefault(c.table, []).append(c)

    critical_failed: list[str] = []
    warnings: list[str] = []
    results: list[dict[str, Any]] = []
    reused: list[str] = []
    keys = _table_keys(by_table, fingerprints, gx.__version__) if kept is not None else {}
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for table, table_checks in by_table.items():
        if table not in present:
            critical_failed.append(f"{table}.exists")
            results.append({"id": f"{table}.exists", "table": table, "severity": CRITICAL,
                            "success": False, "unexpected_count": None,
                            "description": f"{table} 不存在 / table missing"})
            continue
        suite = gx.ExpectationSuite(
            name=f"{SUITE_PREFIX}.{table}",
            meta={"notes": {"format": "markdown",
                            "content": f"townstat — 仓库表 `{table}` 的质量期望 / expectations "
                                       f"over the warehouse table `{table}`"}})
        for c in table_checks:
            suite.add_expectation(_expectation(gx, c))
        # saved once, whole: each expectation added to a saved suite saved the suite again
        # (0.8 s of the nightly province suite, issue 16)
        suite = context.suites.add(suite)
        key = keys.get(table)
        earlier = None
        if kept is not None and key is not None and any((kept / "validations" / SUITE_PREFIX / table).rglob("*.json")):
            earlier = _read_memo(kept, table, key)  # only with the validation its Data Docs page shows
        if earlier is not None:
            reused.append(table)
            table_rows = earlier
        else:
            table_rows = _validate_table(gx, context, source, suite, table, run_id, kept)
            if kept is not None and key is not None:
                _write_memo(kept, table, key, table_rows)
        results += table_rows
        for row in table_rows:
            if not row["success"]:
                (critical_failed if row["severity"] == CRITICAL else warnings).append(row["id"])
    context.build_data_docs(site_names=["townstat"])
    index = docs_dir / "index.html"
    localise_data_docs(docs_dir)
    return QualityResult(critical_failed=critical_failed, warnings=warnings, results=results,
                         docs_index=index, success=not critical_failed, reused=reused)


def _validate_table(gx, context, source, suite, table: str, run_id: str, kept: Path | None) -> list[dict[str, Any]]:
    """Run ``suite`` on ``table``: one summary row per expectation (its earlier results, in a
    kept store, are removed first: the Data Docs show one validation per table)."""
    if kept is not None:
        shutil.rmtree(kept / "validations" / SUITE_PREFIX / table, ignore_errors=True)
    asset = source.add_table_asset(name=table, table_name=table)
    batch_def = asset.add_batch_definition_whole_table(f"{table}_whole")
    vd = context.validation_definitions.add(gx.ValidationDefinition(
        name=f"{SUITE_PREFIX}.{table}.validation", data=batch_def, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=f"{SUITE_PREFIX}.{table}.checkpoint", validation_definitions=[vd],
        actions=[], result_format={"result_format": "SUMMARY"}))
    run = checkpoint.run(run_id=gx.core.run_identifier.RunIdentifier(run_name=run_id))
    rows = []
    for vr in run.run_results.values():
        for er in vr.results:
            meta = er.expectation_config.meta or {}
            res = er.result or {}
            count = res.get("unexpected_count")
            if count is None and "observed_value" in res and er.expectation_config.type == \
                    "unexpected_rows_expectation":
                count = res.get("observed_value")
            rows.append({
                "id": meta.get("id"), "table": table, "severity": meta.get("severity"),
                "success": bool(er.success) and not _raised(er), "unexpected_count": count,
                "description": er.expectation_config.description,
                "error": _error(er),
            })
    return rows


# --------------------------------------------------------------------------- offline assets

# CDN stylesheet/script tags in the GX templates -> local asset (None: drop the tag)
_CDN_CSS = re.compile(r'<link[^>]+href="https?://[^"]+"[^>]*/?>\s*', re.I)
_CDN_JS = re.compile(r'<script[^>]+src="https?://[^"]+"[^>]*>\s*</script>\s*', re.I)
_REMOTE_IMG = re.compile(r"https://great-expectations-web-assets[^\"')]*", re.I)


def localise_data_docs(docs_dir: Path) -> list[Path]:
    """Point every Data Docs page at the local assets instead of CDNs; returns pages rewritten.

    Copies ``pipelines/reports/static/gx/`` to ``docs_dir/static/townstat/``; in each page,
    the CDN ``<link>`` tags are replaced by one link to ``townstat-gx.css`` and the CDN
    ``<script>`` tags by jQuery (a local copy) and ``townstat-gx.js`` (a small stand-in for
    bootstrap-table, bootstrap's plugins and vega-embed).
    """
    docs_dir = Path(docs_dir)
    target = docs_dir / "static" / "townstat"
    shutil.copytree(STATIC_DIR, target, dirs_exist_ok=True)
    pages = []
    for page in docs_dir.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        rel = os.path.relpath(target, page.parent).replace(os.sep, "/")
        css = f'<link rel="stylesheet" href="{rel}/townstat-gx.css"/>\n'
        js = (f'<script src="{rel}/jquery.min.js"></script>\n'
              f'<script src="{rel}/townstat-gx.js"></script>\n')
        if not (_CDN_CSS.search(html) or _CDN_JS.search(html)) and "townstat-gx" in html:
            continue
        html = _replace_all_by_one(_CDN_CSS, html, css)
        html = _replace_all_by_one(_CDN_JS, html, js)
        logo = os.path.relpath(docs_dir / "static" / "images" / "logo-long.png", page.parent)
        html = _REMOTE_IMG.sub(logo.replace(os.sep, "/"), html)
        if "townstat-gx.css" not in html:
            html = html.replace("</head>", css + "</head>", 1)
        if "townstat-gx.js" not in html:
            html = html.replace("</head>", js + "</head>", 1)
        page.write_text(html, encoding="utf-8")
        pages.append(page)
    return pages


def _raised(er) -> bool:
    info = er.exception_info or {}
    if "raised_exception" in info:
        return bool(info.get("raised_exception"))
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _error(er) -> str | None:
    info = er.exception_info or {}
    if info.get("exception_message"):
        return str(info["exception_message"])
    for v in info.values():
        if isinstance(v, dict) and v.get("exception_message"):
            return str(v["exception_message"])
    return None


def _replace_all_by_one(pattern: re.Pattern, text: str, replacement: str) -> str:
    """Replace the first match of ``pattern`` by ``replacement`` and drop the other matches."""
    first = pattern.search(text)
    if first is None:
        return text
    rest = pattern.sub("", text[first.end():])
    return text[: first.start()] + replacement + rest
