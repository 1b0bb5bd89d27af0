"""The columns of every raw source (contract section 2.1), declared once.

A column has a canonical English name, the headers the bureau may use for it, a kind
(which parser and which identifier rule apply), whether it is required and its range.
The readers, the validation, the pandera schemas and the documentation all read this.

A source spec is also the only declaration of its fact table's shape: the columns read from
the file, the columns ingest derives from them (`derived`: above_scale, year, person_key, ...)
and the lineage columns every fact has, with their kinds, comments and key. The fact frames'
dtypes (`pipelines.ingest.sources.fact_dtypes`), the pandera schemas (`schemas.facts`) and the
warehouse fact tables (`pipelines.warehouse.tables`) are generated from it: adding a column is
one entry here (plus, for a derived column, its computation in
`pipelines.ingest.sources.finish_source_columns`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal[
    "year",
    "period",
    "date",
    "uscc",
    "person_id",
    "town",
    "hukou",
    "industry",
    "text",
    "money",
    "integer",
    "boolean",
    "level",
    "entity_type",
    # kinds only derived columns have (never parsed from a cell)
    "person_key",  # HMAC-SHA256 of a person ID, 64 hex digits
    "county",  # 6-digit county division code
    "file_id",  # dq_file.file_id
]

#: Kinds whose blank cell reads as a value (false, "none"): their fact column is never null.
BLANK_READS_AS_VALUE: frozenset[str] = frozenset({"boolean", "level"})

# Money units a header or a title row may name, in yuan.
MONEY_UNITS: dict[str, float] = {"元": 1.0, "千元": 1_000.0, "万元": 10_000.0, "亿元": 100_000_000.0}


@dataclass(frozen=True)
class ColumnSpec:
    """A column of a source file (or, in `SourceSpec.derived`, one ingest adds to the fact).

    `required`: a read cell must be filled (else required_missing); a derived column is
    always computed. `comment_zh` (default `label_zh`) and `comment_en` describe the fact
    column in the warehouse; a money column's comment gets its unit (yuan) there."""

    name: str
    headers: tuple[str, ...]
    kind: Kind
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    label_zh: str = ""
    comment_en: str = ""
    comment_zh: str = ""
    # derived columns only: the fact column this one follows (None: after the last one) ...
    after: str | None = None
    # ... or the read column it stands for in the fact and its key (person_key for person_id)
    replaces: str | None = None
    # NULL allowed in the warehouse although ingest always fills it (the lineage columns:
    # frames built outside ingest may lack them)
    warehouse_nullable: bool = False

    def __post_init__(self) -> None:
        if not self.comment_zh:
            object.__setattr__(self, "comment_zh", self.label_zh)

    @property
    def not_null(self) -> bool:
        """Never null in the fact: required, or a kind whose blank cell reads as a value."""
        return self.required or self.kind in BLANK_READS_AS_VALUE


def derived(name: str, kind: Kind, zh: str, en: str, *, required: bool = True,
            after: str | None = None, replaces: str | None = None) -> ColumnSpec:
    """A column ingest computes (`finish_source_columns`), declared with the source it belongs to."""
    return ColumnSpec(name, (), kind, required, label_zh=zh, comment_en=en, after=after,
                      replaces=replaces)


#: The columns every fact ends with: where its row was read (contract section 3).
LINEAGE_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("source_file_id", (), "file_id", True, label_zh="来源文件编号（dq_file.file_id）",
               comment_en="source file id (dq_file.file_id)", warehouse_nullable=True),
    ColumnSpec("source_row", (), "integer", True, label_zh="来源文件中的行号（从1起，含表头）",
               comment_en="row number in the source file, 1-based, header rows counted",
               warehouse_nullable=True),
)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    label_zh: str
    key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]  # read from the file
    default_money_unit: str = "元"
    extra: dict[str, str] = field(default_factory=dict)
    derived: tuple[ColumnSpec, ...] = ()  # added by ingest (see `derived`)

    def __post_init__(self) -> None:
        placed = [c.name for c in self.fact_columns]
        lost = [d.name for d in self.derived if d.name not in placed]
        if lost or len(placed) != len(set(placed)):
            raise ValueError(f"source {self.name}: a derived column follows or replaces no read "
                             f"column ({', '.join(lost)}), or a fact column name repeats")

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def fact_columns(self) -> tuple[ColumnSpec, ...]:
        """The fact's columns in table order: each read column (or the derived column that
        replaces it) followed by the derived columns declared `after` it, then the derived
        columns without a place, then the lineage columns."""
        stands_for = {d.replaces: d for d in self.derived if d.replaces}
        out: list[ColumnSpec] = []

        def place(col: ColumnSpec) -> None:
            out.append(col)
            for d in self.derived:
                if d.after == col.name:
                    place(d)

        for c in self.columns:
            place(stands_for.get(c.name, c))
        for d in self.derived:
            if d.after is None and d.replaces is None:
                place(d)
        return (*out, *LINEAGE_COLUMNS)

    @property
    def fact_key(self) -> tuple[str, ...]:
        """The fact's key: the source key, a replaced column by the one standing for it."""
        stands_for = {d.replaces: d.name for d in self.derived if d.replaces}
        return tuple(stands_for.get(k, k) for k in self.key)


