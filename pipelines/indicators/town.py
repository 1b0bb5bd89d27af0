"""ind_town_year (contract section 5.1): indicators per town and year."""

from __future__ import annotations

import polars as pl

from pipelines.indicators.attribution import _lazy, attach_unit_town, yearly_taxes
from pipelines.indicators.catalogue import TOWN_YEAR, TOWN_YEAR_EXTRA, TOWN_YEAR_KEY
from pipelines.indicators.measures import (
    alive_counts,
    count_true,
    money_sum,
    previous_year,
    ratio,
    yoy,
)
from pipelines.indicators.memo import NO_MEMO, Memo

Frame = pl.DataFrame | pl.LazyFrame

_ENTERPRISE_MONEY = ["output_value", "revenue", "rd_expenditure", "export_value", "ecommerce_sales"]


def indicator_years(enterprise: Frame) -> list[int]:
    """The years of the indicator tables: the years that have enterprise reports."""
    years = _lazy(enterprise).select(pl.col("year").cast(pl.Int32).unique()).collect()
    return sorted(years["year"].to_list())


def _with_previous_above_scale(enterprise: pl.LazyFrame) -> pl.LazyFrame:
    """Enterprise rows with ``newly`` = above scale in Y and not in Y-1 (absent = not)."""
    before = enterprise.select(
        (pl.col("year") + 1).cast(pl.Int32).alias("year"),
        "uscc",
        pl.col("above_scale").alias("_above_before"),
    )
    return enterprise.join(before, on=["year", "uscc"], how="left").with_columns(
        (pl.col("above_scale").fill_null(False) & ~pl.col("_above_before").fill_null(False)).alias(
            "_newly"
        )
    )


def enterprise_measures() -> list[pl.Expr]:
    """Aggregations over enterprise rows shared by the town and specialty tables."""
    return [
        pl.len().cast(pl.Int64).alias("_rows"),
        count_true("above_scale", "above_scale_enterprises"),
        count_true("_newly", "newly_above_scale"),
        *[money_sum(c) for c in _ENTERPRISE_MONEY],
        pl.col("employees").sum().cast(pl.Int64).alias("employees"),
        pl.col("patents_granted").sum().cast(pl.Int64).alias("patents_granted"),
        count_true("high_tech", "high_tech_enterprises"),
        count_true("specialized_sme", "specialized_sme_enterprises"),
        count_true("little_giant", "little_giant_enterprises"),
        (pl.col("tech_center_level").fill_null("none") != "none")
        .sum()
        .cast(pl.Int64)
        .alias("tech_center_enterprises"),
    ]


def december_enrolments(employment: Frame, years: list[int]) -> pl.LazyFrame:
    """Distinct (year, employer_uscc, person_key, hukou_county_code) enrolled in period Y-12.

    The December filter comes first, so only a twelfth of the enrolment rows is carried on.
    """
    periods = pl.Series([f"{y}-12" for y in years], dtype=pl.String)
    return (
        _lazy(employment)
        .filter(pl.col("period").is_in(periods.implode()))
        .select(
            pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"),
            "employer_uscc",
            "person_key",
            "hukou_county_code",
        )
        .unique()
    )


