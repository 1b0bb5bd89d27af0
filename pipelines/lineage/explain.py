"""Where a number came from: the source rows behind one cell of ind_town_year or
ind_specialty_town_year, for the bureau's staff (contract sections 2, 3 and 5).

``explain(url, indicator, year, town=...)`` selects, from the fact tables of the warehouse,
the rows the indicator adds up or counts, following the contract's rules (not the pipeline's
code), each with its file (``fact.source_file_id`` -> ``dq_file.path``), its ``source_row``
(the row a person sees when opening the file) and its value; sums them, and reads the
published value of the same cell from the ``ind_*`` table, so that the two can be compared.

Staff only: it reads ``fact_*``, ``ind_*``, ``dim_*`` and ``dq_file``, never ``pub_*``. It never
shows a person ID: enrolment rows carry only ``person_key`` (an HMAC), and even that is
shown shortened; a person count lists the employer, the period and the shortened key, and
counts each person once.

Leading enterprises are not a warehouse table: for ``leading_enterprises`` and
``supporting_enterprises`` the list is read from ``reference/leading_enterprises.csv`` of the
raw area (``raw_dir``, default ``TOWNSTAT_RAW_DIR`` or ``raw``), with the pipeline's reader,
and a note says when that file is not the one the warehouse was refreshed from.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, and_, func, or_, select

from pipelines import settings
from pipelines.indicators.catalogue import indicator as catalogue_entry
from pipelines.indicators.catalogue import indicators
from pipelines.ingest.inventory import RawFile, file_sha256, is_ignored
from pipelines.ingest.references import read_references
from pipelines.lineage.display import boxed, display_width, table, truncate
from pipelines.warehouse.engine import make_engine
from pipelines.warehouse.tables import TABLES, polars_schema

TOWN_TABLE = "ind_town_year"
SPECIALTY_TABLE = "ind_specialty_town_year"
DEFAULT_LIMIT = 50
KEY_SHOWN = 10  # hex characters of a person_key shown

ENTITY_TYPE_ZH = {"enterprise": "企业", "individual": "个体工商户", "cooperative": "农民专业合作社"}

#: rows of the explanation, in this order
ROW_SCHEMA = {
    "path": pl.String,  # dq_file.path of the source file
    "source_row": pl.Int64,  # 1-based row in that file, header and title rows counted
    "source": pl.String,  # enterprise | tax | employment | registry
    "file_id": pl.String,
    "period": pl.String,  # year (enterprise), YYYY-MM (tax, employment), established (registry)
    "uscc": pl.String,  # the unit: enterprise, taxpayer, employer or register entity
    "name": pl.String,
    "detail": pl.String,  # why the row counts (basis, core/leading, shortened person key, ...)
    "column": pl.String,  # the fact column the value comes from ('' for a count)
    "value": pl.Float64,  # what the row adds to the total (1 or 0 for counts)
}


class LineageError(ValueError):
    """A question that cannot be answered (unknown indicator, town, year); bilingual."""


@dataclass(frozen=True)
class _Spec:
    kind: str  # sum | count | distinct
    source: str  # enterprise | tax | employment | registry
    column: str = ""  # fact column summed (sum) or flag counted (count)
    money: bool = False
    rule_zh: str = ""
    rule_en: str = ""


_E = "enterprise"


def _specs(table: str) -> dict[str, _Spec]:
    """What explain lists for each indicator of ``table``: its recipe in the catalogue."""
    return {i.name: _Spec(i.recipe.kind, i.recipe.source, i.recipe.column, i.kind == "money",
                          i.recipe.rule_zh, i.recipe.rule_en)
            for i in indicators(table) if i.recipe is not None}


@dataclass(frozen=True)
class Explanation:
    """The rows behind one indicator cell, their total and the published value."""

    indicator: str
    indicator_zh: str
    unit: str  # 元 | 家 | 人 | 件
    table: str  # ind_town_year | ind_specialty_town_year
    year: int
    subject_code: str  # town_code or specialty_town_id
    subject_name: str
    kind: str  # sum | count | distinct
    rule_zh: str
    rule_en: str
    rows: pl.DataFrame  # ROW_SCHEMA, sorted by (path, source_row)
    total: float | int  # over all rows
    published: float | int | None  # the ind_* cell; None when the table has no such row
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def matches(self) -> bool:
        """The rows add up to the published value (money compared in whole fen)."""
        published = 0 if self.published is None else self.published
        if isinstance(self.total, float) or isinstance(published, float):
            return round(float(self.total) * 100) == round(float(published) * 100)
        return int(self.total) == int(published)


# -- reading the warehouse ---------------------------------------------------------------


def _frame(conn: Connection, stmt, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    rows = conn.execute(stmt).all()
    data = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pl.DataFrame(
        [pl.Series(n, list(v), dtype=t) for (n, t), v in zip(schema.items(), data, strict=True)]
    )


def _table_frame(conn: Connection, name: str, *where, columns: list[str] | None = None) -> pl.DataFrame:
    full = polars_schema(name)
    cols = columns or list(full)
    t = TABLES[name]
    stmt = select(*[t.c[c] for c in cols]).where(*where) if where else select(*[t.c[c] for c in cols])
    return _frame(conn, stmt, {c: full[c] for c in cols})


def _years(conn: Connection, table_name: str) -> list[int]:
    t = TABLES[table_name]
    return sorted(r[0] for r in conn.execute(select(t.c.year).distinct()).all())


def _published(conn: Connection, table_name: str, key: str, code: str, year: int, column: str):
    t = TABLES[table_name]
    row = conn.execute(select(t.c[column]).where(t.c[key] == code, t.c.year == year)).first()
    return None if row is None else row[0]


# -- who is asked about ------------------------------------------------------------------


def _resolve_town(conn: Connection, town: str) -> tuple[str, str, str]:
    """(town_code, town_name, county_code) of a 9-digit code (or 12 ending 000) or a unique
    Chinese name in dim_town."""
    dim = TABLES["dim_town"]
    text_ = town.strip()
    code = text_[:9] if re.fullmatch(r"\d{12}", text_) and text_.endswith("000") else text_
    cols = (dim.c.town_code, dim.c.town_name, dim.c.county_code, dim.c.county_name)
    if re.fullmatch(r"\d{9}", code):
        rows = conn.execute(select(*cols).where(dim.c.town_code == code)).all()
        if not rows:
            raise LineageError(
                f"乡镇代码 {code} 不在乡镇维表（dim_town）中 / town code {code} is not in dim_town"
            )
    else:
        rows = conn.execute(select(*cols).where(dim.c.town_name == text_)).all()
        if not rows:
            rows = conn.execute(
                select(*cols).where(dim.c.town_name.contains(text_, autoescape=True))
            ).all()
        if not rows:
            raise LineageError(
                f"乡镇维表中没有名为“{text_}”的乡镇 / no town named {text_!r} in dim_town"
            )
        if len(rows) > 1:
            listed = "；".join(f"{r[1]} {r[0]}（{r[3] or r[2]}）" for r in rows[:20])
            more = f" ... 共 {len(rows)} 个 / {len(rows)} in all" if len(rows) > 20 else ""
            raise LineageError(
                f"“{text_}”对应多个乡镇，请改用 9 位乡镇代码 / {text_!r} matches several towns, "
                f"give the 9-digit town code: {listed}{more}"
            )
    code, name, county, _ = rows[0]
    return code, name, county or code[:6]


def _resolve_specialty(conn: Connection, specialty_town: str) -> dict:
    dim = TABLES["dim_specialty_town"]
    wanted = specialty_town.strip()
    rows = conn.execute(select(dim).where(or_(dim.c.id == wanted, dim.c.name == wanted))).mappings().all()
    if not rows:
        rows = conn.execute(
            select(dim).where(dim.c.name.contains(wanted, autoescape=True))
        ).mappings().all()
    if len(rows) != 1:
        known = conn.execute(select(dim.c.id, dim.c.name).order_by(dim.c.id)).all()
        listed = "；".join(f"{i} {n}" for i, n in known) or "无 / none"
        what = "没有" if not rows else "有多个"
        what_en = "no" if not rows else "several"
        raise LineageError(
            f"{what}与“{wanted}”对应的专业镇 / {what_en} specialty towns match {wanted!r}; "
            f"专业镇 / specialty towns: {listed}"
        )
    return dict(rows[0])


def _codes(text_: str | None) -> list[str]:
    return [c.strip() for c in (text_ or "").split(";") if c.strip()]


# -- the rows ----------------------------------------------------------------------------


def _files(conn: Connection) -> pl.DataFrame:
    return _table_frame(conn, "dq_file", columns=["file_id", "path", "sha256", "status"])


def _finish_rows(rows: pl.DataFrame, files: pl.DataFrame) -> pl.DataFrame:
    """Attach the file path, order by (path, source_row), cast to ROW_SCHEMA."""
    out = rows.join(
        files.select(pl.col("file_id"), pl.col("path")), on="file_id", how="left"
    ).with_columns(pl.col("path").fill_null("(未知文件 / unknown file)"))
    return out.select([pl.col(c).cast(t) for c, t in ROW_SCHEMA.items()]).sort(
        "path", "source_row", "period", "uscc", "detail"
    )


def _enterprise_rows(frame: pl.DataFrame, spec: _Spec, detail: pl.Expr | None = None) -> pl.DataFrame:
    if spec.kind == "sum":
        value = pl.col(spec.column).cast(pl.Float64)
        keep = frame
    else:
        keep = frame.filter(pl.col(spec.column)) if spec.column else frame
        value = pl.lit(1.0)
    return keep.select(
        pl.lit("enterprise").alias("source"),
        "file_id",
        "source_row",
        pl.col("year").cast(pl.String).alias("period"),
        "uscc",
        "name",
        (detail if detail is not None else pl.concat_str(pl.lit("行业 "), pl.col("industry_code")))
        .alias("detail"),
        pl.lit(spec.column if spec.kind == "sum" else "").alias("column"),
        value.alias("value"),
    )


def _enterprise_frame(conn: Connection, *where) -> pl.DataFrame:
    frame = _table_frame(conn, "fact_enterprise_year", *where)
    return frame.rename({"source_file_id": "file_id"})


def _with_newly(conn: Connection, frame: pl.DataFrame, year: int) -> pl.DataFrame:
    ent = TABLES["fact_enterprise_year"]
    prior = _table_frame(conn, "fact_enterprise_year", ent.c.year == year - 1,
                         columns=["uscc", "above_scale"])
    before = prior.filter(pl.col("above_scale"))["uscc"].to_list()
    return frame.with_columns(
        (pl.col("above_scale") & ~pl.col("uscc").is_in(before)).alias("_newly"),
        (pl.col("tech_center_level").fill_null("none") != "none").alias("_tech_center"),
    )


def _tax_rows(conn: Connection, year: int, unit_filter, names: pl.DataFrame, basis) -> pl.DataFrame:
    tax = TABLES["fact_tax_month"]
    cols = ["period", "uscc", "total_tax", "source_file_id", "source_row"]
    frame = _table_frame(conn, "fact_tax_month", tax.c.year == year, unit_filter, columns=cols)
    frame = frame.rename({"source_file_id": "file_id"}).join(names, on="uscc", how="left")
    return frame.select(
        pl.lit("tax").alias("source"),
        "file_id",
        "source_row",
        "period",
        "uscc",
        pl.col("name").fill_null(""),
        basis.alias("detail"),
        pl.lit("total_tax").alias("column"),
        pl.col("total_tax").alias("value"),
    )


def _enrolment_rows(conn: Connection, year: int, unit_filter, names: pl.DataFrame,
                    county: str, local: bool) -> pl.DataFrame:
    emp = TABLES["fact_employment_month"]
    cols = ["period", "person_key", "employer_uscc", "hukou_county_code", "source_file_id", "source_row"]
    frame = _table_frame(conn, "fact_employment_month", emp.c.period == f"{year:04d}-12", unit_filter,
                         columns=cols)
    if local:
        frame = frame.filter(pl.col("hukou_county_code") == county)
    frame = (
        frame.rename({"source_file_id": "file_id", "employer_uscc": "uscc"})
        .join(names, on="uscc", how="left")
        .sort("file_id", "source_row")
    )
    # order as shown, then count each person once: the first of its rows counts 1, others 0
    frame = frame.join(
        frame.select("file_id").unique().join(_files(conn).select("file_id", "path"), on="file_id",
                                              how="left"),
        on="file_id",
        how="left",
    ).sort("path", "source_row", nulls_last=True)
    first = pl.int_range(pl.len()).over("person_key") == 0
    short = pl.col("person_key").str.slice(0, KEY_SHOWN)
    return frame.select(
        pl.lit("employment").alias("source"),
        "file_id",
        "source_row",
        "period",
        "uscc",
        pl.col("name").fill_null(""),
        pl.concat_str(
            pl.lit("人员 person_key "),
            short,
            pl.lit("... 户籍县 "),
            pl.col("hukou_county_code"),
            pl.when(first).then(pl.lit("")).otherwise(pl.lit("（重复，不再计数 / counted once）")),
        ).alias("detail"),
        pl.lit("").alias("column"),
        pl.when(first).then(1.0).otherwise(0.0).alias("value"),
    )


def _registry_rows(frame: pl.DataFrame, year: int, new: bool) -> pl.DataFrame:
    end = date(year, 12, 31)
    if new:
        frame = frame.filter(pl.col("established").dt.year() == year)
    else:
        frame = frame.filter(
            (pl.col("established") <= end)
            & (pl.col("deregistered").is_null() | (pl.col("deregistered") > end))
        )
    return frame.rename({"source_file_id": "file_id"}).select(
        pl.lit("registry").alias("source"),
        "file_id",
        "source_row",
        pl.col("established").cast(pl.String).alias("period"),
        "uscc",
        "name",
        pl.concat_str(
            pl.col("entity_type").replace_strict(ENTITY_TYPE_ZH, default=pl.col("entity_type")),
            pl.lit(" 行业 "),
            pl.col("industry_code"),
            pl.lit(" 注销 "),
            pl.col("deregistered").cast(pl.String).fill_null("-"),
        ).alias("detail"),
        pl.lit("").alias("column"),
        pl.lit(1.0).alias("value"),
    )


def _names(conn: Connection, year: int, usccs_stmt) -> pl.DataFrame:
    """uscc -> name (enterprise report of Y, else register) for the units selected."""
    ent, reg = TABLES["fact_enterprise_year"], TABLES["fact_market_entity"]
    reported = _frame(
        conn,
        select(ent.c.uscc, ent.c.name).where(ent.c.year == year, ent.c.uscc.in_(usccs_stmt)),
        {"uscc": pl.String, "name": pl.String},
    )
    registered = _frame(
        conn,
        select(reg.c.uscc, reg.c.name).where(reg.c.uscc.in_(usccs_stmt)),
        {"uscc": pl.String, "name": pl.String},
    )
    return pl.concat([reported, registered.join(reported, on="uscc", how="anti")])


def _town_rows(conn: Connection, spec: _Spec, indicator: str, year: int, town: str,
               county: str) -> pl.DataFrame:
    ent, reg = TABLES["fact_enterprise_year"], TABLES["fact_market_entity"]
    if spec.source == _E:
        frame = _enterprise_frame(conn, ent.c.year == year, ent.c.town_code == town)
        if indicator in ("newly_above_scale", "tech_center_enterprises"):
            frame = _with_newly(conn, frame, year)
        return _enterprise_rows(frame, spec)
    if spec.source == "registry":
        frame = _table_frame(conn, "fact_market_entity", reg.c.town_code == town)
        return _registry_rows(frame, year, spec.column == "new")

    # taxpayers / employers whose town in Y is T: report town of Y, else register town
    reported_here = select(ent.c.uscc).where(ent.c.year == year, ent.c.town_code == town)
    reported_any = select(ent.c.uscc).where(ent.c.year == year)
    registered_here = select(reg.c.uscc).where(reg.c.town_code == town)

    def unit_filter(col):
        return or_(col.in_(reported_here), and_(col.not_in(reported_any), col.in_(registered_here)))

    units = select(ent.c.uscc).where(ent.c.year == year, ent.c.town_code == town).union(
        select(reg.c.uscc).where(reg.c.town_code == town)
    )
    names = _names(conn, year, units)
    here = {r[0] for r in conn.execute(reported_here).all()}
    basis = (
        pl.when(pl.col("uscc").is_in(list(here)))
        .then(pl.lit(f"按{year}年报乡镇 / report town"))
        .otherwise(pl.lit("无当年年报，按登记乡镇 / register town"))
    )
    if spec.source == "tax":
        return _tax_rows(conn, year, unit_filter(TABLES["fact_tax_month"].c.uscc), names, basis)
    return _enrolment_rows(conn, year, unit_filter(TABLES["fact_employment_month"].c.employer_uscc),
                           names, county, spec.column == "local")


def _leading_list(conn: Connection, raw_dir: str | Path | None) -> tuple[pl.DataFrame, list[str]]:
    """(specialty_town_id, uscc, from_year, to_year) read from the raw area's
    reference/leading_enterprises.csv with the pipeline's reader, and notes."""

    root = Path(raw_dir if raw_dir is not None else settings.raw_dir())
    folder = root / "reference"
    target = folder / "leading_enterprises.csv"
    if not target.is_file():
        raise LineageError(
            f"龙头企业名单不在数据仓库中，需读取原始区的 {target}，但该文件不存在 / the leading "
            f"enterprises are not a warehouse table and {target} does not exist (give raw_dir)"
        )
    files = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and not is_ignored(path.name):
            st = path.stat()
            files.append(RawFile(path, f"reference/{path.name}", "reference", st.st_size,
                                 int(st.st_mtime), file_sha256(path)))
    leading = read_references(files).leading
    notes = [f"龙头企业名单读自原始区 / leading list read from {target}"]
    rel = "reference/leading_enterprises.csv"
    dq = _files(conn).filter((pl.col("path") == rel) & (pl.col("status") == "loaded"))
    sha = hashlib.sha256(target.read_bytes()).hexdigest()
    if dq.is_empty() or sha not in dq["sha256"].to_list():
        notes.append(
            "注意：该文件与上次刷新时载入的版本不同，龙头企业数可能与公布值不一致 / warning: this "
            "file differs from the version the warehouse was refreshed from"
        )
    return leading, notes


