"""Scales, specialty-town templates, column headers and bad-row catalogue of the demo generator."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import polars as pl

from pipelines.reference import industry_classes, shipped_towns

WENXI = "140823"
YUNCHENG = "140800"


@dataclass(frozen=True)
class ScaleSpec:
    scale: str
    county_codes: tuple[str, ...]
    reporters: int  # general enterprises filing annual reports (specialty members come on top)
    register: int  # register rows (all entity types)
    persons: int  # insured persons
    taxpayer_others: int  # register-only taxpayers (enterprises, 个体工商户, cooperatives)
    min_reports: int
    min_taxpayers: int
    min_insured: int
    min_register: int
    other_specialty_per_county: int
    fraction: float = 1.0  # of the province (province_fraction); 1.0 for every named scale


#: Smallest fraction of the province the generator writes (2 counties, 700 reporters).
MIN_FRACTION = 0.01


def scale_spec(scale: str, fraction: float = 1.0) -> ScaleSpec:
    """The spec of a scale; `fraction` (province only, 0.01 to 1) gives `province_fraction`."""
    if fraction != 1.0:
        if scale != "province":
            raise ValueError(f"a fraction is of the province only, not of scale {scale!r}")
        return province_fraction(fraction)
    towns = shipped_towns()
    if scale == "county":
        counties = (WENXI,)
        return ScaleSpec(scale, counties, 700, 3_400, 16_800, 1_300, 600, 1_500, 15_000, 0, 0)
    if scale == "city":
        counties = tuple(sorted(towns.filter(pl.col("city_code") == YUNCHENG)["county_code"].unique()))
        return ScaleSpec(scale, counties, 7_000, 34_000, 168_000, 13_000, 6_000, 15_000, 150_000, 0, 2)
    if scale == "province":
        counties = tuple(sorted(towns["county_code"].unique()))
        return ScaleSpec(
            scale, counties, 70_000, 330_000, 1_120_000, 130_000, 60_000, 150_000, 1_000_000, 300_000, 1
        )
    raise ValueError(f"unknown scale {scale!r} (county, city or province)")


def province_fraction(fraction: float) -> ScaleSpec:
    """A fraction f of the province: the first ceil(f x 121) county-level codes (sorted; the
    province's 117 counties and 4 development zones with towns of their own) and every
    count of the province spec times f (rounded), so that the rows grow about linearly with f.

    The scale stays "province" (same random streams, same province rules: one specialty town
    per county, two in Yuncheng's counties, three registry files); specialty towns come per
    county. f = 1 is the province spec itself, field for field.
    """
    f = float(fraction)
    if not MIN_FRACTION <= f <= 1.0:
        raise ValueError(f"fraction must be {MIN_FRACTION} to 1, not {fraction}")
    whole = scale_spec("province")
    if f == 1.0:
        return whole
    counties = whole.county_codes[:math.ceil(f * len(whole.county_codes) - 1e-9)]

    def part(n: int) -> int:
        return round(n * f)

    return replace(
        whole, county_codes=counties, reporters=part(whole.reporters), register=part(whole.register),
        persons=part(whole.persons), taxpayer_others=part(whole.taxpayer_others),
        min_reports=part(whole.min_reports), min_taxpayers=part(whole.min_taxpayers),
        min_insured=part(whole.min_insured), min_register=part(whole.min_register), fraction=f)


@dataclass(frozen=True)
class SpecialtyTemplate:
    product: str
    category: str
    heritage: bool
    national_market: bool
    core: tuple[str, ...]
    supporting: tuple[str, ...]


# Wenxi's three specialty towns of the 2023 plan (ids, host towns, engineered sizes).
WENXI_TOWNS = [
    dict(id="140823-01", name="闻喜县玻璃器皿专业镇", host=("140823104", "140823100"),
         tpl=SpecialtyTemplate("玻璃器皿", "manufacturing", False, True,
                               ("3054", "3053", "3059"), ("3055", "2231", "2239", "2319", "3322", "3360")),
         n_lead=3, n_members=48, lead_rev=1.6e8, mem_rev=8.0e6, prod=2.4e5, share=0.62, lead_from=2022),
    dict(id="140823-02", name="闻喜县山楂专业镇", host=("140823107", "140823106"),
         tpl=SpecialtyTemplate("山楂", "agriculture", True, False,
                               ("0151", "1373"), ("1422", "1523", "2231", "5123")),
         n_lead=1, n_members=17, lead_rev=5.0e7, mem_rev=5.0e6, prod=2.5e5, share=0.30, lead_from=2022),
    dict(id="140823-03", name="闻喜县中药材专业镇", host=(),
         tpl=SpecialtyTemplate("中药材", "agriculture", False, False,
                               ("0171", "0179", "2730"), ("2740", "5152")),
         n_lead=1, n_members=8, lead_rev=2.5e7, mem_rev=2.5e6, prod=3.0e5, share=0.08, lead_from=2023),
]

TEMPLATES = [
    SpecialtyTemplate("苹果", "agriculture", True, True, ("0151", "1373"), ("2231", "5123", "1523")),
    SpecialtyTemplate("铸造", "manufacturing", False, True, ("3391", "3392"), ("3360", "3311", "3399")),
    SpecialtyTemplate("陈醋", "light_industry", True, True, ("1462",), ("1469", "2231", "2319", "5226")),
    SpecialtyTemplate("白酒", "light_industry", True, True, ("1512",), ("2231", "2319", "3055", "5226")),
    SpecialtyTemplate("小米杂粮", "agriculture", True, False, ("0119", "1314"), ("1431", "5123")),
    SpecialtyTemplate("红枣", "agriculture", True, False, ("0159", "1422"), ("1373", "5123")),
    SpecialtyTemplate("核桃", "agriculture", False, False, ("0161",), ("1373", "5123", "2231")),
    SpecialtyTemplate("煤机装备", "manufacturing", False, True, ("3511",), ("3360", "3311", "3391")),
    SpecialtyTemplate("铝镁合金", "manufacturing", False, True, ("3216", "3217", "3252"), ("3360", "3392")),
    SpecialtyTemplate("琉璃工艺", "light_industry", True, False, ("2439", "3075"), ("2431", "2432")),
    SpecialtyTemplate("中药材", "agriculture", False, False, ("0171", "0179", "2730"), ("2740", "5152")),
    SpecialtyTemplate("汽车零部件", "manufacturing", False, True, ("3670",), ("3360", "3391", "2929")),
]


def specialty_codes() -> set[str]:
    codes: set[str] = set()
    for t in [w["tpl"] for w in WENXI_TOWNS] + TEMPLATES:
        codes |= set(t.core) | set(t.supporting)
    return codes


def check_codes() -> None:
    """Every industry class used here exists in the shipped GB/T 4754-2017 list."""
    known = set(industry_classes()["industry_code"].to_list())
    missing = specialty_codes() - known
    if missing:
        raise ValueError(f"industry classes not in GB/T 4754-2017 list: {sorted(missing)}")


# Above-scale (规模以上/限额以上) revenue thresholds, contract section 2.1 (yuan).
def threshold_expr(code: pl.Expr, section: pl.Expr) -> pl.Expr:
    div = code.str.slice(0, 2)
    return (
        pl.when(section.is_in(["B", "C", "D", "G", "I", "N"]) | (div == "51") | (div == "84"))
        .then(pl.lit(20_000_000))
        .when(section.is_in(["L", "M", "P"]) | code.is_in(["7020", "7030", "7040", "7090"]))
        .then(pl.lit(10_000_000))
        .when(section.is_in(["O", "R"]) | (div == "52") | (div == "85"))
        .then(pl.lit(5_000_000))
        .when(section == "H")
        .then(pl.lit(2_000_000))
        .otherwise(pl.lit(None, dtype=pl.Int64))
        .cast(pl.Int64)
    )


SECTION_WEIGHTS = {
    "enterprise": {"C": 30, "F": 20, "E": 8, "A": 5, "B": 2, "D": 2, "G": 5, "H": 4, "I": 3,
                   "K": 3, "L": 4, "M": 4, "N": 3, "O": 3, "P": 1, "Q": 1, "R": 2},
    "individual": {"F": 55, "H": 25, "O": 15, "C": 5},
    "cooperative": {"A": 100},
}

# canonical column -> accepted Chinese headers (contract 2.1); the English name is accepted too.
HEADERS: dict[str, list[str]] = {
    "year": ["统计年度", "年度", "年份", "报告期"],
    "uscc": ["统一社会信用代码", "信用代码"],
    "name": ["单位详细名称", "单位名称", "企业名称"],
    "town_code": ["乡镇代码", "所在地区划代码", "区划代码"],
    "industry_code": ["行业代码", "国民经济行业代码"],
    "output_value": ["工业总产值", "总产值", "产值"],
    "revenue": ["营业收入"],
    "employees": ["从业人员期末人数", "期末从业人数", "从业人员"],
    "rd_expenditure": ["研发费用", "研究与试验发展经费支出"],
    "export_value": ["出口交货值"],
    "ecommerce_sales": ["电子商务销售额"],
    "patents_granted": ["专利授权数"],
    "high_tech": ["高新技术企业"],
    "specialized_sme": ["专精特新"],
    "little_giant": ["小巨人"],
    "tech_center_level": ["企业技术中心"],
    "period": ["所属期", "税款所属期", "期间", "费款所属期"],
    "tax_uscc": ["纳税人识别号", "统一社会信用代码", "信用代码"],
    "vat": ["增值税"],
    "corporate_income_tax": ["企业所得税"],
    "other_tax": ["其他税收"],
    "total_tax": ["税收合计"],
    "invoice_sales": ["开票销售额", "销售额"],
    "person_id": ["公民身份号码", "身份证号"],
    "employer_uscc": ["单位统一社会信用代码", "参保单位信用代码", "统一社会信用代码"],
    "hukou_code": ["户籍地区划代码", "户籍地代码"],
    "contribution_base": ["缴费基数"],
    "reg_name": ["名称", "企业名称", "市场主体名称"],
    "entity_type": ["市场主体类型"],
    "established": ["成立日期"],
    "deregistered": ["注销日期"],
    "taxpayer_name": ["纳税人名称"],
    "seq": ["序号"],
}

# column kinds used by the renderer
KINDS = {
    "year": "year", "uscc": "uscc", "name": "text", "town_code": "town", "industry_code": "industry",
    "output_value": "money", "revenue": "money", "employees": "int", "rd_expenditure": "money",
    "export_value": "money", "ecommerce_sales": "money", "patents_granted": "int",
    "high_tech": "bool", "specialized_sme": "bool", "little_giant": "bool",
    "tech_center_level": "level", "period": "period", "vat": "money",
    "corporate_income_tax": "money", "other_tax": "money", "total_tax": "money",
    "invoice_sales": "money", "person_id": "pid", "employer_uscc": "uscc", "hukou_code": "text",
    "contribution_base": "money", "entity_type": "etype", "established": "date",
    "deregistered": "date", "taxpayer_name": "text", "seq": "int",
}

KEYS = {
    "enterprise": ["year", "uscc"],
    "tax": ["period", "uscc"],
    "employment": ["period", "person_id", "employer_uscc"],
    "registry": ["uscc"],
}

# (rule, column) pairs injected into each source; every rule of contract section 1 appears.
BAD_RULES: dict[str, list[tuple[str, str]]] = {
    "enterprise": [
        ("uscc_invalid", "uscc"), ("unknown_town", "town_code"), ("industry_invalid", "industry_code"),
        ("required_missing", "name"), ("value_invalid", "employees"), ("out_of_range", "year"),
        ("duplicate_key", "year;uscc"), ("required_missing", "output_value"),
        ("value_invalid", "revenue"), ("out_of_range", "employees"), ("out_of_range", "revenue"),
    ],
    "tax": [
        ("uscc_invalid", "uscc"), ("required_missing", "period"), ("value_invalid", "vat"),
        ("out_of_range", "period"), ("duplicate_key", "period;uscc"),
    ],
    "employment": [
        ("person_id_invalid", "person_id"), ("uscc_invalid", "employer_uscc"),
        ("required_missing", "hukou_code"), ("value_invalid", "contribution_base"),
        ("out_of_range", "contribution_base"), ("duplicate_key", "period;person_id;employer_uscc"),
    ],
    "registry": [
        ("uscc_invalid", "uscc"), ("unknown_town", "town_code"), ("industry_invalid", "industry_code"),
        ("required_missing", "name"), ("value_invalid", "established"),
        ("out_of_range", "deregistered"), ("duplicate_key", "uscc"), ("required_missing", "established"),
    ],
}

# ---------------------------------------------------------------- targets and progress (contract 6.2)
#: Months of the year after the last report year that the monthly tax and enrolment files reach
#: (January to March): progress within a year before its annual reports exist.
PROGRESS_MONTHS = 3
#: Towns per county with targets (the rest of the county's towns have none).
TARGET_TOWNS_PER_COUNTY = {"county": 5, "city": 3, "province": 2}
#: (indicator, years) of the targets set for every specialty town and for the chosen towns; "last"
#: is the latest report year (actual known: some met, some missed), "next" the year after it
#: (no reports yet: progress from the January-March monthly files).
SPECIALTY_TARGETS = [("output_value", ("last", "next")), ("tax_total", ("last", "next")),
                     ("supporting_enterprises", ("last", "next")), ("employees", ("next",))]
TOWN_TARGETS = [("tax_total", ("last", "next")), ("insured_persons", ("last", "next"))]
#: Deliberate bad rows of reference/targets.csv, (rule, column) as dq_rejected_row records them:
#: a town code that is no town, and a target that is not a number.
TARGETS_BAD = [("unknown_town", "id"), ("value_invalid", "target")]
