"""Warehouse tables (contract section 3), declared once with SQLAlchemy Core.

Every table, column, key, type, nullability, index and bilingual comment lives here; the
publisher (`publish.py`), the reader role (`roles.py`) and the data dictionary
(`dictionary.py`) are derived from this module. The fact tables' columns and keys are
generated from the source specs (`schemas.columns`).

Type rules: money, ratios, shares and scores are `Double`; counts and row numbers
`BigInteger`; years `Integer`; codes `String`; free text `Text`; dates `Date`; timestamps
`DateTime(timezone=True)`; flags `Boolean`.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from pipelines.evaluation.layout import WIDE_CRITERIA
from pipelines.indicators.catalogue import indicator, indicators
from schemas.columns import SOURCES, ColumnSpec, SourceSpec

TOWN_TABLE, SPECIALTY_TABLE = "ind_town_year", "ind_specialty_town_year"

metadata = MetaData()

#: The PostgreSQL role other departments' tools connect as (contract section 3).
READER_ROLE = "townstat_reader"


@dataclass(frozen=True)
class ColumnDecl:
    """One column: name, SQL type, NOT NULL, comment in Chinese and English."""

    name: str
    type: type[TypeEngine] | TypeEngine
    required: bool
    zh: str
    en: str


YEAR = ColumnDecl("year", Integer, True, "统计年度", "statistical year")
TOWN = ColumnDecl("town_code", String(9), True, "乡镇代码（9位统计用区划代码）", "town code, 9-digit statistical division code")
COUNTY = ColumnDecl("county_code", String(6), True, "县级区划代码（6位）", "county code, 6 digits")
ST_ID = ColumnDecl("specialty_town_id", String, True, "专业镇编号", "specialty town id")


def _count(name: str, zh: str, en: str, required: bool = True) -> ColumnDecl:
    return ColumnDecl(name, BigInteger, required, zh, en)


# -- indicator columns: generated from the indicator catalogue ------------------------------

def _indicator_columns(table: str, money_required: bool = True) -> list[ColumnDecl]:
    """The columns of an ind_* table (or its published view, where money may be suppressed)."""
    return [ColumnDecl(i.name, BigInteger if i.kind == "count" else Double,
              i.kind == "count" or (i.kind == "money" and money_required), i.comment_zh, i.description)
            for i in indicators(table)]


def _evaluation_columns() -> list[ColumnDecl]:
    """eval_specialty_town's value, threshold and met columns, criterion by criterion."""
    cols: list[ColumnDecl] = []
    for w in WIDE_CRITERIA:
        for name in w.reads:
            i = indicator(SPECIALTY_TABLE, name)
            cols.append(ColumnDecl(name, BigInteger if i.kind == "count" else Double, False, i.comment_zh, i.description))
        if w.threshold:
            cols.append(ColumnDecl(w.threshold, Double, False, f"{w.zh}门槛", f"{w.criterion} threshold"))
        cols.append(ColumnDecl(w.met, Boolean, False, f"{w.zh}是否达标（无此项为空）",
                      f"{w.criterion} met (null when the set has no such criterion)"))
    return cols


@dataclass(frozen=True)
class Spec:
    name: str
    zh: str
    en: str
    columns: list[ColumnDecl]
    key: list[str]
    indexes: list[tuple[str, ...]]


# -- fact tables: generated from the source specs (schemas.columns) -------------------------

#: SQL type of a fact column by the kind of its source column.
FACT_SQL_TYPES: dict[str, type[TypeEngine] | TypeEngine] = {
    "year": Integer, "period": String(7), "date": Date, "uscc": String(18), "town": String(9),
    "hukou": String(12), "county": String(6), "industry": String(4), "person_key": String(64),
    "text": Text, "money": Double, "integer": BigInteger, "boolean": Boolean, "level": String,
    "entity_type": String, "file_id": String,
}


def _fact_column(col: ColumnSpec) -> ColumnDecl:
    zh, en = col.comment_zh, col.comment_en
    if col.kind == "money":  # stored in yuan, whatever unit the file used
        zh, en = f"{zh}（元）", f"{en}, yuan"
    return ColumnDecl(col.name, FACT_SQL_TYPES[col.kind], col.not_null and not col.warehouse_nullable, zh, en)


