"""Reference lists shipped with the package: Shanxi towns and GB/T 4754-2017 classes.

The towns list is the project's default `towns.csv` (used when the raw area has none);
the industry list is the only source of valid industry classes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

DATA_DIR = Path(__file__).parent / "data"
TOWNS_CSV = DATA_DIR / "towns.csv"
INDUSTRY_CSV = DATA_DIR / "industry_gbt4754_2017.csv"

TOWN_COLUMNS = [
    "town_code",
    "town_name",
    "county_code",
    "county_name",
    "city_code",
    "city_name",
    "province_code",
    "province_name",
]


@cache
def shipped_towns() -> pl.DataFrame:
    """All 1,352 township-level units of Shanxi (NBS 2022 statistical division codes)."""
    return pl.read_csv(TOWNS_CSV, infer_schema=False).select(TOWN_COLUMNS)


@cache
def industry_table() -> pl.DataFrame:
    """The whole GB/T 4754-2017 hierarchy: code, name, level, section, parent."""
    return pl.read_csv(INDUSTRY_CSV, infer_schema=False)


@cache
def industry_classes() -> pl.DataFrame:
    """The 4-digit classes (小类) with their section letter and 2-digit division."""
    return (
        industry_table()
        .filter(pl.col("level") == "class")
        .select(
            pl.col("code").alias("industry_code"),
            pl.col("name").alias("industry_name"),
            "section",
            pl.col("code").str.slice(0, 2).alias("division"),
        )
    )
