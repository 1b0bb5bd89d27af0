"""The indicator catalogue (contract section 5): one declaration per indicator.

Every indicator of ``ind_town_year`` and ``ind_specialty_town_year`` is declared here once:
its column name, Chinese name, unit, kind, formula and description. The table builders take
their column order and dtypes from here; the data dictionary, report headers and the
disclosure stage (its money columns) are generated from it too.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

KINDS = ("count", "money", "ratio", "yoy")


@dataclass(frozen=True)
class Indicator:
    """One indicator column."""

    name: str
    name_zh: str
    unit: str  # 元 | 家 | 人 | 件 | ratio
    kind: str  # count | money | ratio | yoy
    formula: str
    description: str

    @property
    def dtype(self) -> pl.DataType:
        """Warehouse dtype: counts are Int64, money, ratios and yoy are Float64."""
        return pl.Int64() if self.kind == "count" else pl.Float64()

    @property
    def header(self) -> str:
        """Report header, e.g. ``工业总产值(元)``; ratios carry no unit."""
        return self.name_zh if self.unit == "ratio" else f"{self.name_zh}({self.unit})"


def _yoy(base: str, base_zh: str) -> Indicator:
    return Indicator(
        f"{base}_yoy",
        f"{base_zh}同比增速",
        "ratio",
        "yoy",
        f"{base}[Y] / {base}[Y-1] - 1; null when either is null or {base}[Y-1] <= 0",
        f"Year-on-year growth of {base} (同比).",
    )


_TOWN_UNIT = "enterprise rows of the town (enterprise-report town_code) in Y"
_MEMBERS = "members of S in Y (enterprise rows of Y in S's area with a core or supporting code)"

TOWN_YEAR: tuple[Indicator, ...] = (
    Indicator(
        "enterprises", "企业数", "家", "count", "count(enterprise rows)", f"Number of {_TOWN_UNIT}."
    ),
    Indicator(
        "above_scale_enterprises",
        "规模(限额)以上企业数",
        "家",
        "count",
        "count(above_scale)",
        "Enterprise rows above the NBS revenue threshold of their industry.",
    ),
    Indicator(
        "newly_above_scale",
        "新增规上企业数",
        "家",
        "count",
        "count(above_scale[Y] and not above_scale[Y-1])",
        "Above scale in Y and not in Y-1 (an enterprise absent in Y-1 counts as not above scale).",
    ),
    Indicator(
        "output_value",
        "工业总产值",
        "元",
        "money",
        "sum(output_value)",
        f"Total output of {_TOWN_UNIT}.",
    ),
    _yoy("output_value", "工业总产值"),
    Indicator(
        "revenue", "营业收入", "元", "money", "sum(revenue)", f"Operating revenue of {_TOWN_UNIT}."
    ),
    _yoy("revenue", "营业收入"),
    Indicator(
        "employees",
        "从业人员期末人数",
        "人",
        "count",
        "sum(employees)",
        "Reported persons employed at year end.",
    ),
    Indicator(
        "rd_expenditure", "研发费用", "元", "money", "sum(rd_expenditure)", "R&D expenditure."
    ),
    Indicator(
        "rd_intensity",
        "研发投入强度",
        "ratio",
        "ratio",
        "rd_expenditure / revenue",
        "R&D expenditure over revenue; null when revenue is 0.",
    ),
    Indicator(
        "export_value", "出口交货值", "元", "money", "sum(export_value)", "Export delivery value."
    ),
    Indicator(
        "ecommerce_sales",
        "电子商务销售额",
        "元",
        "money",
        "sum(ecommerce_sales)",
        "E-commerce sales.",
    ),
    Indicator(
        "patents_granted", "专利授权数", "件", "count", "sum(patents_granted)", "Patents granted."
    ),
    Indicator(
        "high_tech_enterprises",
        "高新技术企业数",
        "家",
        "count",
        "count(high_tech)",
        "High-tech enterprises.",
    ),
    Indicator(
        "specialized_sme_enterprises",
        "专精特新企业数",
        "家",
        "count",
        "count(specialized_sme)",
        "Specialised, refined, distinctive and innovative SMEs.",
    ),
    Indicator(
        "little_giant_enterprises",
        "小巨人企业数",
        "家",
        "count",
        "count(little_giant)",
        "'Little giant' enterprises.",
    ),
    Indicator(
        "tech_center_enterprises",
        "企业技术中心企业数",
        "家",
        "count",
        "count(tech_center_level != 'none')",
        "Enterprises with a recognised technology centre (any level).",
    ),
    Indicator(
        "tax_total",
        "税收合计",
        "元",
        "money",
        "sum(total_tax) over the months of Y",
        "Taxes of the taxpayers whose town in Y is T (enterprise-report town of Y, else register town).",
    ),
    _yoy("tax_total", "税收合计"),
    Indicator(
        "insured_persons",
        "参保人数",
        "人",
        "count",
        "count distinct person_key, period Y-12",
        "Distinct persons enrolled in December of Y at employers whose town in Y is T.",
    ),
    Indicator(
        "local_insured_persons",
        "本地户籍参保人数",
        "人",
        "count",
        "count distinct person_key, period Y-12, hukou_county_code = county of T",
        "Of the insured persons, those whose hukou county is T's county.",
    ),
    Indicator(
        "market_entities",
        "市场主体数",
        "家",
        "count",
        "count(established <= Y-12-31 < deregistered or never)",
        "Register entities of T (register town) alive at Y-12-31, all entity types.",
    ),
    Indicator(
        "new_market_entities",
        "新增市场主体数",
        "家",
        "count",
        "count(year(established) = Y)",
        "Register entities of T established in Y.",
    ),
    _yoy("market_entities", "市场主体数"),
)

SPECIALTY_TOWN_YEAR: tuple[Indicator, ...] = (
    Indicator(
        "member_enterprises",
        "专业镇企业数",
        "家",
        "count",
        "count(members)",
        f"Number of {_MEMBERS}.",
    ),
    Indicator(
        "leading_enterprises",
        "龙头企业数",
        "家",
        "count",
        "count(members listed for S with from_year <= Y <= to_year)",
        "Members listed in leading_enterprises for S in Y (to_year empty = open).",
    ),
    Indicator(
        "supporting_enterprises",
        "关联配套企业数",
        "家",
        "count",
        "member_enterprises - leading_enterprises",
        "Members that are not leading enterprises.",
    ),
    Indicator(
        "output_value",
        "总产值",
        "元",
        "money",
        "sum(output_value of members)",
        "Output of all members.",
    ),
    _yoy("output_value", "总产值"),
    Indicator(
        "core_output_value",
        "主导产业产值",
        "元",
        "money",
        "sum(output_value of members with a core code)",
        "Output of the members in S's core industries (its leading product).",
    ),
    Indicator(
        "market_share",
        "全省市场占有率",
        "ratio",
        "ratio",
        "core_output_value / provincial_output",
        "Share of the province's output of the leading product; null when the provincial total is missing or 0.",
    ),
    Indicator(
        "employees",
        "从业人员期末人数",
        "人",
        "count",
        "sum(employees of members)",
        "Reported employees of members.",
    ),
    Indicator(
        "insured_persons",
        "参保人数",
        "人",
        "count",
        "count distinct person_key at members, period Y-12",
        "Distinct persons enrolled in December of Y at members.",
    ),
    Indicator(
        "local_insured_persons",
        "本地户籍参保人数",
        "人",
        "count",
        "count distinct person_key at members, period Y-12, hukou_county_code = S.county_code",
        "Of the insured persons, those whose hukou county is S's county (local employment).",
    ),
    Indicator(
        "tax_total",
        "税收合计",
        "元",
        "money",
        "sum(total_tax of members over the months of Y)",
        "Taxes paid by members.",
    ),
    Indicator(
        "above_scale_enterprises",
        "规模(限额)以上企业数",
        "家",
        "count",
        "count(members above_scale)",
        "Members above scale.",
    ),
    Indicator(
        "newly_above_scale",
        "新增规上企业数",
        "家",
        "count",
        "count(members above_scale[Y] and not above_scale[Y-1])",
        "Members newly above scale.",
    ),
    Indicator(
        "rd_intensity",
        "研发投入强度",
        "ratio",
        "ratio",
        "sum(rd_expenditure) / sum(revenue) of members",
        "Members' R&D expenditure over revenue; null when revenue is 0.",
    ),
    Indicator(
        "high_tech_enterprises",
        "高新技术企业数",
        "家",
        "count",
        "count(members high_tech)",
        "High-tech members.",
    ),
    Indicator(
        "specialized_sme_enterprises",
        "专精特新企业数",
        "家",
        "count",
        "count(members specialized_sme)",
        "Specialised SME members.",
    ),
    Indicator(
        "ecommerce_sales",
        "电子商务销售额",
        "元",
        "money",
        "sum(ecommerce_sales of members)",
        "E-commerce sales of members.",
    ),
    Indicator(
        "export_value",
        "出口交货值",
        "元",
        "money",
        "sum(export_value of members)",
        "Export delivery value of members.",
    ),
    Indicator(
        "market_entities",
        "市场主体数",
        "家",
        "count",
        "count(register entities in S's area with a core or supporting code alive at Y-12-31)",
        "Register entities of the specialty's industries in its area alive at year end.",
    ),
    _yoy("market_entities", "市场主体数"),
)

TOWN_YEAR_KEY = ("town_code", "year")
TOWN_YEAR_EXTRA = ("county_code",)
SPECIALTY_TOWN_YEAR_KEY = ("specialty_town_id", "year")
SPECIALTY_TOWN_YEAR_EXTRA = ("provincial_output",)

CATALOGUE: dict[str, tuple[Indicator, ...]] = {
    "ind_town_year": TOWN_YEAR,
    "ind_specialty_town_year": SPECIALTY_TOWN_YEAR,
}


def indicator(table: str, name: str) -> Indicator:
    """The catalogue entry of ``name`` in ``table``."""
    for ind in CATALOGUE[table]:
        if ind.name == name:
            return ind
    raise KeyError(f"{table}.{name}")


def money_columns(table: str = "ind_town_year") -> list[str]:
    """Money columns of a table, in catalogue order (the order of contract section 7)."""
    return [i.name for i in CATALOGUE[table] if i.kind == "money"]


def data_dictionary() -> pl.DataFrame:
    """The catalogue as a frame (table, column, name_zh, unit, kind, formula, description)."""
    rows = [
        {
            "table": table,
            "column": i.name,
            "name_zh": i.name_zh,
            "unit": i.unit,
            "kind": i.kind,
            "formula": i.formula,
            "description": i.description,
        }
        for table, inds in CATALOGUE.items()
        for i in inds
    ]
    return pl.DataFrame(rows)


def report_headers(table: str) -> dict[str, str]:
    """Column name -> Chinese report header with unit."""
    return {i.name: i.header for i in CATALOGUE[table]}