def fact_spec(source: SourceSpec, name: str, zh: str, en: str, indexes: list[tuple[str, ...]]) -> Spec:
    """The fact table of `source`: its columns (types, NOT NULL, comments) and key come from the
    source spec; its name, comment and indexes are the warehouse's."""
    return Spec(name, zh, en, [_fact_column(c) for c in source.fact_columns], list(source.fact_key),
                indexes)


SPECS: list[Spec] = [
    Spec(
        "dim_town", "乡镇维表（区划参考）", "towns reference",
        [
            TOWN,
            ColumnDecl("town_name", Text, True, "乡镇名称", "town name"),
            COUNTY,
            ColumnDecl("county_name", Text, False, "县（市、区）名称", "county name"),
            ColumnDecl("city_code", String(6), False, "市级区划代码（6位）", "city code, 6 digits"),
            ColumnDecl("city_name", Text, False, "市名称", "city name"),
            ColumnDecl("province_code", String(6), False, "省级区划代码（6位）", "province code, 6 digits"),
            ColumnDecl("province_name", Text, False, "省名称", "province name"),
        ],
        ["town_code"], [("county_code",)],
    ),
    Spec(
        "dim_specialty_town", "专业镇维表", "specialty towns reference",
        [
            ColumnDecl("id", String, True, "专业镇编号", "specialty town id"),
            ColumnDecl("name", Text, True, "专业镇名称", "specialty town name"),
            COUNTY,
            ColumnDecl("host_town_codes", Text, False, "所在乡镇代码（分号分隔，空=全县）", "host town codes, ';'-separated, empty = whole county"),
            ColumnDecl("category", String, True, "类别：manufacturing 制造业 / agriculture 特优农业 / light_industry 特色轻工", "category: manufacturing / agriculture / light_industry"),
            ColumnDecl("heritage", Boolean, True, "历史发源地或地理标志", "historical origin or geographical indication"),
            ColumnDecl("national_market", Boolean, True, "具有全国性大市场空间", "large national market space"),
            ColumnDecl("core_industry_codes", Text, False, "核心行业代码（分号分隔，4位）", "core industry classes, ';'-separated 4-digit codes"),
            ColumnDecl("supporting_industry_codes", Text, False, "配套行业代码（分号分隔，4位）", "supporting industry classes, ';'-separated 4-digit codes"),
        ],
        ["id"], [("county_code",)],
    ),
    fact_spec(SOURCES["enterprise"], "fact_enterprise_year", "企业年报（现行版本）",
              "annual enterprise reports, current version", [("town_code",), ("uscc",)]),
    fact_spec(SOURCES["tax"], "fact_tax_month", "月度税收（现行版本）", "monthly tax records, current version",
              [("year",), ("uscc",)]),
    # no secondary index: queries go by period (the key's prefix); at province scale each
    # index on 35 million rows would add half a minute to every refresh
    fact_spec(SOURCES["employment"], "fact_employment_month", "月度社保参保（现行版本，已假名化）",
              "monthly social-insurance enrolment, current version, pseudonymised", []),
    fact_spec(SOURCES["registry"], "fact_market_entity", "市场主体登记（现行版本）",
              "market-entity register, current version", [("town_code",)]),
    Spec(
        "ind_town_year", "乡镇年度指标（未经披露控制，内部）", "town indicators by year (unsuppressed, internal)",
        [TOWN, YEAR, *_indicator_columns(TOWN_TABLE), ColumnDecl("county_code", String(6), False, "县级区划代码（6位）", "county code, 6 digits")],
        ["town_code", "year"], [("year",)],
    ),
    Spec(
        "ind_specialty_town_year", "专业镇年度指标（内部）", "specialty town indicators by year (internal)",
        [ST_ID, YEAR, *_indicator_columns(SPECIALTY_TABLE)],
        ["specialty_town_id", "year"], [("year",)],
    ),
    Spec(
        "eval_criterion", "专业镇认定标准逐项评价", "evaluation, one row per criterion",
        [
            ColumnDecl("criteria_set", String, True, "标准集名称", "criteria set"),
            ST_ID, YEAR,
            ColumnDecl("criterion", String, True, "标准项：concentration 集聚度 / scale 规模 / market 市场 / employment 就业", "criterion: concentration / scale / market / employment"),
            ColumnDecl("value", Double, False, "指标值", "value"),
            ColumnDecl("threshold", Double, False, "门槛值", "threshold"),
            ColumnDecl("ratio", Double, False, "达标比（指标值/门槛，未封顶）", "ratio value / threshold, uncapped"),
            ColumnDecl("weight", Double, True, "权重", "weight"),
            ColumnDecl("met", Boolean, True, "是否达标", "criterion met"),
        ],
        ["criteria_set", "specialty_town_id", "year", "criterion"], [("specialty_town_id",), ("year",)],
    ),
    Spec(
        "eval_specialty_town", "专业镇认定评价（宽表，对外）", "specialty town evaluation, wide view (published)",
        [
            ColumnDecl("criteria_set", String, True, "标准集名称", "criteria set"),
            ST_ID, YEAR,
            ColumnDecl("category", String, True, "类别", "category"),
            *_evaluation_columns(),
            ColumnDecl("all_met", Boolean, True, "全部达标", "all criteria met"),
            ColumnDecl("score", Double, True, "综合得分（0-100）", "score, 0-100"),
            ColumnDecl("rank", BigInteger, True, "同年同标准集内排名", "rank within criteria set and year"),
        ],
        ["criteria_set", "specialty_town_id", "year"], [("specialty_town_id",), ("year",)],
    ),
    Spec(
        "eval_gap", "专业镇认定差距（逐项指标，对外）", "distance to recognition, one row per indicator a criterion reads (published)",
        [
            ColumnDecl("criteria_set", String, True, "标准集名称", "criteria set"),
            ST_ID, YEAR,
            ColumnDecl("indicator", String, True, "标准项读取的指标（ind_specialty_town_year 列名）", "indicator a criterion reads, an ind_specialty_town_year column"),
            ColumnDecl("value", Double, False, "指标值（空=无数据）", "value, null when missing"),
            ColumnDecl("threshold", Double, False, "门槛值（全国性大市场时市场项为空）", "threshold, null for market when national_market"),
            ColumnDecl("shortfall", Double, False, "差距 = max(0, 门槛 − 指标值)，指标自身单位；无数据差整个门槛；全国性大市场为 0", "shortfall = max(0, threshold - value) in the indicator's unit; the whole threshold when the value is null; 0 when national_market"),
            ColumnDecl("met", Boolean, True, "是否达标（指标值 ≥ 门槛，或全国性大市场）", "met: value >= threshold, or national_market"),
        ],
        ["criteria_set", "specialty_town_id", "year", "indicator"], [("specialty_town_id",), ("year",)],
    ),
    Spec(
        "eval_target", "年度目标及进度（内部：含未经披露控制的实际值）",
        "yearly targets and progress (internal: unsuppressed actual and to-date values)",
        [
            ColumnDecl("level", String, True, "层级：town 乡镇 / specialty_town 专业镇", "level: town / specialty_town"),
            ColumnDecl("id", String, True, "乡镇代码（9位）或专业镇编号", "town code (9 digits) or specialty town id"),
            YEAR,
            ColumnDecl("indicator", String, True, "指标（乡镇为 ind_town_year 的列名，专业镇为 ind_specialty_town_year 的列名）", "indicator: a column of ind_town_year (town) or ind_specialty_town_year (specialty town)"),
            ColumnDecl("target", Double, True, "目标值（指标自身单位：元、人、家；比率和增速为小数）", "target, in the indicator's own unit (yuan, persons, enterprises; a fraction for a ratio or yoy)"),
            ColumnDecl("actual", Double, False, "实际值（该年度指标表中的值；无此行为空）", "actual: the indicator for that id and year, null when there is no such row"),
            ColumnDecl("attainment", Double, False, "完成率 = 实际值 / 目标值（实际值为空或目标值 ≤ 0 时为空）", "attainment = actual / target, null when actual is null or target <= 0"),
            ColumnDecl("met", Boolean, True, "是否完成（实际值 ≥ 目标值；实际值为空为否）", "met: actual >= target, false when actual is null"),
            ColumnDecl("latest_period", String(7), False, "全域该年最新所属期（YYYY-MM，仅税收合计和参保人数；无数据为空）", "latest period of Y in the whole area's tax (tax_total) or enrolment (insured_persons) rows, YYYY-MM; null otherwise"),
            ColumnDecl("to_date", Double, False, "本年累计：税收合计为1月至最新所属期的税收（元），参保人数为最新所属期的参保人数（人）", "to date: tax_total, total tax of the months of Y up to latest_period (yuan); insured_persons, persons enrolled in latest_period"),
            ColumnDecl("to_date_prev", Double, False, "上年同期：上年相同月份的累计税收（元）或上年同月参保人数（人）", "the same for Y-1: the same months (tax, yuan) or the same month (persons)"),
        ],
        ["level", "id", "year", "indicator"], [("year",)],
    ),
    Spec(
        "pub_town_year", "乡镇年度指标（披露控制后，对外）", "town indicators by year after disclosure control (published)",
        [
            TOWN, YEAR, *_indicator_columns(TOWN_TABLE, money_required=False),
            ColumnDecl("county_code", String(6), False, "县级区划代码（6位）", "county code, 6 digits"),
            ColumnDecl("suppressed", Text, True, "被抑制的金额列（分号分隔，空=无）", "money columns suppressed in this row, ';'-separated, empty = none"),
        ],
        ["town_code", "year"], [("year",)],
    ),
    Spec(
        "dq_file", "数据质量：已见文件清单", "data quality: every file seen",
        [
            ColumnDecl("file_id", String, True, "文件编号（同路径同内容稳定）", "file id, stable for the same path and bytes"),
            ColumnDecl("path", Text, True, "相对原始区的路径（/分隔）", "path relative to the raw area, '/'-separated"),
            ColumnDecl("source", String, False, "数据来源", "source"),
            ColumnDecl("sha256", String(64), False, "文件SHA-256", "file SHA-256"),
            _count("bytes", "文件字节数", "file size, bytes", False),
            ColumnDecl("mtime", DateTime(timezone=True), False, "文件修改时间（UTC）", "file modification time, UTC"),
            ColumnDecl("status", String, True, "状态：loaded / rejected / duplicate / removed", "status: loaded / rejected / duplicate / removed"),
            _count("rows_read", "读取数据行数", "data rows read", False),
            _count("rows_loaded", "通过行数", "rows that passed", False),
            _count("rows_rejected", "拒收行数", "rows rejected", False),
            ColumnDecl("message", Text, False, "说明", "message"),
        ],
        ["file_id"], [("source",)],
    ),
    Spec(
        "dq_rejected_row", "数据质量：拒收行", "data quality: rejected rows",
        [
            ColumnDecl("file_id", String, True, "文件编号", "file id"),
            ColumnDecl("source_row", BigInteger, True, "行号（从1起，含表头）", "row number, 1-based, header rows counted"),
            ColumnDecl("column", String, True, "列名（多列以分号连接）", "column, several joined by ';'"),
            ColumnDecl("rule", String, True, "规则", "rule"),
            ColumnDecl("path", Text, False, "文件路径", "file path"),
            ColumnDecl("value", Text, False, "原值（绝不含身份证号）", "value as read (never a person ID)"),
            ColumnDecl("message", Text, False, "说明（中英文）", "message, Chinese and English"),
        ],
        ["file_id", "source_row", "column", "rule"], [("rule",)],
    ),
    Spec(
        "dq_flag", "数据质量：预警（不拒收）", "data quality: warnings that reject nothing",
        [
            ColumnDecl("source", String, True, "被标记记录的来源", "source of the record flagged"),
            ColumnDecl("key", Text, True, "记录键（以 | 连接）", "record key, columns joined by '|'"),
            ColumnDecl("rule", String, True, "预警规则", "rule"),
            ColumnDecl("detail", Text, False, "详情", "detail"),
        ],
        ["source", "key", "rule"], [("rule",)],
    ),
]

