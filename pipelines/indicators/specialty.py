"""ind_specialty_town_year (contract section 5.2): indicators per specialty town and year."""

from __future__ import annotations

import polars as pl

from pipelines.indicators.attribution import taxpayer_years
from pipelines.indicators.catalogue import EXTRA_COLUMNS, KEYS, indicators
from pipelines.indicators.catalogue import SPECIALTY_TOWN_ID as S
from pipelines.indicators.measures import alive_counts
from pipelines.indicators.memo import NO_MEMO, Memo
from pipelines.indicators.passes import grouped_in_passes, passes_for
from pipelines.indicators.town import (
    _with_previous_above_scale,
    december_enrolments,
    enterprise_aggregates,
    finish_indicators,
    indicator_years,
    row_aggregates,
)
from pipelines.lazy import Frame, lazy

TABLE = "ind_specialty_town_year"


def _codes(column: str) -> pl.Expr:
    """A ';'-joined code list as a list of non-empty, stripped codes."""
    return (
        pl.col(column)
        .fill_null("")
        .str.split(";")
        .list.eval(pl.element().str.strip_chars().filter(pl.element() != ""))
    )


def specialty_industries(specialty_towns: Frame) -> pl.LazyFrame:
    """(specialty_town_id, industry_code, is_core): S's core and supporting codes."""
    st = lazy(specialty_towns).select(
        pl.col("id").alias(S),
        _codes("core_industry_codes").alias("_core"),
        _codes("supporting_industry_codes").alias("_supp"),
    )
    core = st.select(S, pl.col("_core").alias("industry_code")).explode("industry_code")
    supp = st.select(S, pl.col("_supp").alias("industry_code")).explode("industry_code")
    return (
        pl.concat(
            [core.with_columns(is_core=pl.lit(True)), supp.with_columns(is_core=pl.lit(False))]
        )
        .filter(pl.col("industry_code").is_not_null())
        .group_by(S, "industry_code")
        .agg(pl.col("is_core").any())
    )


def in_area(rows: pl.LazyFrame, specialty_towns: Frame) -> pl.LazyFrame:
    """Pair each row (with ``town_code``) with every S whose area holds its town.

    The area is S's host towns, or every town of S's county when host_town_codes is empty.
    """
    st = lazy(specialty_towns).select(
        pl.col("id").alias(S),
        pl.col("county_code").alias("_s_county"),
        _codes("host_town_codes").alias("_hosts"),
    )
    hosts = (
        st.filter(pl.col("_hosts").list.len() > 0)
        .select(S, pl.col("_hosts").alias("town_code"))
        .explode("town_code")
    )
    counties = st.filter(pl.col("_hosts").list.len() == 0).select(
        S, pl.col("_s_county").alias("_county")
    )
    by_host = rows.join(hosts, on="town_code", how="inner")
    by_county = (
        rows.with_columns(pl.col("town_code").str.slice(0, 6).alias("_county"))
        .join(counties, on="_county", how="inner")
        .drop("_county")
    )
    return pl.concat([by_host, by_county], how="vertical")


def specialty_town_year(
    enterprise: Frame,
    tax: Frame,
    employment: Frame,
    registry: Frame,
    towns: Frame,
    specialty_towns: Frame,
    leading: Frame,
    market_totals: Frame,
    memo: Memo = NO_MEMO,
) -> pl.DataFrame:
    """Build ind_specialty_town_year: specialty_town_id, year, every section 5.2 column,
    then provincial_output (extra). A row for every specialty town and indicator year.

    ``towns`` is accepted for symmetry with town_year; a county's towns are the town codes
    whose first 6 digits are the county code (contract section 1). `memo` keeps the part read
    from the enrolment rows (`memo.py`); it must be keyed by the employment, enterprise and
    register facts and `specialty_towns`. `tax`: the tax fact or its `attribution.taxpayer_years`.
    """
    del towns
    ent = lazy(enterprise).with_columns(pl.col("year").cast(pl.Int32))
    years = indicator_years(ent)
    span = sorted(set(years) | {y - 1 for y in years})
    span_s = pl.Series(span, dtype=pl.Int32)
    industries = specialty_industries(specialty_towns)
    st_county = lazy(specialty_towns).select(
        pl.col("id").alias(S), pl.col("county_code").alias("_county")
    )

    members = in_area(
        _with_previous_above_scale(ent).filter(pl.col("year").is_in(span_s.implode())), specialty_towns
    ).join(industries, on=[S, "industry_code"], how="inner")
    listed = (
        members.select(S, "year", "uscc")
        .join(
            lazy(leading).select(
                pl.col("specialty_town_id").alias(S),
                "uscc",
                pl.col("from_year").cast(pl.Int32),
                pl.col("to_year").cast(pl.Int32),
            ),
            on=[S, "uscc"],
            how="inner",
        )
        .filter(
            (pl.col("from_year") <= pl.col("year"))
            & (pl.col("to_year").is_null() | (pl.col("year") <= pl.col("to_year")))
        )
        .select(S, "year", "uscc")
        .unique()
        .with_columns(_leading=pl.lit(True))
    )
    members = members.join(listed, on=[S, "year", "uscc"], how="left").with_columns(
        pl.col("_leading").fill_null(False)
    )
    by_members = members.group_by(S, "year").agg(enterprise_aggregates(TABLE))
    member_keys = members.filter(pl.col("year").is_in(pl.Series(years, dtype=pl.Int32).implode())).select(
        S, "year", "uscc"
    )
    taxes = (
        taxpayer_years(tax)
        .filter(pl.col("year").is_in(pl.Series(years, dtype=pl.Int32).implode()))
        .select("year", "uscc", "total")
    )
    by_tax = (
        member_keys.join(taxes, on=["year", "uscc"], how="inner")
        .group_by(S, "year")
        .agg(row_aggregates(TABLE, "tax"))
    )
    december = december_enrolments(employment, years)
    insured_rows = (
        december
        .join(
            member_keys.rename({"uscc": "employer_uscc"}), on=["year", "employer_uscc"], how="inner"
        )
        .join(st_county, on=S, how="left")
    )
    insured = memo("specialty_insured", lambda: grouped_in_passes(
        insured_rows, [S, "year"], row_aggregates(TABLE, "enrolment"), passes_for(december)))
    entities = in_area(
        lazy(registry).select("uscc", "town_code", "industry_code", "established", "deregistered"),
        specialty_towns,
    ).join(industries, on=[S, "industry_code"], how="inner")
    alive = alive_counts(entities, [S], span)

    grid = (
        lazy(specialty_towns)
        .select(pl.col("id").alias(S))
        .unique()
        .join(pl.LazyFrame({"year": span_s}), how="cross")
    )
    base = grid
    for part in (by_members, by_tax, insured, alive):
        base = base.join(part, on=[S, "year"], how="left")
    totals = lazy(market_totals).select(
        pl.col("specialty_town_id").alias(S),
        pl.col("year").cast(pl.Int32),
        pl.col("provincial_output").cast(pl.Float64),
    )
    base = finish_indicators(base.join(totals, on=[S, "year"], how="left"), TABLE, [S])
    result = (
        base
        .filter(pl.col("year").is_in(pl.Series(years, dtype=pl.Int32).implode()))
        .select(
            pl.col(S).cast(pl.String),
            pl.col("year").cast(pl.Int32),
            *[pl.col(i.name).cast(i.dtype) for i in indicators(TABLE)],
            *[pl.col(c).cast(pl.Float64) for c in EXTRA_COLUMNS[TABLE]],
        )
        .sort(list(KEYS[TABLE]))
    )
    return result.collect()
