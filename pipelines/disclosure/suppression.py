"""pub_town_year (contract section 7): ind_town_year after primary and secondary suppression."""

from __future__ import annotations

import polars as pl

from pipelines.disclosure.params import DisclosureParams, load_disclosure_params
from pipelines.indicators.attribution import yearly_taxes
from pipelines.indicators.catalogue import derived_from_money, indicators, money_columns
from pipelines.lazy import Frame, lazy

TABLE = "ind_town_year"
MONEY = money_columns(TABLE)
#: derived column -> the money columns it is computed from, and whether Y-1 counts too
DERIVED = derived_from_money(TABLE)


def _money_from(source: str) -> dict[str, str]:
    """Money indicators whose contributors are rows of ``source``: indicator -> fact column."""
    return {i.name: i.recipe.column for i in indicators(TABLE)
            if i.kind == "money" and i.recipe is not None and i.recipe.source == source}


def _fen(value: pl.Expr) -> pl.Expr:
    return (value * 100).round(0).cast(pl.Int64)


def contributions(enterprise: Frame, tax: Frame, registry: Frame, years: list[int]) -> pl.LazyFrame:
    """(town_code, year, column, fen): one row per contributor to a money cell.

    Enterprise money columns: the enterprise rows of the town (null values contribute
    nothing). Money from the tax fact: the taxpayers counted in the town, each with its yearly
    total.
    """
    ent = lazy(enterprise).with_columns(pl.col("year").cast(pl.Int32))
    year_s = pl.Series(years, dtype=pl.Int32)
    from_enterprise = _money_from("enterprise")
    from_reports = (
        ent.filter(pl.col("year").is_in(year_s.implode()))
        .select("town_code", "year", *[pl.col(c).alias(name) for name, c in from_enterprise.items()])
        .unpivot(index=["town_code", "year"], on=list(from_enterprise), variable_name="column", value_name="value")
        .filter(pl.col("value").is_not_null())
        .select("town_code", "year", "column", _fen(pl.col("value")).alias("fen"))
    )
    taxpayers = (
        yearly_taxes(tax, ent, registry, years)
        .filter(pl.col("town_code").is_not_null())
    )
    from_tax = [taxpayers.select("town_code", "year", pl.lit(name).alias("column"), _fen(pl.col("total")).alias("fen"))
                for name in _money_from("tax")]
    return pl.concat([from_reports, *from_tax])


def suppress_cells(cells: pl.LazyFrame, params: DisclosureParams) -> pl.LazyFrame:
    """Primary and secondary suppression over money cells.

    ``cells``: town_code, county_code, year, column, total, contributors (non-zero), top
    (sum of the n largest |fen|), abs_sum (in fen). Returns the suppressed cells:
    town_code, year, column, kind ('primary' | 'secondary').
    """
    num, den = params.dominance_percent.numerator, params.dominance_percent.denominator
    big = pl.Int128
    primary = (pl.col("total") != 0) & (
        (pl.col("contributors") < params.min_contributors)
        | (pl.col("top").cast(big) * (100 * den) > pl.col("abs_sum").cast(big) * num)
    )
    group = ["county_code", "year", "column"]
    flagged = cells.with_columns(primary.fill_null(False).alias("_primary")).with_columns(
        pl.col("_primary").sum().over(group).alias("_n_primary"),
        (pl.col("_primary") & (pl.col("contributors") == 1)).sum().over(group).alias("_n_single"),
    )
    triggered = (pl.col("_n_primary") == 1) | ((pl.col("_n_primary") == 2) & (pl.col("_n_single") >= 1))
    secondary = (
        flagged.filter(triggered & ~pl.col("_primary") & (pl.col("total") != 0) & pl.col("total").is_not_null())
        .sort(pl.col("total").abs(), "town_code")
        .group_by(group, maintain_order=True)
        .first()
        .select("town_code", "year", "column", pl.lit("secondary").alias("kind"))
    )
    first = flagged.filter("_primary").select("town_code", "year", "column", pl.lit("primary").alias("kind"))
    return pl.concat([first, secondary])


def publish_town_year(
    ind_town_year: Frame,
    enterprise: Frame,
    tax: Frame,
    registry: Frame,
    towns: Frame,
    params: DisclosureParams | None = None,
) -> pl.DataFrame:
    """pub_town_year: ind_town_year with suppressed money cells, and the yoy and ratio
    columns computed from them (Y or Y-1), set to null; plus ``suppressed`` listing the money
    columns nulled in the row in contract order, ';'-separated ('' when none). Count columns
    are published as they are. `tax`: the tax fact or its `attribution.taxpayer_years`."""
    params = params or load_disclosure_params()
    ind = lazy(ind_town_year)
    years = ind.select(pl.col("year").cast(pl.Int32).unique()).collect()["year"].to_list()
    span = sorted(set(years) | {y - 1 for y in years})
    county_of = lazy(towns).select("town_code", pl.col("county_code").alias("_county"))
    n = params.dominance_contributors
    cells = (
        contributions(enterprise, tax, registry, span)
        .group_by("town_code", "year", "column")
        .agg(
            pl.col("fen").sum().alias("total"),
            (pl.col("fen") != 0).sum().alias("contributors"),
            pl.col("fen").abs().top_k(n).sum().alias("top"),
            pl.col("fen").abs().sum().alias("abs_sum"),
        )
        .join(county_of, on="town_code", how="left")
        .with_columns(pl.coalesce("_county", pl.col("town_code").str.slice(0, 6)).alias("county_code"))
    )
    hidden = suppress_cells(cells, params)
    flags = hidden.group_by("town_code", "year").agg(
        [(pl.col("column") == c).any().alias(f"_sup_{c}") for c in MONEY]
    )
    before = flags.select(
        "town_code",
        (pl.col("year") + 1).cast(pl.Int32).alias("year"),
        *[pl.col(f"_sup_{c}").alias(f"_was_{c}") for c in MONEY],
    )
    columns = ind.collect_schema().names()
    out = (
        ind.with_columns(pl.col("year").cast(pl.Int32))
        .join(flags, on=["town_code", "year"], how="left")
        .join(before, on=["town_code", "year"], how="left")
        .with_columns(
            [pl.col(f"_sup_{c}").fill_null(False) for c in MONEY]
            + [pl.col(f"_was_{c}").fill_null(False) for c in MONEY]
        )
    )
    derived = []
    for column, (sources, previous_too) in DERIVED.items():
        hit = pl.any_horizontal(
            [pl.col(f"_sup_{s}") for s in sources] + ([pl.col(f"_was_{s}") for s in sources] if previous_too else [])
        )
        derived.append(pl.when(hit).then(None).otherwise(pl.col(column)).alias(column))
    out = (
        out.with_columns(
            *[pl.when(pl.col(f"_sup_{c}")).then(None).otherwise(pl.col(c)).alias(c) for c in MONEY],
            *derived,
            pl.concat_list([pl.when(pl.col(f"_sup_{c}")).then(pl.lit(c)) for c in MONEY])
            .list.drop_nulls()
            .list.join(";")
            .alias("suppressed"),
        )
        .select(*columns, "suppressed")
        .sort("town_code", "year")
    )
    return out.collect()