SPEC_BY_NAME: dict[str, Spec] = {s.name: s for s in SPECS}


def index_name(table: str, cols: tuple[str, ...]) -> str:
    return f"ix_{table}_{'_'.join(cols)}"


def pk_name(table: str) -> str:
    return f"pk_{table}"


def build_table(
    spec: Spec,
    md: MetaData,
    name: str | None = None,
    *,
    with_key: bool = True,
    with_indexes: bool = True,
) -> Table:
    """The table of `spec` in `md`, under `name` (default the spec's; the publisher builds
    aside copies such as `dim_town__new`, whose constraint and index names follow the name)."""
    name = name or spec.name
    cols = [
        Column(c.name, c.type, nullable=not c.required, comment=f"{c.zh} | {c.en}")
        for c in spec.columns
    ]
    args: list = [PrimaryKeyConstraint(*spec.key, name=pk_name(name))] if with_key else []
    if with_indexes:
        args += [Index(index_name(name, ix), *ix) for ix in spec.indexes]
    # SQLite: the key is the table's only b-tree (no rowid b-tree beside a key index)
    return Table(name, md, *cols, *args, comment=f"{spec.zh} | {spec.en}",
                 sqlite_with_rowid=not with_key)


TABLES: dict[str, Table] = {s.name: build_table(s, metadata) for s in SPECS}

