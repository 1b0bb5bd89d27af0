"""Where a taxpayer or employer counts (contract section 5).

The town of a taxpayer or employer in year Y is its enterprise-report town_code for Y, else
its register town_code; a unit in neither counts in no town (its town is null).
"""

from __future__ import annotations

import polars as pl

from pipelines.lazy import lazy


def attach_unit_town(
    rows: pl.LazyFrame,
    enterprise: pl.DataFrame | pl.LazyFrame,
    registry: pl.DataFrame | pl.LazyFrame,
    uscc_column: str = "uscc",
) -> pl.LazyFrame:
    """Add ``town_code`` to ``rows`` (which carry ``year`` and ``uscc_column``).

    Enterprise rows are unique on (year, uscc) and the register on uscc, so the left joins
    never multiply rows.
    """
    reported = lazy(enterprise).select(
        pl.col("year").cast(pl.Int32),
        pl.col("uscc").alias(uscc_column),
        pl.col("town_code").alias("_report_town"),
    )
    registered = lazy(registry).select(
        pl.col("uscc").alias(uscc_column), pl.col("town_code").alias("_register_town")
    )
    return (
        rows.with_columns(pl.col("year").cast(pl.Int32))
        .join(reported, on=["year", uscc_column], how="left")
        .join(registered, on=uscc_column, how="left")
        .with_columns(pl.coalesce("_report_town", "_register_town").alias("town_code"))
        .drop("_report_town", "_register_town")
    )


def yearly_taxes(
    tax: pl.DataFrame | pl.LazyFrame,
    enterprise: pl.DataFrame | pl.LazyFrame,
    registry: pl.DataFrame | pl.LazyFrame,
    years: list[int],
) -> pl.LazyFrame:
    """One row per (year, uscc) taxpayer with a tax row in ``years``: its town and yearly total.

    ``total`` is the sum of total_tax over the months of the year (nulls skipped, 0 when none),
    rounded to the fen; ``town_code`` is null for a taxpayer in no report and not registered.
    """
    per_taxpayer = (
        lazy(tax)
        .filter(pl.col("year").is_in(pl.Series(years, dtype=pl.Int32).implode()))
        .group_by(pl.col("year").cast(pl.Int32), "uscc")
        .agg(pl.col("total_tax").sum().round(2).alias("total"))
    )
    return attach_unit_town(per_taxpayer, enterprise, registry)
