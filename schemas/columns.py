"""The columns of every raw source (contract section 2.1), declared once.

A column has a canonical English name, the headers the bureau may use for it, a kind
(which parser and which identifier rule apply), whether it is required and its range.
The readers, the validation, the pandera schemas and the documentation all read this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
]

# Money units a header or a title row may name, in yuan.
MONEY_UNITS: dict[str, float] = {"元": 1.0, "千元": 1_000.0, "万元": 10_000.0, "亿元": 100_000_000.0}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    headers: tuple[str, ...]
    kind: Kind
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    label_zh: str = ""


@dataclass(frozen=True)
class SourceSpec:
    name: str
    label_zh: str
    key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    default_money_unit: str = "元"
    extra: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


_USCC_HEADERS = ("统一社会信用代码", "信用代码")
_TOWN_HEADERS = ("乡镇代码", "所在地区划代码", "区划代码")
_INDUSTRY_HEADERS = ("行业代码", "国民经济行业代码")
_PERIOD_HEADERS = ("所属期", "税款所属期", "期间", "费款所属期")


def _money(name: str, headers: tuple[str, ...], zh: str, required: bool = False,
           minimum: float | None = 0.0) -> ColumnSpec:
    return ColumnSpec(name, headers, "money", required, minimum, None, zh)


ENTERPRISE = SourceSpec(
    name="enterprise",
    label_zh="企业年报",
    key=("year", "uscc"),
    default_money_unit="万元",
    columns=(
        ColumnSpec("year", ("统计年度", "年度", "年份", "报告期"), "year", True, label_zh="统计年度"),
        ColumnSpec("uscc", _USCC_HEADERS, "uscc", True, label_zh="统一社会信用代码"),
        ColumnSpec("name", ("单位详细名称", "单位名称", "企业名称"), "text", True, label_zh="单位名称"),
        ColumnSpec("town_code", _TOWN_HEADERS, "town", True, label_zh="乡镇代码"),
        ColumnSpec("industry_code", _INDUSTRY_HEADERS, "industry", True, label_zh="行业代码"),
        _money("output_value", ("工业总产值", "总产值", "产值"), "工业总产值", True),
        _money("revenue", ("营业收入",), "营业收入", True),
        ColumnSpec("employees", ("从业人员期末人数", "期末从业人数", "从业人员"), "integer", True,
                   0, 1_000_000, "从业人员期末人数"),
        _money("rd_expenditure", ("研发费用", "研究与试验发展经费支出"), "研发费用"),
        _money("export_value", ("出口交货值",), "出口交货值"),
        _money("ecommerce_sales", ("电子商务销售额",), "电子商务销售额"),
        ColumnSpec("patents_granted", ("专利授权数",), "integer", False, 0, None, "专利授权数"),
        ColumnSpec("high_tech", ("高新技术企业",), "boolean", label_zh="高新技术企业"),
        ColumnSpec("specialized_sme", ("专精特新",), "boolean", label_zh="专精特新"),
        ColumnSpec("little_giant", ("小巨人",), "boolean", label_zh="小巨人"),
        ColumnSpec("tech_center_level", ("企业技术中心",), "level", label_zh="企业技术中心"),
    ),
)

TAX = SourceSpec(
    name="tax",
    label_zh="税收",
    key=("period", "uscc"),
    columns=(
        ColumnSpec("period", _PERIOD_HEADERS, "period", True, label_zh="所属期"),
        ColumnSpec("uscc", (*_USCC_HEADERS, "纳税人识别号"), "uscc", True, label_zh="统一社会信用代码"),
        _money("vat", ("增值税",), "增值税", minimum=None),
        _money("corporate_income_tax", ("企业所得税",), "企业所得税", minimum=None),
        _money("other_tax", ("其他税收",), "其他税收", minimum=None),
        _money("total_tax", ("税收合计",), "税收合计", minimum=None),
        _money("invoice_sales", ("开票销售额", "销售额"), "开票销售额", minimum=None),
    ),
)

EMPLOYMENT = SourceSpec(
    name="employment",
    label_zh="社保参保",
    key=("period", "person_id", "employer_uscc"),
    columns=(
        ColumnSpec("period", _PERIOD_HEADERS, "period", True, label_zh="所属期"),
        ColumnSpec("person_id", ("公民身份号码", "身份证号"), "person_id", True, label_zh="公民身份号码"),
        ColumnSpec("employer_uscc", ("单位统一社会信用代码", "参保单位信用代码", "统一社会信用代码"),
                   "uscc", True, label_zh="单位统一社会信用代码"),
        ColumnSpec("hukou_code", ("户籍地区划代码", "户籍地代码"), "hukou", True, label_zh="户籍地区划代码"),
        _money("contribution_base", ("缴费基数",), "缴费基数"),
    ),
)

REGISTRY = SourceSpec(
    name="registry",
    label_zh="市场主体登记",
    key=("uscc",),
    columns=(
        ColumnSpec("uscc", _USCC_HEADERS, "uscc", True, label_zh="统一社会信用代码"),
        ColumnSpec("name", ("名称", "企业名称", "市场主体名称"), "text", True, label_zh="名称"),
        ColumnSpec("entity_type", ("市场主体类型",), "entity_type", True, label_zh="市场主体类型"),
        ColumnSpec("town_code", _TOWN_HEADERS, "town", True, label_zh="乡镇代码"),
        ColumnSpec("industry_code", _INDUSTRY_HEADERS, "industry", True, label_zh="行业代码"),
        ColumnSpec("established", ("成立日期",), "date", True, label_zh="成立日期"),
        ColumnSpec("deregistered", ("注销日期",), "date", label_zh="注销日期"),
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
        _money("provincial_output", ("provincial_output",), "全省产值", True),
    ),
)

REFERENCES: dict[str, SourceSpec] = {
    "towns.csv": TOWNS_REF,
    "specialty_towns.csv": SPECIALTY_TOWNS_REF,
    "leading_enterprises.csv": LEADING_REF,
    "market_totals.csv": MARKET_TOTALS_REF,
}

SPECIALTY_CATEGORIES: dict[str, str] = {
    "manufacturing": "制造业",
    "agriculture": "特优农业",
    "light_industry": "特色轻工/工艺美术",
}
