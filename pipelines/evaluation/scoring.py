"""eval_criterion and eval_specialty_town (contract section 6)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from pipelines.evaluation.criteria import CriteriaSet, Criterion, load_criteria_set
from pipelines.evaluation.layout import WIDE_CRITERIA, WIDE_VALUE_COLUMNS
from pipelines.indicators.catalogue import SPECIALTY_TOWN_ID as S

RATIO_CAP = 1.5

CRITERION_COLUMNS = [
    "criteria_set", S, "year", "criterion", "category", "indicator", "comparison",
    "value", "threshold", "ratio", "weight", "met",
]
#: the wide view's columns (contract section 6), in order
WIDE_COLUMNS = ["criteria_set", S, "year", "category", *WIDE_VALUE_COLUMNS, "all_met", "score", "rank"]
_WIDE_CRITERIA = {w.criterion: (w.threshold, w.met) for w in WIDE_CRITERIA}
_WIDE_VALUES = [c for w in WIDE_CRITERIA for c in w.reads]


def _by_category(values: dict[str, float]) -> pl.Expr:
    return pl.col("category").replace_strict(values, default=None, return_dtype=pl.Float64)


def _criterion_rows(frame: pl.LazyFrame, set_name: str, c: Criterion) -> pl.LazyFrame:
    """One row per (specialty town, year) for criterion ``c``."""
    if c.composite:
        value = pl.min_horizontal(
            [pl.col(i).cast(pl.Float64) / _by_category(c.thresholds[i]) for i in c.reads]
        )
        threshold = pl.lit(1.0)
    else:
        value = pl.col(c.reads[0]).cast(pl.Float64)
        threshold = _by_category(c.thresholds[c.reads[0]])
        if c.heritage_threshold is not None:
            threshold = pl.when(pl.col("heritage")).then(_by_category(c.heritage_threshold)).otherwise(threshold)
    national = pl.col("national_market") if c.national_market_met else pl.lit(False)
    passes = value >= pl.col("threshold") if c.comparison == ">=" else value > pl.col("threshold")
    return (
        frame.with_columns(value.alias("value"), threshold.alias("threshold"))
        .with_columns(
            pl.when(national)
            .then(pl.lit(1.0))
            .when(pl.col("value").is_null())
            .then(pl.lit(0.0))
            .otherwise(pl.col("value") / pl.col("threshold"))
            .alias("ratio"),
            (national | passes.fill_null(False)).alias("met"),
        )
        .select(
            pl.lit(set_name).alias("criteria_set"),
            S,
            "year",
            pl.lit(c.name).alias("criterion"),
            "category",
            pl.lit(";".join(c.reads)).alias("indicator"),
            pl.lit(c.comparison).alias("comparison"),
            "value",
            "threshold",
            "ratio",
            pl.lit(c.weight, dtype=pl.Float64).alias("weight"),
            "met",
        )
    )


def evaluate(
    ind_specialty_town_year: pl.DataFrame | pl.LazyFrame,
    specialty_towns: pl.DataFrame | pl.LazyFrame,
    criteria_sets: Iterable[CriteriaSet | str | Path],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Evaluate every specialty town and year against every criteria set.

    Returns (eval_criterion, eval_specialty_town). A null value is not met and its ratio is 0;
    a national-market town meets a criterion with the national_market exception at ratio 1.
    score = 100 * sum(w * min(r, 1.5)) / (1.5 * sum(w)); rank = 'min' rank of the score rounded
    to 6 decimals, descending, within (criteria_set, year).
    """
    sets = [s if isinstance(s, CriteriaSet) else load_criteria_set(s) for s in criteria_sets]
    ind = ind_specialty_town_year.lazy()
    towns = specialty_towns.lazy().select(
        pl.col("id").alias(S),
        "category",
        pl.col("heritage").fill_null(False),
        pl.col("national_market").fill_null(False),
    )
    frame = ind.join(towns, on=S, how="inner")
    parts = [_criterion_rows(frame, s.name, c) for s in sets for c in s.criteria]
    if not parts:
        return _empty_criterion(), pl.DataFrame(schema={c: pl.Null for c in WIDE_COLUMNS})
    criteria = pl.concat(parts).sort("criteria_set", "year", S, "criterion").collect()

    scores = (
        criteria.lazy()
        .group_by("criteria_set", S, "year")
        .agg(
            pl.col("met").all().alias("all_met"),
            (
                100.0
                * (pl.col("weight") * pl.min_horizontal(pl.col("ratio"), pl.lit(RATIO_CAP))).sum()
                / (RATIO_CAP * pl.col("weight").sum())
            ).alias("score"),
        )
        .with_columns(
            pl.col("score")
            .round(6)
            .rank(method="min", descending=True)
            .over("criteria_set", "year")
            .cast(pl.Int64)
            .alias("rank")
        )
    )
    wide = frame.select(S, "year", "category", *_WIDE_VALUES)
    wide = pl.LazyFrame({"criteria_set": [s.name for s in sets]}).join(wide, how="cross")
    extra_columns: list[str] = []
    for name, (threshold_col, met_col) in _WIDE_CRITERIA.items():
        picked = criteria.lazy().filter(pl.col("criterion") == name)
        cols = [pl.col("met").alias(met_col)]
        if threshold_col:
            cols.append(pl.col("threshold").alias(threshold_col))
        wide = wide.join(picked.select("criteria_set", S, "year", *cols), on=["criteria_set", S, "year"], how="left")
    for c in sorted({c.name for s in sets for c in s.criteria} - _WIDE_CRITERIA.keys()):
        picked = criteria.lazy().filter(pl.col("criterion") == c).select(
            "criteria_set", S, "year",
            pl.col("value").alias(f"{c}_value"),
            pl.col("threshold").alias(f"{c}_threshold"),
            pl.col("met").alias(f"{c}_met"),
        )
        wide = wide.join(picked, on=["criteria_set", S, "year"], how="left")
        extra_columns += [f"{c}_value", f"{c}_threshold", f"{c}_met"]
    wide = (
        wide.join(scores, on=["criteria_set", S, "year"], how="left")
        .with_columns(
            *[pl.col(c).cast(pl.Float64) for c in ("scale_threshold", "market_threshold", "employment_threshold")],
            *[pl.col(m).cast(pl.Boolean) for _, m in _WIDE_CRITERIA.values()],
        )
        .select(*WIDE_COLUMNS, *extra_columns)
        .sort("criteria_set", "year", S)
        .collect()
    )
    return criteria, wide


def _empty_criterion() -> pl.DataFrame:
    dtypes = [pl.String, pl.String, pl.Int32, pl.String, pl.String, pl.String, pl.String,
              pl.Float64, pl.Float64, pl.Float64, pl.Float64, pl.Boolean]
    return pl.DataFrame(schema=dict(zip(CRITERION_COLUMNS, dtypes, strict=True)))
