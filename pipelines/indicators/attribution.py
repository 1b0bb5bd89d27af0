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


#: The columns of a taxpayer's yearly sums (`taxpayer_years`).
TAXPAYER_YEAR = ("year", "uscc", "total", "invoice_sales")


def taxpayer_years(tax: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """(year, uscc, total, invoice_sales): one row per taxpayer and year with a tax row, its
    sums of total_tax and invoice_sales over the year's months (nulls skipped, 0 when none),
    each rounded to the fen.

    `tax` is the tax fact, or these sums already made (the tax ingest asset's `taxpayer_year`,
    computed once a night instead of once per indicator step from 6.7 million province rows):
    sums are returned as they are."""
    frame = lazy(tax)
    if "total_tax" not in frame.collect_schema().names():
        return frame.select(TAXPAYER_YEAR)
    return (
        frame.group_by(pl.col("year").cast(pl.Int32), "uscc")
        .agg(pl.col("total_tax").sum().round(2).alias("total"),
             pl.col("invoice_sales").sum().round(2).alias("invoice_sales"))
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
    ``tax``: the fact or its `taxpayer_years`.
    """
    per_taxpayer = (
        taxpayer_years(tax)
        .filter(pl.col("year").is_in(pl.Series(years, dtype=pl.Int32).implode()))
        .select("year", "uscc", "total")
    )
    return attach_unit_town(per_taxpayer, enterprise, registry)
