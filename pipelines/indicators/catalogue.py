"""The indicator catalogue (contract section 5): one declaration per indicator.

Every indicator of ``ind_town_year`` and ``ind_specialty_town_year`` is declared here once:
its column name, Chinese name, unit, kind, formula and description. The table builders take
their column order and dtypes from here; the data dictionary, report headers and the
disclosure stage (its money columns) are generated from it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipelines.indicators.measures import count_true, money_sum

KINDS = ("count", "money", "ratio", "yoy")


@dataclass(frozen=True)
class Recipe:
    """How `townstat explain` lists the rows behind a cell of this indicator.

    kind: sum (a fact column summed), count (rows where a flag holds; every row when the flag
    is empty) or distinct (persons); source: the fact the rows come from; column: the fact
    column summed or the flag counted (`local`, `new`: the variants of the enrolment and
    register recipes); rule_zh / rule_en: the rule in words, shown above the rows."""

    kind: str
    source: str
    column: str = ""
    rule_zh: str = ""
    rule_en: str = ""


@dataclass(frozen=True)
class Indicator:
    """One indicator column: everything about it is declared here and nowhere else.

    How it is computed: `aggregate` (an expression over the unit's rows `over`: its enterprise
    rows (a town's reports, a specialty town's members), its taxpayers' yearly totals (`total`)
    or its December enrolments (`person_key`, `hukou_county_code`, the unit's `_county`)), `derived` (an expression over the unit's
    other indicators), `inputs` (a yoy's base, a ratio's numerator and denominator), or the
    one function of `town.py` / `specialty.py` that reads the tax, enrolment or register facts
    (neither set). Its disclosure role follows from `kind` and `inputs` (contract section 7):
    a money cell is suppressed when disclosive, a yoy or ratio of a suppressed money cell is
    null, a count is published as it is. `recipe` tells `townstat explain` which rows feed it.
    """

    name: str
    name_zh: str
    unit: str  # 元 | 家 | 人 | 件 | ratio
    kind: str  # count | money | ratio | yoy
    formula: str
    description: str
    inputs: tuple[str, ...] = ()
    aggregate: pl.Expr | None = field(default=None, compare=False, hash=False, repr=False)
    over: str = "enterprise"  # the rows `aggregate` runs over: enterprise | tax | enrolment
    derived: pl.Expr | None = field(default=None, compare=False, hash=False, repr=False)
    recipe: Recipe | None = None
    may_be_negative: bool = False  # tax refunds
    at_most: str | None = None  # never above this other indicator of the table (a subset of it)
    share: bool = False  # a ratio that is always between 0 and 1 (a share of a whole)

    @property
    def dtype(self) -> pl.DataType:
        """Warehouse dtype: counts are Int64, money, ratios and yoy are Float64."""
        return pl.Int64() if self.kind == "count" else pl.Float64()

    @property
    def header(self) -> str:
        """Report header, e.g. ``工业总产值(元)``; ratios carry no unit."""
        return self.name_zh if self.unit == "ratio" else f"{self.name_zh}({self.unit})"

    @property
    def comment_zh(self) -> str:
        """The column's Chinese comment in the warehouse."""
        return self.name_zh if self.unit == "ratio" else f"{self.name_zh}（{self.unit}）"


def _yoy(base: str, base_zh: str) -> Indicator:
    return Indicator(
        f"{base}_yoy",
        f"{base_zh}同比增速",
        "ratio",
        "yoy",
        f"{base}[Y] / {base}[Y-1] - 1; null when either is null or {base}[Y-1] <= 0",
        f"Year-on-year growth of {base} (同比).",
        inputs=(base,),
    )


def _money(column: str) -> pl.Expr:
    return money_sum(column)


_TAX = pl.col("total").sum().round(2)  # over the taxpayers' yearly totals
_INSURED = pl.col("person_key").n_unique().cast(pl.Int64)  # over December enrolments
_LOCAL = pl.col("person_key").filter(pl.col("hukou_county_code") == pl.col("_county")).n_unique().cast(pl.Int64)


# -- explain recipes: the rows behind a cell, in words ------------------------------------------
_E = "enterprise"
_TOWN_UNITS_ZH = "本镇（年报所在乡镇代码）当年的企业年报行"
_TOWN_UNITS_EN = "enterprise rows of year Y whose report town_code is T"
_MEMBERS_ZH = "专业镇成员企业（当年区域内、行业代码属核心或配套行业的企业年报行）"
_MEMBERS_EN = "members: enterprise rows of Y in S's area with a core or supporting industry code"
_ATTRIBUTION_ZH = "纳税人/参保单位所在乡镇：当年企业年报的乡镇代码，无年报则按市场主体登记的乡镇代码"
_ATTRIBUTION_EN = "a unit's town in Y is its enterprise-report town for Y, else its register town"


def _town_count(flag: str, zh: str, en: str) -> Recipe:
    return Recipe("count", _E, flag, f"{_TOWN_UNITS_ZH}{zh}", f"{_TOWN_UNITS_EN}{en}")


def _town_sum(column: str) -> Recipe:
    return Recipe("sum", _E, column, f"{_TOWN_UNITS_ZH}的 {column} 之和（空值不计）",
                  f"sum of {column} over {_TOWN_UNITS_EN}")


_TOWN_UNIT = "enterprise rows of the town (enterprise-report town_code) in Y"
_MEMBERS = "members of S in Y (enterprise rows of Y in S's area with a core or supporting code)"

TOWN_YEAR: tuple[Indicator, ...] = (
    Indicator("enterprises", "企业数", "家", "count", "count(enterprise rows)", f"Number of {_TOWN_UNIT}.",
              aggregate=pl.len().cast(pl.Int64),
              recipe=Recipe("count", _E, "", f"{_TOWN_UNITS_ZH}，每行计 1", f"count of {_TOWN_UNITS_EN}")),
    Indicator("above_scale_enterprises", "规模(限额)以上企业数", "家", "count", "count(above_scale)",
              "Enterprise rows above the NBS revenue threshold of their industry.",
              aggregate=count_true("above_scale"),
              recipe=_town_count("above_scale", "中规模（限额）以上的", ", above scale")),
    Indicator("newly_above_scale", "新增规上企业数", "家", "count",
              "count(above_scale[Y] and not above_scale[Y-1])",
              "Above scale in Y and not in Y-1 (an enterprise absent in Y-1 counts as not above scale).",
              aggregate=count_true("_newly"),
              recipe=_town_count("_newly", "中本年规上、上年非规上（上年无年报视为非规上）的",
                                 ", above scale in Y and not in Y-1 (absent = not)")),
    Indicator("output_value", "工业总产值", "元", "money", "sum(output_value)", f"Total output of {_TOWN_UNIT}.",
              aggregate=_money("output_value"), recipe=_town_sum("output_value")),
    _yoy("output_value", "工业总产值"),
    Indicator("revenue", "营业收入", "元", "money", "sum(revenue)", f"Operating revenue of {_TOWN_UNIT}.",
              aggregate=_money("revenue"), recipe=_town_sum("revenue")),
    _yoy("revenue", "营业收入"),
    Indicator("employees", "从业人员期末人数", "人", "count", "sum(employees)",
              "Reported persons employed at year end.",
              aggregate=pl.col("employees").sum().cast(pl.Int64), recipe=_town_sum("employees")),
    Indicator("rd_expenditure", "研发费用", "元", "money", "sum(rd_expenditure)", "R&D expenditure.",
              aggregate=_money("rd_expenditure"), recipe=_town_sum("rd_expenditure")),
    Indicator("rd_intensity", "研发投入强度", "ratio", "ratio", "rd_expenditure / revenue",
              "R&D expenditure over revenue; null when revenue is 0.", inputs=("rd_expenditure", "revenue")),
    Indicator("export_value", "出口交货值", "元", "money", "sum(export_value)", "Export delivery value.",
              aggregate=_money("export_value"), recipe=_town_sum("export_value")),
    Indicator("ecommerce_sales", "电子商务销售额", "元", "money", "sum(ecommerce_sales)", "E-commerce sales.",
              aggregate=_money("ecommerce_sales"), recipe=_town_sum("ecommerce_sales")),
    Indicator("patents_granted", "专利授权数", "件", "count", "sum(patents_granted)", "Patents granted.",
              aggregate=pl.col("patents_granted").sum().cast(pl.Int64), recipe=_town_sum("patents_granted")),
    Indicator("high_tech_enterprises", "高新技术企业数", "家", "count", "count(high_tech)",
              "High-tech enterprises.", aggregate=count_true("high_tech"),
              recipe=_town_count("high_tech", "中高新技术企业", ", high_tech")),
    Indicator("specialized_sme_enterprises", "专精特新企业数", "家", "count", "count(specialized_sme)",
              "Specialised, refined, distinctive and innovative SMEs.", aggregate=count_true("specialized_sme"),
              recipe=_town_count("specialized_sme", "中专精特新企业", ", specialized_sme")),
    Indicator("little_giant_enterprises", "小巨人企业数", "家", "count", "count(little_giant)",
              "'Little giant' enterprises.", aggregate=count_true("little_giant"),
              recipe=_town_count("little_giant", "中小巨人企业", ", little_giant")),
    Indicator("tech_center_enterprises", "企业技术中心企业数", "家", "count",
              "count(tech_center_level != 'none')",
              "Enterprises with a recognised technology centre (any level).",
              aggregate=(pl.col("tech_center_level").fill_null("none") != "none").sum().cast(pl.Int64),
              recipe=_town_count("_tech_center", "中有企业技术中心的", ", tech centre")),
    Indicator("tax_total", "税收合计", "元", "money", "sum(total_tax) over the months of Y",
              "Taxes of the taxpayers whose town in Y is T (enterprise-report town of Y, else register town).",
              may_be_negative=True, aggregate=_TAX, over="tax",
              recipe=Recipe("sum", "tax", "total_tax",
                            f"当年各月税收记录的税收合计之和，纳税人所在乡镇为本镇（{_ATTRIBUTION_ZH}）",
                            f"total_tax of the monthly tax rows of Y whose taxpayer's town is T ({_ATTRIBUTION_EN})")),
    _yoy("tax_total", "税收合计"),
    Indicator("insured_persons", "参保人数", "人", "count", "count distinct person_key, period Y-12",
              "Distinct persons enrolled in December of Y at employers whose town in Y is T.",
              aggregate=_INSURED, over="enrolment", recipe=Recipe("distinct", "employment", "",
                            f"当年 12 月在本镇参保单位参保的人数（按人去重；{_ATTRIBUTION_ZH}）",
                            f"distinct persons enrolled in December of Y at employers of T ({_ATTRIBUTION_EN})")),
    Indicator("local_insured_persons", "本地户籍参保人数", "人", "count",
              "count distinct person_key, period Y-12, hukou_county_code = county of T",
              "Of the insured persons, those whose hukou county is T's county.", at_most="insured_persons",
              aggregate=_LOCAL, over="enrolment", recipe=Recipe("distinct", "employment", "local", "其中户籍所在县为本镇所在县的人数（按人去重）",
                            "of the insured persons, those whose hukou county is T's county (distinct)")),
    Indicator("market_entities", "市场主体数", "家", "count",
              "count(established <= Y-12-31 < deregistered or never)",
              "Register entities of T (register town) alive at Y-12-31, all entity types.",
              recipe=Recipe("count", "registry", "",
                            "登记在本镇、当年 12 月 31 日存续的市场主体（成立日期 <= Y-12-31 < 注销日期）",
                            "register entities of T alive at Y-12-31 (established <= Y-12-31 < deregistered)")),
    Indicator("new_market_entities", "新增市场主体数", "家", "count", "count(year(established) = Y)",
              "Register entities of T established in Y.",
              recipe=Recipe("count", "registry", "new", "登记在本镇、当年成立的市场主体",
                            "register entities of T established in Y")),
    _yoy("market_entities", "市场主体数"),
)


def _member_count(flag: str, zh: str, en: str) -> Recipe:
    return Recipe("count", _E, flag, zh, en)


def _member_sum(column: str, zh: str, en: str) -> Recipe:
    return Recipe("sum", _E, column, zh, en)


SPECIALTY_TOWN_YEAR: tuple[Indicator, ...] = (
    Indicator("member_enterprises", "专业镇企业数", "家", "count", "count(members)", f"Number of {_MEMBERS}.",
              aggregate=pl.len().cast(pl.Int64),
              recipe=_member_count("", f"{_MEMBERS_ZH}，每行计 1", f"count of {_MEMBERS_EN}")),
    Indicator("leading_enterprises", "龙头企业数", "家", "count",
              "count(members listed for S with from_year <= Y <= to_year)",
              "Members listed in leading_enterprises for S in Y (to_year empty = open).",
              aggregate=count_true("_leading"), at_most="member_enterprises",
              recipe=_member_count("_leading", "成员企业中列入龙头企业名单（from_year <= Y <= to_year）的",
                                   "members listed for S in leading_enterprises with from_year <= Y <= to_year")),
    Indicator("supporting_enterprises", "关联配套企业数", "家", "count", "member_enterprises - leading_enterprises",
              "Members that are not leading enterprises.",
              derived=pl.col("member_enterprises") - pl.col("leading_enterprises"),
              recipe=_member_count("_supporting", "成员企业中不是龙头企业的", "members that are not leading enterprises")),
    Indicator("output_value", "总产值", "元", "money", "sum(output_value of members)", "Output of all members.",
              aggregate=_money("output_value"),
              recipe=_member_sum("output_value", f"{_MEMBERS_ZH}的产值之和", f"output_value of {_MEMBERS_EN}")),
    _yoy("output_value", "总产值"),
    Indicator("core_output_value", "主导产业产值", "元", "money", "sum(output_value of members with a core code)",
              "Output of the members in S's core industries (its leading product).",
              aggregate=pl.col("output_value").filter(pl.col("is_core")).sum().round(2),
              recipe=_member_sum("output_value", "行业代码属核心行业的成员企业的产值之和",
                                 "output_value of the members with a core industry code")),
    Indicator("market_share", "全省市场占有率", "ratio", "ratio", "core_output_value / provincial_output",
              "Share of the province's output of the leading product; null when the provincial total is missing or 0.",
              inputs=("core_output_value", "provincial_output"), share=True),
    Indicator("employees", "从业人员期末人数", "人", "count", "sum(employees of members)",
              "Reported employees of members.", aggregate=pl.col("employees").sum().cast(pl.Int64),
              recipe=_member_sum("employees", "成员企业从业人员期末人数之和", "employees of the members")),
    Indicator("insured_persons", "参保人数", "人", "count", "count distinct person_key at members, period Y-12",
              "Distinct persons enrolled in December of Y at members.",
              aggregate=_INSURED, over="enrolment", recipe=Recipe("distinct", "employment", "", "当年 12 月在成员企业参保的人数（按人去重）",
                            "distinct persons enrolled in December of Y at members")),
    Indicator("local_insured_persons", "本地户籍参保人数", "人", "count",
              "count distinct person_key at members, period Y-12, hukou_county_code = S.county_code",
              "Of the insured persons, those whose hukou county is S's county (local employment).",
              at_most="insured_persons", aggregate=_LOCAL, over="enrolment", recipe=Recipe("distinct", "employment", "local", "其中户籍所在县为专业镇所在县的人数（按人去重）",
                            "of those, the persons whose hukou county is S's county")),
    Indicator("tax_total", "税收合计", "元", "money", "sum(total_tax of members over the months of Y)",
              "Taxes paid by members.", may_be_negative=True, aggregate=_TAX, over="tax",
              recipe=Recipe("sum", "tax", "total_tax", "成员企业当年各月税收合计之和",
                            "total_tax of the members over the months of Y")),
    Indicator("above_scale_enterprises", "规模(限额)以上企业数", "家", "count", "count(members above_scale)",
              "Members above scale.", aggregate=count_true("above_scale"),
              recipe=_member_count("above_scale", "成员企业中规模（限额）以上的", "members above scale")),
    Indicator("newly_above_scale", "新增规上企业数", "家", "count",
              "count(members above_scale[Y] and not above_scale[Y-1])", "Members newly above scale.",
              aggregate=count_true("_newly")),
    Indicator("rd_intensity", "研发投入强度", "ratio", "ratio", "sum(rd_expenditure) / sum(revenue) of members",
              "Members' R&D expenditure over revenue; null when revenue is 0.", inputs=("rd_expenditure", "revenue")),
    Indicator("high_tech_enterprises", "高新技术企业数", "家", "count", "count(members high_tech)",
              "High-tech members.", aggregate=count_true("high_tech"),
              recipe=_member_count("high_tech", "成员企业中高新技术企业", "members, high_tech")),
    Indicator("specialized_sme_enterprises", "专精特新企业数", "家", "count", "count(members specialized_sme)",
              "Specialised SME members.", aggregate=count_true("specialized_sme"),
              recipe=_member_count("specialized_sme", "成员企业中专精特新企业", "members, specialized_sme")),
    Indicator("ecommerce_sales", "电子商务销售额", "元", "money", "sum(ecommerce_sales of members)",
              "E-commerce sales of members.", aggregate=_money("ecommerce_sales"),
              recipe=_member_sum("ecommerce_sales", "成员企业电子商务销售额之和", "ecommerce_sales of the members")),
    Indicator("export_value", "出口交货值", "元", "money", "sum(export_value of members)",
              "Export delivery value of members.", aggregate=_money("export_value"),
              recipe=_member_sum("export_value", "成员企业出口交货值之和", "export_value of the members")),
    Indicator("market_entities", "市场主体数", "家", "count",
              "count(register entities in S's area with a core or supporting code alive at Y-12-31)",
              "Register entities of the specialty's industries in its area alive at year end.",
              recipe=Recipe("count", "registry", "", "区域内、行业代码属核心或配套行业、当年 12 月 31 日存续的市场主体",
                            "register entities in S's area with a core or supporting code alive at Y-12-31")),
    _yoy("market_entities", "市场主体数"),
)

TOWN_YEAR_KEY = ("town_code", "year")
TOWN_YEAR_EXTRA = ("county_code",)
SPECIALTY_TOWN_ID = "specialty_town_id"
SPECIALTY_TOWN_YEAR_KEY = (SPECIALTY_TOWN_ID, "year")
SPECIALTY_TOWN_YEAR_EXTRA = ("provincial_output",)
KEYS = {"ind_town_year": TOWN_YEAR_KEY, "ind_specialty_town_year": SPECIALTY_TOWN_YEAR_KEY}
#: columns of the table that are not indicators (a town's county, the provincial total S is compared with)
EXTRA_COLUMNS = {"ind_town_year": TOWN_YEAR_EXTRA, "ind_specialty_town_year": SPECIALTY_TOWN_YEAR_EXTRA}

CATALOGUE: dict[str, tuple[Indicator, ...]] = {
    "ind_town_year": TOWN_YEAR,
    "ind_specialty_town_year": SPECIALTY_TOWN_YEAR,
}
#: the published view of each indicator table (contract section 7)
PUBLISHED = {"ind_town_year": "pub_town_year"}


def register(table: str, ind: Indicator) -> None:
    """Add an indicator to a table (next year's indicator, or a test's). Register before the
    warehouse tables are imported: their columns are built from the catalogue once."""
    if any(i.name == ind.name for i in CATALOGUE[table]):
        raise ValueError(f"{table}.{ind.name} is declared already")
    CATALOGUE[table] = (*CATALOGUE[table], ind)


def indicators(table: str) -> tuple[Indicator, ...]:
    """The indicators of ``table`` in column order (built-in ones, then registered ones)."""
    return CATALOGUE[table]


def indicator(table: str, name: str) -> Indicator:
    """The catalogue entry of ``name`` in ``table``."""
    for ind in CATALOGUE[table]:
        if ind.name == name:
            return ind
    raise KeyError(f"{table}.{name}")


def money_columns(table: str = "ind_town_year") -> list[str]:
    """Money columns of a table, in catalogue order (the order of contract section 7)."""
    return [i.name for i in CATALOGUE[table] if i.kind == "money"]


def derived_from_money(table: str = "ind_town_year") -> dict[str, tuple[list[str], bool]]:
    """yoy and ratio columns computed from money columns: name -> (those money columns, whether
    the value of Y-1 counts too). Null in the published view whenever one of them is suppressed."""
    money = set(money_columns(table))
    out: dict[str, tuple[list[str], bool]] = {}
    for i in CATALOGUE[table]:
        bases = [c for c in i.inputs if c in money]
        if i.kind in ("yoy", "ratio") and bases:
            out[i.name] = (bases, i.kind == "yoy")
    return out


def yoy_bases(table: str) -> list[str]:
    """The columns whose value of Y-1 a yoy of ``table`` needs."""
    return [i.inputs[0] for i in CATALOGUE[table] if i.kind == "yoy"]


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
