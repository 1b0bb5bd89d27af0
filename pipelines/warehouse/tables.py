"""Warehouse tables (contract section 3), declared once with SQLAlchemy Core.

Every table, column, key, type, nullability, index and bilingual comment lives here; the
publisher (`publish.py`), the reader role (`roles.py`) and the data dictionary
(`dictionary.py`) are derived from this module.

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

metadata = MetaData()

#: The PostgreSQL role other departments' tools connect as (contract section 3).
READER_ROLE = "townstat_reader"


@dataclass(frozen=True)
class C:
    """One column: name, SQL type, NOT NULL, comment in Chinese and English."""

    name: str
    type: type[TypeEngine] | TypeEngine
    required: bool
    zh: str
    en: str


YEAR = C("year", Integer, True, "统计年度", "statistical year")
PERIOD = C("period", String(7), True, "所属期（YYYY-MM）", "period, month YYYY-MM")
USCC = C("uscc", String(18), True, "统一社会信用代码", "unified social credit code (USCC)")
TOWN = C("town_code", String(9), True, "乡镇代码（9位统计用区划代码）", "town code, 9-digit statistical division code")
COUNTY = C("county_code", String(6), True, "县级区划代码（6位）", "county code, 6 digits")
ST_ID = C("specialty_town_id", String, True, "专业镇编号", "specialty town id")
SRC_FILE = C("source_file_id", String, False, "来源文件编号（dq_file.file_id）", "source file id (dq_file.file_id)")
SRC_ROW = C("source_row", BigInteger, False, "来源文件中的行号（从1起，含表头）", "row number in the source file, 1-based, header rows counted")


def _money(name: str, zh: str, en: str, required: bool = True) -> C:
    return C(name, Double, required, f"{zh}（元）", f"{en}, yuan")


def _count(name: str, zh: str, en: str, required: bool = True) -> C:
    return C(name, BigInteger, required, zh, en)


def _ratio(name: str, zh: str, en: str) -> C:
    return C(name, Double, False, zh, en)


def _yoy(name: str, zh: str, en: str) -> C:
    return C(name, Double, False, f"{zh}同比增长率（本年/上年−1）", f"{en}, year-on-year growth (Y / Y-1 − 1)")


# -- indicator columns shared by ind_town_year and pub_town_year ---------------------------

def _town_indicators(money_required: bool) -> list[C]:
    m = money_required
    return [
        _count("enterprises", "报表企业数", "enterprises reporting"),
        _count("above_scale_enterprises", "规模（限额）以上企业数", "above-scale enterprises"),
        _count("newly_above_scale", "新增规上企业数（本年规上、上年非规上）", "newly above-scale enterprises (above scale in Y, not in Y-1)"),
        _money("output_value", "工业总产值", "gross output value", m),
        _yoy("output_value_yoy", "工业总产值", "output value"),
        _money("revenue", "营业收入", "operating revenue", m),
        _yoy("revenue_yoy", "营业收入", "revenue"),
        _count("employees", "从业人员期末人数", "employees at year end (reported)"),
        _money("rd_expenditure", "研发费用", "R&D expenditure", m),
        _ratio("rd_intensity", "研发投入强度（研发费用/营业收入）", "R&D intensity (rd_expenditure / revenue)"),
        _money("export_value", "出口交货值", "export delivery value", m),
        _money("ecommerce_sales", "电子商务销售额", "e-commerce sales", m),
        _count("patents_granted", "专利授权数", "patents granted"),
        _count("high_tech_enterprises", "高新技术企业数", "high-tech enterprises"),
        _count("specialized_sme_enterprises", "专精特新企业数", "specialised and sophisticated SMEs"),
        _count("little_giant_enterprises", "专精特新“小巨人”企业数", "'little giant' enterprises"),
        _count("tech_center_enterprises", "有企业技术中心的企业数", "enterprises with a technology centre"),
        _money("tax_total", "税收合计", "total tax of taxpayers in the town over the year", m),
        _yoy("tax_total_yoy", "税收合计", "total tax"),
        _count("insured_persons", "12月参保人数（去重）", "distinct persons insured in December"),
        _count("local_insured_persons", "其中户籍在本县的参保人数", "of whom with hukou in the same county"),
        _count("market_entities", "年末存续市场主体数", "market entities alive at year end"),
        _count("new_market_entities", "本年新设市场主体数", "market entities established in the year"),
        _yoy("market_entities_yoy", "年末存续市场主体数", "market entities"),
    ]


@dataclass(frozen=True)
class Spec:
    name: str
    zh: str
    en: str
    columns: list[C]
    key: list[str]
    indexes: list[tuple[str, ...]]


SPECS: list[Spec] = [
    Spec(
        "dim_town", "乡镇维表（区划参考）", "towns reference",
        [
            TOWN,
            C("town_name", Text, True, "乡镇名称", "town name"),
            COUNTY,
            C("county_name", Text, False, "县（市、区）名称", "county name"),
            C("city_code", String(6), False, "市级区划代码（6位）", "city code, 6 digits"),
            C("city_name", Text, False, "市名称", "city name"),
            C("province_code", String(6), False, "省级区划代码（6位）", "province code, 6 digits"),
            C("province_name", Text, False, "省名称", "province name"),
        ],
        ["town_code"], [("county_code",)],
    ),
    Spec(
        "dim_specialty_town", "专业镇维表", "specialty towns reference",
        [
            C("id", String, True, "专业镇编号", "specialty town id"),
            C("name", Text, True, "专业镇名称", "specialty town name"),
            COUNTY,
            C("host_town_codes", Text, False, "所在乡镇代码（分号分隔，空=全县）", "host town codes, ';'-separated, empty = whole county"),
            C("category", String, True, "类别：manufacturing 制造业 / agriculture 特优农业 / light_industry 特色轻工", "category: manufacturing / agriculture / light_industry"),
            C("heritage", Boolean, True, "历史发源地或地理标志", "historical origin or geographical indication"),
            C("national_market", Boolean, True, "具有全国性大市场空间", "large national market space"),
            C("core_industry_codes", Text, False, "核心行业代码（分号分隔，4位）", "core industry classes, ';'-separated 4-digit codes"),
            C("supporting_industry_codes", Text, False, "配套行业代码（分号分隔，4位）", "supporting industry classes, ';'-separated 4-digit codes"),
        ],
        ["id"], [("county_code",)],
    ),
    Spec(
        "fact_enterprise_year", "企业年报（现行版本）", "annual enterprise reports, current version",
        [
            YEAR, USCC,
            C("name", Text, True, "单位详细名称", "enterprise name"),
            TOWN,
            C("industry_code", String(4), True, "行业代码（GB/T 4754-2017 小类）", "industry class, GB/T 4754-2017, 4 digits"),
            _money("output_value", "工业总产值", "gross output value"),
            _money("revenue", "营业收入", "operating revenue"),
            _count("employees", "从业人员期末人数", "employees at year end"),
            _money("rd_expenditure", "研发费用", "R&D expenditure", False),
            _money("export_value", "出口交货值", "export delivery value", False),
            _money("ecommerce_sales", "电子商务销售额", "e-commerce sales", False),
            _count("patents_granted", "专利授权数", "patents granted", False),
            C("high_tech", Boolean, True, "高新技术企业", "high-tech enterprise"),
            C("specialized_sme", Boolean, True, "专精特新企业", "specialised and sophisticated SME"),
            C("little_giant", Boolean, True, "专精特新“小巨人”", "'little giant' enterprise"),
            C("tech_center_level", String, True, "企业技术中心级别：none 无 / municipal 市级 / provincial 省级 / national 国家级", "technology centre level: none / municipal / provincial / national"),
            C("above_scale", Boolean, True, "规模（限额）以上", "above scale (revenue ≥ NBS threshold for the industry)"),
            SRC_FILE, SRC_ROW,
        ],
        ["year", "uscc"], [("town_code",), ("uscc",)],
    ),
    Spec(
        "fact_tax_month", "月度税收（现行版本）", "monthly tax records, current version",
        [
            PERIOD, USCC, YEAR,
            _money("vat", "增值税", "value-added tax", False),
            _money("corporate_income_tax", "企业所得税", "corporate income tax", False),
            _money("other_tax", "其他税收", "other taxes", False),
            _money("total_tax", "税收合计（缺失时为各税种之和）", "total tax (given, else the sum of the non-null parts)", False),
            _money("total_tax_reported", "税收合计（原表填报值）", "total tax as reported in the file", False),
            _money("invoice_sales", "开票销售额", "invoiced sales", False),
            SRC_FILE, SRC_ROW,
        ],
        ["period", "uscc"], [("year",), ("uscc",)],
    ),
    Spec(
        "fact_employment_month", "月度社保参保（现行版本，已假名化）", "monthly social-insurance enrolment, current version, pseudonymised",
        [
            PERIOD,
            C("person_key", String(64), True, "人员假名键（身份证号的 HMAC-SHA256）", "person key: HMAC-SHA256 of the person ID"),
            C("employer_uscc", String(18), True, "参保单位统一社会信用代码", "employer USCC"),
            YEAR,
            C("hukou_code", String(12), True, "户籍地区划代码（原值，6/9/12位）", "hukou division code as given, 6/9/12 digits"),
            C("hukou_county_code", String(6), True, "户籍所在县代码（6位）", "hukou county code, 6 digits"),
            _money("contribution_base", "缴费基数", "contribution base", False),
            SRC_FILE, SRC_ROW,
        ],
        # no secondary index: queries go by period (the key's prefix); at province scale each
        # index on 35 million rows would add half a minute to every refresh
        ["period", "person_key", "employer_uscc"], [],
    ),
    Spec(
        "fact_market_entity", "市场主体登记（现行版本）", "market-entity register, current version",
        [
            USCC,
            C("name", Text, True, "市场主体名称", "entity name"),
            C("entity_type", String, True, "市场主体类型：enterprise 企业 / individual 个体工商户 / cooperative 农民专业合作社", "entity type: enterprise / individual / cooperative"),
            TOWN,
            C("industry_code", String(4), True, "行业代码（GB/T 4754-2017 小类）", "industry class, GB/T 4754-2017, 4 digits"),
            C("established", Date, True, "成立日期", "date established"),
            C("deregistered", Date, False, "注销日期", "date deregistered"),
            SRC_FILE, SRC_ROW,
        ],
        ["uscc"], [("town_code",)],
    ),
    Spec(
        "ind_town_year", "乡镇年度指标（未经披露控制，内部）", "town indicators by year (unsuppressed, internal)",
        [TOWN, YEAR, *_town_indicators(True), C("county_code", String(6), False, "县级区划代码（6位）", "county code, 6 digits")],
        ["town_code", "year"], [("year",)],
    ),
    Spec(
        "ind_specialty_town_year", "专业镇年度指标（内部）", "specialty town indicators by year (internal)",
        [
            ST_ID, YEAR,
            _count("member_enterprises", "成员企业数", "member enterprises"),
            _count("leading_enterprises", "龙头企业数", "leading enterprises"),
            _count("supporting_enterprises", "配套企业数（成员−龙头）", "supporting enterprises (members − leading)"),
            _money("output_value", "成员企业总产值", "members' output value"),
            _yoy("output_value_yoy", "成员企业总产值", "output value"),
            _money("core_output_value", "核心行业产值", "output value of members with a core industry code"),
            _ratio("market_share", "市场占有率（核心产值/全省同类产品产值）", "market share (core output / provincial output)"),
            _count("employees", "从业人员期末人数", "members' employees at year end"),
            _count("insured_persons", "12月参保人数（去重）", "distinct persons insured in December at members"),
            _count("local_insured_persons", "其中户籍在本县的参保人数", "of whom with hukou in the specialty town's county"),
            _money("tax_total", "税收合计", "members' total tax"),
            _count("above_scale_enterprises", "规模（限额）以上企业数", "above-scale members"),
            _count("newly_above_scale", "新增规上企业数", "newly above-scale members"),
            _ratio("rd_intensity", "研发投入强度", "R&D intensity (rd_expenditure / revenue)"),
            _count("high_tech_enterprises", "高新技术企业数", "high-tech members"),
            _count("specialized_sme_enterprises", "专精特新企业数", "specialised and sophisticated SME members"),
            _money("ecommerce_sales", "电子商务销售额", "members' e-commerce sales"),
            _money("export_value", "出口交货值", "members' export delivery value"),
            _count("market_entities", "年末存续相关市场主体数", "related market entities alive at year end"),
            _yoy("market_entities_yoy", "年末存续相关市场主体数", "market entities"),
        ],
        ["specialty_town_id", "year"], [("year",)],
    ),
    Spec(
        "eval_criterion", "专业镇认定标准逐项评价", "evaluation, one row per criterion",
        [
            C("criteria_set", String, True, "标准集名称", "criteria set"),
            ST_ID, YEAR,
            C("criterion", String, True, "标准项：concentration 集聚度 / scale 规模 / market 市场 / employment 就业", "criterion: concentration / scale / market / employment"),
            C("value", Double, False, "指标值", "value"),
            C("threshold", Double, False, "门槛值", "threshold"),
            C("ratio", Double, False, "达标比（指标值/门槛，未封顶）", "ratio value / threshold, uncapped"),
            C("weight", Double, True, "权重", "weight"),
            C("met", Boolean, True, "是否达标", "criterion met"),
        ],
        ["criteria_set", "specialty_town_id", "year", "criterion"], [("specialty_town_id",), ("year",)],
    ),
    Spec(
        "eval_specialty_town", "专业镇认定评价（宽表，对外）", "specialty town evaluation, wide view (published)",
        [
            C("criteria_set", String, True, "标准集名称", "criteria set"),
            ST_ID, YEAR,
            C("category", String, True, "类别", "category"),
            _count("leading_enterprises", "龙头企业数", "leading enterprises", False),
            _count("supporting_enterprises", "配套企业数", "supporting enterprises", False),
            C("concentration_met", Boolean, False, "集聚度是否达标（无此项为空）", "concentration met (null when the set has no such criterion)"),
            _money("output_value", "成员企业总产值", "members' output value", False),
            _money("scale_threshold", "规模门槛", "scale threshold", False),
            C("scale_met", Boolean, False, "规模是否达标", "scale met"),
            _ratio("market_share", "市场占有率", "market share"),
            _ratio("market_threshold", "市场占有率门槛", "market share threshold"),
            C("market_met", Boolean, False, "市场是否达标", "market met"),
            _count("employees", "从业人员期末人数", "members' employees", False),
            C("employment_threshold", Double, False, "就业门槛（人）", "employment threshold, persons"),
            C("employment_met", Boolean, False, "就业是否达标", "employment met"),
            C("all_met", Boolean, True, "全部达标", "all criteria met"),
            C("score", Double, True, "综合得分（0-100）", "score, 0-100"),
            C("rank", BigInteger, True, "同年同标准集内排名", "rank within criteria set and year"),
        ],
        ["criteria_set", "specialty_town_id", "year"], [("specialty_town_id",), ("year",)],
    ),
    Spec(
        "pub_town_year", "乡镇年度指标（披露控制后，对外）", "town indicators by year after disclosure control (published)",
        [
            TOWN, YEAR, *_town_indicators(False),
            C("county_code", String(6), False, "县级区划代码（6位）", "county code, 6 digits"),
            C("suppressed", Text, True, "被抑制的金额列（分号分隔，空=无）", "money columns suppressed in this row, ';'-separated, empty = none"),
        ],
        ["town_code", "year"], [("year",)],
    ),
    Spec(
        "dq_file", "数据质量：已见文件清单", "data quality: every file seen",
        [
            C("file_id", String, True, "文件编号（同路径同内容稳定）", "file id, stable for the same path and bytes"),
            C("path", Text, True, "相对原始区的路径（/分隔）", "path relative to the raw area, '/'-separated"),
            C("source", String, False, "数据来源", "source"),
            C("sha256", String(64), False, "文件SHA-256", "file SHA-256"),
            _count("bytes", "文件字节数", "file size, bytes", False),
            C("mtime", DateTime(timezone=True), False, "文件修改时间（UTC）", "file modification time, UTC"),
            C("status", String, True, "状态：loaded / rejected / duplicate / removed", "status: loaded / rejected / duplicate / removed"),
            _count("rows_read", "读取数据行数", "data rows read", False),
            _count("rows_loaded", "通过行数", "rows that passed", False),
            _count("rows_rejected", "拒收行数", "rows rejected", False),
            C("message", Text, False, "说明", "message"),
        ],
        ["file_id"], [("source",)],
    ),
    Spec(
        "dq_rejected_row", "数据质量：拒收行", "data quality: rejected rows",
        [
            C("file_id", String, True, "文件编号", "file id"),
            C("source_row", BigInteger, True, "行号（从1起，含表头）", "row number, 1-based, header rows counted"),
            C("column", String, True, "列名（多列以分号连接）", "column, several joined by ';'"),
            C("rule", String, True, "规则", "rule"),
            C("path", Text, False, "文件路径", "file path"),
            C("value", Text, False, "原值（绝不含身份证号）", "value as read (never a person ID)"),
            C("message", Text, False, "说明（中英文）", "message, Chinese and English"),
        ],
        ["file_id", "source_row", "column", "rule"], [("rule",)],
    ),
    Spec(
        "dq_flag", "数据质量：预警（不拒收）", "data quality: warnings that reject nothing",
        [
            C("source", String, True, "被标记记录的来源", "source of the record flagged"),
            C("key", Text, True, "记录键（以 | 连接）", "record key, columns joined by '|'"),
            C("rule", String, True, "预警规则", "rule"),
            C("detail", Text, False, "详情", "detail"),
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
pub_town_year = TABLES["pub_town_year"]
dq_file = TABLES["dq_file"]
dq_rejected_row = TABLES["dq_rejected_row"]
dq_flag = TABLES["dq_flag"]


def table_names() -> list[str]:
    """Every warehouse table, in contract order."""
    return [s.name for s in SPECS]


def reader_can_read(name: str) -> bool:
    """Contract section 3: townstat_reader reads dim_*, pub_*, eval_* and dq_file only."""
    return name.startswith(("dim_", "pub_", "eval_")) or name == "dq_file"


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
