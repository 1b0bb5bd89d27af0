"""Shared indicator arithmetic (contract section 5), as Polars expressions.

Sums skip nulls and a sum over no values is 0; money sums are rounded to the fen (inputs are
at 0.01 yuan, so this only removes floating-point noise and keeps 0 exactly 0); a ratio with
a denominator of 0 or null is null; yoy = v_Y / v_(Y-1) - 1, null when either is null or the
earlier is <= 0. Alive at Y-12-31: established <= Y-12-31 < deregistered (or never).
"""

from __future__ import annotations

import polars as pl


def money_sum(column: str) -> pl.Expr:
    """Sum of a money column: nulls skipped, 0 over nothing, rounded to 0.01."""
    return pl.col(column).sum().round(2).alias(column)


def count_true(column: str, alias: str | None = None) -> pl.Expr:
    """Number of rows where a boolean column is true."""
    expr = pl.col(column).fill_null(False).sum().cast(pl.Int64)
    return expr if alias is None else expr.alias(alias)


def ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator, null when the denominator is 0 or null."""
    return (
        pl.when(denominator.is_null() | (denominator == 0))
        .then(None)
        .otherwise(numerator.cast(pl.Float64) / denominator.cast(pl.Float64))
    )


def yoy(current: pl.Expr, previous: pl.Expr) -> pl.Expr:
    """current / previous - 1; null when either is null or previous <= 0."""
    return (
        pl.when(current.is_null() | previous.is_null() | (previous <= 0))
        .then(None)
        .otherwise(current.cast(pl.Float64) / previous.cast(pl.Float64) - 1.0)
    )


def alive_counts(
    entities: pl.LazyFrame, group: list[str], years: list[int], alias: str = "market_entities"
) -> pl.LazyFrame:
    """Entities alive at Y-12-31 per ``group`` and year Y in ``years``.

    With e = year(established) and f = year(deregistered): established <= Y-12-31 iff e <= Y,
    and (established <= Y-12-31 and deregistered <= Y-12-31) iff max(e, f) <= Y. So
    alive(Y) = #{e <= Y} - #{max(e, f) <= Y}: a cumulative count over a small aggregate, not a
    cross join of the register with every year (a deregistration on Y-12-31 is not alive).
    """
    year_frame = pl.LazyFrame({"year": pl.Series(years, dtype=pl.Int32)})
    events = entities.select(
        *group,
        pl.col("established").dt.year().cast(pl.Int32).alias("_e"),
        pl.max_horizontal(pl.col("established").dt.year(), pl.col("deregistered").dt.year())
        .cast(pl.Int32)
        .alias("_gone"),
        pl.col("deregistered").is_not_null().alias("_has_gone"),
    )
    opened = events.group_by(*group, "_e").agg(pl.len().cast(pl.Int64).alias("_n"))
    closed = (
        events.filter("_has_gone")
        .group_by(*group, "_gone")
        .agg(pl.len().cast(pl.Int64).alias("_n"))
    )
    born = (
        opened.join(year_frame, how="cross")
        .filter(pl.col("_e") <= pl.col("year"))
        .group_by(*group, "year")
        .agg(pl.col("_n").sum().alias("_born"))
    )
    gone = (
        closed.join(year_frame, how="cross")
        .filter(pl.col("_gone") <= pl.col("year"))
        .group_by(*group, "year")
        .agg(pl.col("_n").sum().alias("_died"))
    )
    return born.join(gone, on=[*group, "year"], how="left").select(
        *group,
        "year",
        (pl.col("_born") - pl.col("_died").fill_null(0)).cast(pl.Int64).alias(alias),
    )


def previous_year(frame: pl.LazyFrame, key: list[str], columns: list[str]) -> pl.LazyFrame:
    """``frame`` with ``{c}_prev`` = the value of c for the same key in year - 1 (null if none)."""
    prev = frame.select(
        *key,
        (pl.col("year") + 1).cast(pl.Int32).alias("year"),
        *[pl.col(c).alias(f"{c}_prev") for c in columns],
    )
    return frame.join(prev, on=[*key, "year"], how="left")