dim_town = TABLES["dim_town"]
dim_specialty_town = TABLES["dim_specialty_town"]
fact_enterprise_year = TABLES["fact_enterprise_year"]
fact_tax_month = TABLES["fact_tax_month"]
fact_employment_month = TABLES["fact_employment_month"]
fact_market_entity = TABLES["fact_market_entity"]
ind_town_year = TABLES["ind_town_year"]
ind_specialty_town_year = TABLES["ind_specialty_town_year"]
eval_criterion = TABLES["eval_criterion"]
eval_specialty_town = TABLES["eval_specialty_town"]
eval_target = TABLES["eval_target"]
pub_town_year = TABLES["pub_town_year"]
dq_file = TABLES["dq_file"]
dq_rejected_row = TABLES["dq_rejected_row"]
dq_flag = TABLES["dq_flag"]


def table_names() -> list[str]:
    """Every warehouse table, in contract order."""
    return [s.name for s in SPECS]


#: eval_* tables the reader may not read: eval_target holds a town's unsuppressed actual and
#: to-date values (contract v4 section 3).
PRIVATE_EVAL_TABLES = frozenset({"eval_target"})


def reader_can_read(name: str) -> bool:
    """Contract section 3: townstat_reader reads dim_*, pub_*, eval_* (not eval_target) and
    dq_file only."""
    return (name.startswith(("dim_", "pub_", "eval_")) and name not in PRIVATE_EVAL_TABLES) or name == "dq_file"


READER_TABLES: list[str] = [n for n in table_names() if reader_can_read(n)]


def polars_dtype(sql_type: TypeEngine) -> pl.DataType:
    """The Polars dtype a column of this SQL type has in frames (architecture.md)."""
    if isinstance(sql_type, Boolean):
        return pl.Boolean()
    if isinstance(sql_type, BigInteger):
        return pl.Int64()
    if isinstance(sql_type, Integer):
        return pl.Int32()
    if isinstance(sql_type, Double):
        return pl.Float64()
    if isinstance(sql_type, DateTime):
        return pl.Datetime("us", "UTC")
    if isinstance(sql_type, Date):
        return pl.Date()
    if isinstance(sql_type, String | Text):
        return pl.String()
    raise TypeError(f"no Polars dtype for {sql_type!r}")


def polars_schema(name: str) -> dict[str, pl.DataType]:
    """Column name -> Polars dtype of a warehouse table, in declared order."""
    return {c.name: polars_dtype(c.type) for c in TABLES[name].columns}