def _specialty_rows(conn: Connection, spec: _Spec, indicator: str, year: int, st: dict,
                    raw_dir) -> tuple[pl.DataFrame, list[str]]:
    ent, reg = TABLES["fact_enterprise_year"], TABLES["fact_market_entity"]
    hosts = _codes(st["host_town_codes"])
    core = set(_codes(st["core_industry_codes"]))
    codes = sorted(core | set(_codes(st["supporting_industry_codes"])))
    county = st["county_code"]

    def in_area(col):
        return col.in_(hosts) if hosts else func.substr(col, 1, 6) == county

    notes: list[str] = []
    if spec.source == "registry":
        frame = _table_frame(conn, "fact_market_entity", in_area(reg.c.town_code),
                             reg.c.industry_code.in_(codes))
        return _registry_rows(frame, year, False), notes

    member_where = (ent.c.year == year, in_area(ent.c.town_code), ent.c.industry_code.in_(codes))
    members = _enterprise_frame(conn, *member_where)
    leading_usccs: set[str] = set()
    if spec.column in ("_leading", "_supporting"):  # the leading-enterprise list decides
        leading, notes = _leading_list(conn, raw_dir)
        listed = leading.filter(
            (pl.col("specialty_town_id") == st["id"])
            & (pl.col("from_year") <= year)
            & (pl.col("to_year").is_null() | (pl.col("to_year") >= year))
        )
        leading_usccs = set(listed["uscc"].to_list())
    members = members.with_columns(
        pl.col("industry_code").is_in(sorted(core)).alias("_core"),
        pl.col("uscc").is_in(sorted(leading_usccs)).alias("_leading"),
    ).with_columns((~pl.col("_leading")).alias("_supporting"))
    detail = pl.concat_str(
        pl.lit("行业 "),
        pl.col("industry_code"),
        pl.when(pl.col("_core")).then(pl.lit(" 核心 core")).otherwise(pl.lit(" 配套 supporting")),
        pl.when(pl.col("_leading")).then(pl.lit(" 龙头 leading")).otherwise(pl.lit("")),
        pl.lit(" 乡镇 "),
        pl.col("town_code"),
    )
    if spec.source == _E:
        if indicator == "core_output_value":
            members = members.filter(pl.col("_core"))
        return _enterprise_rows(members, spec, detail), notes

    member_usccs = select(ent.c.uscc).where(*member_where)
    names = _names(conn, year, member_usccs)
    basis = pl.lit(f"{year} 年成员企业 / member in {year}")
    if spec.source == "tax":
        return _tax_rows(conn, year, TABLES["fact_tax_month"].c.uscc.in_(member_usccs), names,
                         basis), notes
    return _enrolment_rows(conn, year, TABLES["fact_employment_month"].c.employer_uscc.in_(member_usccs),
                           names, county, spec.column == "local"), notes