_USCC_HEADERS = ("统一社会信用代码", "信用代码")
_TOWN_HEADERS = ("乡镇代码", "所在地区划代码", "区划代码")
_INDUSTRY_HEADERS = ("行业代码", "国民经济行业代码")
_PERIOD_HEADERS = ("所属期", "税款所属期", "期间", "费款所属期")


def _money(name: str, headers: tuple[str, ...], zh: str, en: str, required: bool = False,
           minimum: float | None = 0.0, comment_zh: str = "") -> ColumnSpec:
    return ColumnSpec(name, headers, "money", required, minimum, None, zh, en, comment_zh)


# -- columns several sources share --------------------------------------------------------
_USCC = ColumnSpec("uscc", _USCC_HEADERS, "uscc", True, label_zh="统一社会信用代码",
                   comment_en="unified social credit code (USCC)")
_TOWN = ColumnSpec("town_code", _TOWN_HEADERS, "town", True, label_zh="乡镇代码",
                   comment_zh="乡镇代码（9位统计用区划代码）",
                   comment_en="town code, 9-digit statistical division code")
_INDUSTRY = ColumnSpec("industry_code", _INDUSTRY_HEADERS, "industry", True, label_zh="行业代码",
                       comment_zh="行业代码（GB/T 4754-2017 小类）",
                       comment_en="industry class, GB/T 4754-2017, 4 digits")
_PERIOD = ColumnSpec("period", _PERIOD_HEADERS, "period", True, label_zh="所属期",
                     comment_zh="所属期（YYYY-MM）", comment_en="period, month YYYY-MM")


def _year_of_period(after: str) -> ColumnSpec:
    return derived("year", "year", "统计年度", "statistical year", after=after)


ENTERPRISE = SourceSpec(
    name="enterprise",
    label_zh="企业年报",
    key=("year", "uscc"),
    default_money_unit="万元",
    columns=(
        ColumnSpec("year", ("统计年度", "年度", "年份", "报告期"), "year", True, label_zh="统计年度",
                   comment_en="statistical year"),
        _USCC,
        ColumnSpec("name", ("单位详细名称", "单位名称", "企业名称"), "text", True, label_zh="单位名称",
                   comment_zh="单位详细名称", comment_en="enterprise name"),
        _TOWN,
        _INDUSTRY,
        _money("output_value", ("工业总产值", "总产值", "产值"), "工业总产值", "gross output value", True),
        _money("revenue", ("营业收入",), "营业收入", "operating revenue", True),
        ColumnSpec("employees", ("从业人员期末人数", "期末从业人数", "从业人员"), "integer", True,
                   0, 1_000_000, "从业人员期末人数", "employees at year end"),
        _money("rd_expenditure", ("研发费用", "研究与试验发展经费支出"), "研发费用", "R&D expenditure"),
        _money("export_value", ("出口交货值",), "出口交货值", "export delivery value"),
        _money("ecommerce_sales", ("电子商务销售额",), "电子商务销售额", "e-commerce sales"),
        ColumnSpec("patents_granted", ("专利授权数",), "integer", False, 0, None, "专利授权数",
                   "patents granted"),
        ColumnSpec("high_tech", ("高新技术企业",), "boolean", label_zh="高新技术企业",
                   comment_en="high-tech enterprise"),
        ColumnSpec("specialized_sme", ("专精特新",), "boolean", label_zh="专精特新",
                   comment_zh="专精特新企业", comment_en="specialised and sophisticated SME"),
        ColumnSpec("little_giant", ("小巨人",), "boolean", label_zh="小巨人",
                   comment_zh="专精特新“小巨人”", comment_en="'little giant' enterprise"),
        ColumnSpec("tech_center_level", ("企业技术中心",), "level", label_zh="企业技术中心",
                   comment_zh="企业技术中心级别：none 无 / municipal 市级 / provincial 省级 / national 国家级",
                   comment_en="technology centre level: none / municipal / provincial / national"),
    ),
    derived=(
        derived("above_scale", "boolean", "规模（限额）以上",
                "above scale (revenue ≥ NBS threshold for the industry)"),
    ),
)

