"""ind_town_year (contract section 5.1): indicators per town and year."""

from __future__ import annotations

import polars as pl

from pipelines.indicators.attribution import attach_unit_town, yearly_taxes
from pipelines.indicators.catalogue import EXTRA_COLUMNS, KEYS, indicators, yoy_bases
from pipelines.indicators.measures import alive_counts, money_sum, previous_year, ratio, yoy
from pipelines.indicators.memo import NO_MEMO, Memo
from pipelines.indicators.passes import grouped_in_passes, passes_for
from pipelines.lazy import Frame, lazy

TABLE = "ind_town_year"


def indicator_years(enterprise: Frame) -> list[int]:
    """The years of the indicator tables: the years that have enterprise reports."""
    years = lazy(enterprise).select(pl.col("year").cast(pl.Int32).unique()).collect()
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


def enterprise_aggregates(table: str) -> list[pl.Expr]:
    """The aggregations over a unit's enterprise rows that ``table`` declares, and the money
    sums its ratios read that are not columns of their own (a specialty town's revenue)."""
    inds = indicators(table)
    names = {i.name for i in inds}
    extra = EXTRA_COLUMNS[table]
    hidden = sorted({c for i in inds if i.kind == "ratio" for c in i.inputs} - names - set(extra))
    return [*row_aggregates(table, "enterprise"), *[money_sum(c) for c in hidden]]


def row_aggregates(table: str, over: str) -> list[pl.Expr]:
    """The aggregations ``table`` declares over a unit's rows of one kind (`Indicator.over`)."""
    return [i.aggregate.alias(i.name) for i in indicators(table) if i.aggregate is not None and i.over == over]


def finish_indicators(base: pl.LazyFrame, table: str, key: list[str]) -> pl.LazyFrame:
    """Counts and sums of no rows are 0; then the declared derived columns, yoy (against the
    same unit's value of Y-1 in ``base``) and ratios."""
    inds = indicators(table)
    fill = [i.name for i in inds if i.kind in ("count", "money") and i.derived is None]
    base = base.with_columns(pl.col(c).fill_null(0) for c in fill)
    hidden = [c for c in {c for i in inds if i.kind == "ratio" for c in i.inputs}
              if c not in {i.name for i in inds} and c not in EXTRA_COLUMNS[table]]
    base = base.with_columns(pl.col(c).fill_null(0.0) for c in hidden)
    base = previous_year(base, key, yoy_bases(table))
    derived = [i.derived.alias(i.name) for i in inds if i.derived is not None]
    if derived:
        base = base.with_columns(derived)
    return base.with_columns(
        *[yoy(pl.col(i.inputs[0]), pl.col(f"{i.inputs[0]}_prev")).alias(i.name) for i in inds if i.kind == "yoy"],
        *[ratio(pl.col(i.inputs[0]), pl.col(i.inputs[1])).alias(i.name) for i in inds if i.kind == "ratio"],
    )


def december_enrolments(employment: Frame, years: list[int]) -> pl.LazyFrame:
    """(year, employer_uscc, person_key, hukou_county_code) enrolled in period Y-12.

    The December filter comes first, so only a twelfth of the enrolment rows is carried on.
    The rows are distinct already: the fact's key is (period, person_key, employer_uscc).
    """
    periods = pl.Series([f"{y}-12" for y in years], dtype=pl.String)
    return (
        lazy(employment)
        .filter(pl.col("period").is_in(periods.implode()))
        .select(
            pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"),
            "employer_uscc",
            "person_key",
            "hukou_county_code",
        )
    )


def town_year(
    enterprise: Frame, tax: Frame, employment: Frame, registry: Frame, towns: Frame,
    memo: Memo = NO_MEMO,
) -> pl.DataFrame:
    """Build ind_town_year: town_code, year, county_code, then every section 5.1 column.

    `memo` keeps the parts read from the enrolment rows (`memo.py`); it must be keyed by
    the employment, enterprise and register facts and `towns`. `tax`: the tax fact or its
    `attribution.taxpayer_years`.

    A row for every (town, indicator year) with an enterprise report, a tax row or an
    enrolment (at an employer whose town in Y is T) in Y, or a register entity alive at
    Y-12-31. yoy columns compare with the same indicator computed from the facts of Y-1.
    """
    ent = lazy(enterprise).with_columns(pl.col("year").cast(pl.Int32))
    reg = lazy(registry)
    years = indicator_years(ent)
    span = sorted(set(years) | {y - 1 for y in years})
    span_s = pl.Series(span, dtype=pl.Int32)
    years_s = pl.Series(years, dtype=pl.Int32)
    county_of = lazy(towns).select("town_code", pl.col("county_code").alias("_county"))

    ent_rows = _with_previous_above_scale(ent).filter(pl.col("year").is_in(span_s.implode()))
    by_enterprise = ent_rows.group_by("town_code", "year").agg(enterprise_aggregates(TABLE))
    by_tax = (
        yearly_taxes(tax, ent, reg, span)
        .filter(pl.col("town_code").is_not_null())
        .group_by("town_code", "year")
        .agg(row_aggregates(TABLE, "tax"))
    )
    december = december_enrolments(employment, years)
    insured_rows = (
        attach_unit_town(december, ent, reg, "employer_uscc")
        .filter(pl.col("town_code").is_not_null())
        .join(county_of, on="town_code", how="left")
        .with_columns(pl.coalesce("_county", pl.col("town_code").str.slice(0, 6)).alias("_county"))
    )
    insured = memo("town_insured", lambda: grouped_in_passes(
        insured_rows, ["town_code", "year"], row_aggregates(TABLE, "enrolment"), passes_for(december)))
    enrolled_towns = (
        attach_unit_town(
            lazy(employment)
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
    base = finish_indicators(base, TABLE, ["town_code"])

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
            *[pl.col(c).cast(pl.String) for c in EXTRA_COLUMNS[TABLE]],
            *[pl.col(i.name).cast(i.dtype) for i in indicators(TABLE)],
        )
        .sort(list(KEYS[TABLE]))
    )
    return result.collect()