# -- the question ------------------------------------------------------------------------


def supported_indicators() -> dict[str, list[str]]:
    """Indicators explain() supports, by table."""
    return {TOWN_TABLE: list(_specs(TOWN_TABLE)), SPECIALTY_TABLE: list(_specs(SPECIALTY_TABLE))}


def _unknown(indicator: str, table_name: str, specs: dict[str, _Spec]) -> LineageError:
    listed = ", ".join(specs)
    return LineageError(
        f"不支持溯源的指标“{indicator}”（{table_name}）；比率、同比等派生指标请分别溯源其分子、分母。"
        f"支持的指标：{listed}\n"
        f"Indicator {indicator!r} cannot be explained for {table_name} (ratios and yoy are derived: "
        f"explain their parts). Supported: {listed}"
    )


def explain(
    url: str,
    indicator: str,
    year: int,
    town: str | None = None,
    specialty_town: str | None = None,
    *,
    raw_dir: str | Path | None = None,
) -> Explanation:
    """The source rows behind ``indicator`` of ``town`` (ind_town_year) or of
    ``specialty_town`` (ind_specialty_town_year) in ``year``, their total and the published
    value. ``town``: 9-digit code or a unique name in dim_town; ``specialty_town``: id or name.
    ``raw_dir`` is read only for leading/supporting enterprises (the leading list)."""
    if (town is None) == (specialty_town is None):
        raise LineageError("请指定乡镇或专业镇之一 / give exactly one of town and specialty_town")
    table_name = TOWN_TABLE if town is not None else SPECIALTY_TABLE
    specs = _specs(TOWN_TABLE if town is not None else SPECIALTY_TABLE)
    if indicator not in specs:
        raise _unknown(indicator, table_name, specs)
    spec = specs[indicator]
    year = int(year)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            years = _years(conn, table_name)
            if year not in years:
                have = ", ".join(str(y) for y in years) or "无 / none"
                raise LineageError(
                    f"{table_name} 中没有 {year} 年的指标；可用年份：{have} / "
                    f"{table_name} has no indicators for {year}; years available: {have}"
                )
            notes: list[str] = []
            if town is not None:
                code, name, county = _resolve_town(conn, town)
                rows = _town_rows(conn, spec, indicator, year, code, county)
                key = "town_code"
            else:
                st = _resolve_specialty(conn, specialty_town)
                code, name = st["id"], st["name"]
                rows, notes = _specialty_rows(conn, spec, indicator, year, st, raw_dir)
                key = "specialty_town_id"
            published = _published(conn, table_name, key, code, year, indicator)
            rows = _finish_rows(rows, _files(conn))
    finally:
        engine.dispose()

    entry = catalogue_entry(table_name, indicator)
    values = rows["value"].drop_nulls()
    if spec.money:
        total: float | int = sum(round(v * 100) for v in values.to_list()) / 100
    else:
        total = int(round(values.sum())) if values.len() else 0
    if published is None:
        notes.append(f"{table_name} 中没有该单位该年的行（视为 0）/ {table_name} has no row for it (0)")
    if spec.kind == "distinct":
        notes.append(
            f"{rows.height} 条参保记录，{int(total)} 人（同一人在多个单位参保只计一次）/ "
            f"{rows.height} enrolment rows, {int(total)} distinct persons"
        )
    nulls = rows["value"].null_count()
    if nulls:
        notes.append(f"{nulls} 行数值为空，合计时不计 / {nulls} rows with a null value, skipped")
    return Explanation(
        indicator=indicator,
        indicator_zh=entry.name_zh,
        unit=entry.unit,
        table=table_name,
        year=year,
        subject_code=code,
        subject_name=name,
        kind=spec.kind,
        rule_zh=spec.rule_zh,
        rule_en=spec.rule_en,
        rows=rows,
        total=total,
        published=published,
        notes=tuple(notes),
    )