TAX = SourceSpec(
    name="tax",
    label_zh="税收",
    key=("period", "uscc"),
    columns=(
        _PERIOD,
        replace(_USCC, headers=(*_USCC_HEADERS, "纳税人识别号")),
        _money("vat", ("增值税",), "增值税", "value-added tax", minimum=None),
        _money("corporate_income_tax", ("企业所得税",), "企业所得税", "corporate income tax", minimum=None),
        _money("other_tax", ("其他税收",), "其他税收", "other taxes", minimum=None),
        _money("total_tax", ("税收合计",), "税收合计", "total tax (given, else the sum of the non-null parts)",
               minimum=None, comment_zh="税收合计（缺失时为各税种之和）"),
        _money("invoice_sales", ("开票销售额", "销售额"), "开票销售额", "invoiced sales", minimum=None),
    ),
    derived=(
        _year_of_period(after="uscc"),
        derived("total_tax_reported", "money", "税收合计（原表填报值）", "total tax as reported in the file",
                required=False, after="total_tax"),
    ),
)

EMPLOYMENT = SourceSpec(
    name="employment",
    label_zh="社保参保",
    key=("period", "person_id", "employer_uscc"),
    columns=(
        _PERIOD,
        ColumnSpec("person_id", ("公民身份号码", "身份证号"), "person_id", True, label_zh="公民身份号码"),
        ColumnSpec("employer_uscc", ("单位统一社会信用代码", "参保单位信用代码", "统一社会信用代码"),
                   "uscc", True, label_zh="单位统一社会信用代码", comment_zh="参保单位统一社会信用代码",
                   comment_en="employer USCC"),
        ColumnSpec("hukou_code", ("户籍地区划代码", "户籍地代码"), "hukou", True, label_zh="户籍地区划代码",
                   comment_zh="户籍地区划代码（原值，6/9/12位）",
                   comment_en="hukou division code as given, 6/9/12 digits"),
        _money("contribution_base", ("缴费基数",), "缴费基数", "contribution base"),
    ),
    derived=(
        # a clear person ID is never kept (contract section 4): its key stands for it
        derived("person_key", "person_key", "人员假名键（身份证号的 HMAC-SHA256）",
                "person key: HMAC-SHA256 of the person ID", replaces="person_id"),
        _year_of_period(after="employer_uscc"),
        derived("hukou_county_code", "county", "户籍所在县代码（6位）", "hukou county code, 6 digits",
                after="hukou_code"),
    ),
)

REGISTRY = SourceSpec(
    name="registry",
    label_zh="市场主体登记",
    key=("uscc",),
    columns=(
        _USCC,
        ColumnSpec("name", ("名称", "企业名称", "市场主体名称"), "text", True, label_zh="名称",
                   comment_zh="市场主体名称", comment_en="entity name"),
        ColumnSpec("entity_type", ("市场主体类型",), "entity_type", True, label_zh="市场主体类型",
                   comment_zh="市场主体类型：enterprise 企业 / individual 个体工商户 / cooperative 农民专业合作社",
                   comment_en="entity type: enterprise / individual / cooperative"),
        _TOWN,
        _INDUSTRY,
        ColumnSpec("established", ("成立日期",), "date", True, label_zh="成立日期",
                   comment_en="date established"),
        ColumnSpec("deregistered", ("注销日期",), "date", label_zh="注销日期", comment_en="date deregistered"),
    ),
)