def town_year(
    enterprise: Frame, tax: Frame, employment: Frame, registry: Frame, towns: Frame,
    memo: Memo = NO_MEMO,
) -> pl.DataFrame:
    """Build ind_town_year: town_code, year, county_code, then every section 5.1 column.

    `memo` keeps the parts read from the enrolment rows (`memo.py`); it must be keyed by
    the employment, enterprise and register facts and `towns`.

    A row for every (town, indicator year) with an enterprise report, a tax row or an
    enrolment (at an employer whose town in Y is T) in Y, or a register entity alive at
    Y-12-31. yoy columns compare with the same indicator computed from the facts of Y-1.
    """
    ent = _lazy(enterprise).with_columns(pl.col("year").cast(pl.Int32))
    reg = _lazy(registry)
    years = indicator_years(ent)
    span = sorted(set(years) | {y - 1 for y in years})
    span_s = pl.Series(span, dtype=pl.Int32)
    years_s = pl.Series(years, dtype=pl.Int32)
    county_of = _lazy(towns).select("town_code", pl.col("county_code").alias("_county"))

    ent_rows = _with_previous_above_scale(ent).filter(pl.col("year").is_in(span_s.implode()))
    by_enterprise = (
        ent_rows.group_by("town_code", "year")
        .agg(enterprise_measures())
        .rename({"_rows": "enterprises"})
    )
    by_tax = (
        yearly_taxes(tax, ent, reg, span)
        .filter(pl.col("town_code").is_not_null())
        .group_by("town_code", "year")
        .agg(pl.col("total").sum().round(2).alias("tax_total"))
    )
    insured = (
        attach_unit_town(december_enrolments(employment, years), ent, reg, "employer_uscc")
        .filter(pl.col("town_code").is_not_null())
        .join(county_of, on="town_code", how="left")
        .with_columns(pl.coalesce("_county", pl.col("town_code").str.slice(0, 6)).alias("_county"))
        .group_by("town_code", "year")
        .agg(
            pl.col("person_key").n_unique().cast(pl.Int64).alias("insured_persons"),
            pl.col("person_key")
            .filter(pl.col("hukou_county_code") == pl.col("_county"))
            .n_unique()
            .cast(pl.Int64)
            .alias("local_insured_persons"),
        )
    )
    insured = memo("town_insured", insured)
    enrolled_towns = (
        attach_unit_town(
            _lazy(employment)
            .filter(pl.col("year").cast(pl.Int32).is_in(years_s.implode()))
            .select(pl.col("year").cast(pl.Int32), "employer_uscc")
            .unique(),
            ent,
            reg,
            "employer_uscc",
        )
        .filter(pl.col("town_code").is_not_null())
        .select("town_code", "year")
    )
    enrolled_towns = memo("town_enrolled", enrolled_towns)
    alive = alive_counts(reg, ["town_code"], span)
    new_entities = (
        reg.with_columns(pl.col("established").dt.year().cast(pl.Int32).alias("year"))
        .filter(pl.col("year").is_in(span_s.implode()))
        .group_by("town_code", "year")
        .agg(pl.len().cast(pl.Int64).alias("new_market_entities"))
    )
    # each part computed once: two are used twice below
    by_enterprise, by_tax, insured, enrolled_towns, alive, new_entities = (
        f.lazy() for f in pl.collect_all([by_enterprise, by_tax, insured, enrolled_towns, alive, new_entities]))

    parts = [by_enterprise, by_tax, insured, alive, new_entities]
    keys = pl.concat([p.select("town_code", "year") for p in parts]).unique()
    base = keys
    for part in parts:
        base = base.join(part, on=["town_code", "year"], how="left")
    fill = {
        i.name: (0 if i.kind == "count" else 0.0) for i in TOWN_YEAR if i.kind in ("count", "money")
    }
    base = base.with_columns([pl.col(c).fill_null(v) for c, v in fill.items()])
    base = previous_year(
        base, ["town_code"], ["output_value", "revenue", "tax_total", "market_entities"]
    )
    base = base.with_columns(
        yoy(pl.col("output_value"), pl.col("output_value_prev")).alias("output_value_yoy"),
        yoy(pl.col("revenue"), pl.col("revenue_prev")).alias("revenue_yoy"),
        yoy(pl.col("tax_total"), pl.col("tax_total_prev")).alias("tax_total_yoy"),
        yoy(pl.col("market_entities"), pl.col("market_entities_prev")).alias("market_entities_yoy"),
        ratio(pl.col("rd_expenditure"), pl.col("revenue")).alias("rd_intensity"),
    )

    present = (
        pl.concat(
            [
                ent.select("town_code", "year"),
                by_tax.select("town_code", "year"),
                enrolled_towns,
                alive.filter(pl.col("market_entities") > 0).select("town_code", "year"),
            ]
        )
        .filter(pl.col("year").is_in(years_s.implode()))
        .unique()
    )

    result = (
        present.join(base, on=["town_code", "year"], how="left")
        .join(county_of, on="town_code", how="left")
        .with_columns(
            pl.coalesce("_county", pl.col("town_code").str.slice(0, 6)).alias("county_code")
        )
        .select(
            pl.col("town_code").cast(pl.String),
            pl.col("year").cast(pl.Int32),
            *[pl.col(c).cast(pl.String) for c in TOWN_YEAR_EXTRA],
            *[pl.col(i.name).cast(i.dtype) for i in TOWN_YEAR],
        )
        .sort(list(TOWN_YEAR_KEY))
    )
    return result.collect()