# -- rendering ---------------------------------------------------------------------------


def _fmt(value, money: bool) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}" if money else f"{int(round(value)):,d}"


def render_explanation(e: Explanation, limit: int = DEFAULT_LIMIT) -> str:
    """The explanation as terminal text: what is counted, the first ``limit`` rows (file,
    row, unit, value), "... N more", then the sum over all rows beside the published value."""
    money = e.unit == "元"
    subject = "乡镇 town" if e.table == TOWN_TABLE else "专业镇 specialty town"
    head = [
        f"指标溯源 / lineage: {e.indicator_zh}({e.unit}) {e.indicator}，{e.subject_name}"
        f"（{subject} {e.subject_code}），{e.year} 年",
        f"口径：{e.rule_zh}",
        f"rule: {e.rule_en}",
        f"来源行 / source rows: {e.rows.height:,d}"
        + (f"（显示前 {limit} 行 / first {limit} shown）" if e.rows.height > limit else ""),
    ]
    headers = ["#", "文件 file", "行 row", "期 period", "信用代码 USCC", "名称 name", "说明 detail",
               "值 value"]
    shown = e.rows.head(limit)
    body_rows = [
        [
            str(i),
            r["path"],
            str(r["source_row"]),
            r["period"] or "",
            r["uscc"] or "",
            r["name"] or "",
            r["detail"] or "",
            _fmt(r["value"], money) if e.kind != "distinct" else str(int(r["value"])),
        ]
        for i, r in enumerate(shown.iter_rows(named=True), start=1)
    ]
    body = table(headers, body_rows, ["right", "left", "right", "left", "left", "left", "left", "right"],
                 max_widths=[None, 48, None, None, None, 24, 52, None])
    width = display_width(body[0])
    out = ["+" + "-" * (width - 2) + "+", *boxed(head, width), *body]
    tail: list[str] = []
    if e.rows.height > limit:
        tail.append(f"... 另有 {e.rows.height - limit:,d} 行未显示（合计包括全部行）/ "
                    f"{e.rows.height - limit:,d} more rows not shown (the sum covers all rows)")
    by_file = e.rows.group_by("path").agg(pl.len().alias("n"), pl.col("value").sum().alias("v")).sort("path")
    if 1 < by_file.height <= 24:
        tail.append("按文件 / by file:")
        for r in by_file.iter_rows(named=True):
            tail.append(f"  {truncate(r['path'], 48)}：{r['n']:,d} 行 rows，小计 subtotal "
                        f"{_fmt(r['v'], money)}")
    verb = "人数（去重）/ distinct persons" if e.kind == "distinct" else (
        "合计 / sum of rows" if e.kind == "sum" else "行数 / rows counted")
    tail.append(f"{verb}: {_fmt(e.total, money)} {e.unit}")
    tail.append(f"{e.table}.{e.indicator} 公布值 / published value: {_fmt(e.published, money)} {e.unit}")
    tail.append("一致 ✓ / equal" if e.matches else "不一致 ✗ / NOT equal: 请检查 / please check")
    tail.extend(e.notes)
    return "\n".join([*out, *boxed(tail, width), "+" + "-" * (width - 2) + "+"]) + "\n"