SOURCES: dict[str, SourceSpec] = {s.name: s for s in (ENTERPRISE, TAX, EMPLOYMENT, REGISTRY)}

# Reference files in raw/reference/ (contract section 2.2): English headers only.
TOWNS_REF = SourceSpec(
    name="towns",
    label_zh="乡镇名录",
    key=("town_code",),
    columns=tuple(
        ColumnSpec(c, (c,), "text", True)
        for c in ("town_code", "town_name", "county_code", "county_name", "city_code",
                  "city_name", "province_code", "province_name")
    ),
)

SPECIALTY_TOWNS_REF = SourceSpec(
    name="specialty_towns",
    label_zh="专业镇名录",
    key=("id",),
    columns=(
        ColumnSpec("id", ("id",), "text", True),
        ColumnSpec("name", ("name",), "text", True),
        ColumnSpec("county_code", ("county_code",), "text", True),
        ColumnSpec("host_town_codes", ("host_town_codes",), "text"),
        ColumnSpec("category", ("category",), "text", True),
        ColumnSpec("heritage", ("heritage",), "boolean"),
        ColumnSpec("national_market", ("national_market",), "boolean"),
        ColumnSpec("core_industry_codes", ("core_industry_codes",), "text", True),
        ColumnSpec("supporting_industry_codes", ("supporting_industry_codes",), "text"),
    ),
)

LEADING_REF = SourceSpec(
    name="leading_enterprises",
    label_zh="龙头企业名单",
    key=("specialty_town_id", "uscc", "from_year"),
    columns=(
        ColumnSpec("specialty_town_id", ("specialty_town_id",), "text", True),
        ColumnSpec("uscc", ("uscc",), "uscc", True),
        ColumnSpec("from_year", ("from_year",), "year", True),
        ColumnSpec("to_year", ("to_year",), "year"),
    ),
)

MARKET_TOTALS_REF = SourceSpec(
    name="market_totals",
    label_zh="全省主导产品产值",
    key=("specialty_town_id", "year"),
    columns=(
        ColumnSpec("specialty_town_id", ("specialty_town_id",), "text", True),
        ColumnSpec("year", ("year",), "year", True),
        _money("provincial_output", ("provincial_output",), "全省产值", "", required=True),
    ),
)

# Optional yearly targets (contract v4 section 6.2): UTF-8 or GBK CSV, or xlsx. Every cell is
# read as text and checked in `pipelines.ingest.references` (level 乡镇/专业镇, the id against
# the towns or the specialty towns, the indicator against the indicator catalogue, the target
# a plain number in the indicator's own unit: never rescaled or rounded).
TARGETS_REF = SourceSpec(
    name="targets",
    label_zh="年度目标",
    key=("level", "id", "year", "indicator"),
    columns=(
        ColumnSpec("level", ("level", "层级"), "text", True, label_zh="层级",
                   comment_en="level: town / specialty_town (乡镇 / 专业镇)"),
        ColumnSpec("id", ("id", "编号"), "text", True, label_zh="乡镇代码或专业镇编号",
                   comment_en="town code or specialty town id"),
        ColumnSpec("year", ("year", "年度", "年份"), "year", True, label_zh="年度",
                   comment_en="year"),
        ColumnSpec("indicator", ("indicator", "指标"), "text", True, label_zh="指标",
                   comment_en="indicator: a column of ind_town_year / ind_specialty_town_year"),
        ColumnSpec("target", ("target", "目标值"), "text", True, label_zh="目标值",
                   comment_en="target, in the indicator's own unit"),
    ),
)

#: The file names a targets file may have (one is in force: the later in version order).
TARGETS_FILES: tuple[str, ...] = ("targets.csv", "targets.xlsx")

REFERENCES: dict[str, SourceSpec] = {
    "towns.csv": TOWNS_REF,
    "specialty_towns.csv": SPECIALTY_TOWNS_REF,
    "leading_enterprises.csv": LEADING_REF,
    "market_totals.csv": MARKET_TOTALS_REF,
    **dict.fromkeys(TARGETS_FILES, TARGETS_REF),
}

SPECIALTY_CATEGORIES: dict[str, str] = {
    "manufacturing": "制造业",
    "agriculture": "特优农业",
    "light_industry": "特色轻工/工艺美术",
}
