"""Above-scale (规模以上/限额以上) revenue thresholds by industry, contract section 2.1.

The National Bureau of Statistics' thresholds, kept as data in this one place. A rule
matches a 4-digit class by its class code, its 2-digit division, its 3-character
"section+division" form (F51) or its section letter; the most specific match wins.
Industries that match nothing have no revenue threshold and are never above scale.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from pipelines.reference import industry_classes

# (selector, threshold in yuan). Selector: section letter "B", division "51" with its
# section ("F51"), division "84", or class "7020".
THRESHOLDS: list[tuple[str, float]] = [
    # industry; wholesale; transport, software, leasing, water & environment; health
    ("B", 20_000_000), ("C", 20_000_000), ("D", 20_000_000),
    ("F51", 20_000_000), ("G", 20_000_000), ("I", 20_000_000), ("N", 20_000_000),
    ("84", 20_000_000),
    # real estate, leasing and business services, science, education; property services
    ("L", 10_000_000), ("M", 10_000_000), ("P", 10_000_000),
    ("7020", 10_000_000), ("7030", 10_000_000), ("7040", 10_000_000), ("7090", 10_000_000),
    # retail; residents' services, culture and sport; social work
    ("F52", 5_000_000), ("O", 5_000_000), ("R", 5_000_000), ("85", 5_000_000),
    # accommodation and catering
    ("H", 2_000_000),
]


@cache
def threshold_table() -> pl.DataFrame:
    """industry_code -> revenue threshold (yuan); classes without a threshold are absent."""
    classes = industry_classes()
    by_class = {s: t for s, t in THRESHOLDS if len(s) == 4}
    by_division = {s[-2:]: t for s, t in THRESHOLDS if len(s) in (2, 3) and s[-2:].isdigit()}
    by_section = {s: t for s, t in THRESHOLDS if len(s) == 1}
    expr = (
        pl.col("industry_code").replace_strict(by_class, default=None, return_dtype=pl.Float64)
        .fill_null(pl.col("division").replace_strict(by_division, default=None,
                                                     return_dtype=pl.Float64))
        .fill_null(pl.col("section").replace_strict(by_section, default=None,
                                                    return_dtype=pl.Float64))
    )
    return (
        classes.select("industry_code", expr.alias("above_scale_threshold"))
        .filter(pl.col("above_scale_threshold").is_not_null())
    )


def above_scale_expr(revenue: str = "revenue", threshold: str = "above_scale_threshold") -> pl.Expr:
    """revenue ≥ threshold; false when the industry has no threshold or revenue is null."""
    return (pl.col(revenue) >= pl.col(threshold)).fill_null(False)
