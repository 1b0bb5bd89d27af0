"""eval_gap: the distance to recognition, indicator by indicator (contract section 6.1).

One row per (criteria set, specialty town, year, indicator a criterion of the set reads):
value, threshold, shortfall = max(0, threshold - value) in the indicator's own unit (a null
value falls short by the whole threshold) and met (value >= threshold, or national_market).
A criterion with the national_market exception has, for a national-market town, a null
threshold, a shortfall of 0 and met true. Thresholds come from the criteria set, per
category, with the heritage exception, exactly as ``scoring`` reads them; a composite
criterion (concentration) gives each indicator it reads its own threshold.

``gap_lines`` says the same in words, Chinese first (还差 3 家关联配套企业、总产值还差 1.20 亿元).
"""

from __future__ import annotations

import math

import polars as pl

from pipelines.evaluation.criteria import CriteriaSet, Criterion
from pipelines.evaluation.scoring import _by_category
from pipelines.indicators.catalogue import SPECIALTY_TOWN_ID as S
from pipelines.indicators.catalogue import indicator, indicators

SPECIALTY_TABLE = "ind_specialty_town_year"
GAP_KEY = ["criteria_set", S, "year", "indicator"]
GAP_COLUMNS = [*GAP_KEY, "value", "threshold", "shortfall", "met"]


def _threshold(c: Criterion, name: str) -> pl.Expr:
    """The threshold of indicator ``name`` of criterion ``c`` for the row's category (the
    heritage exception replaces it for a heritage town; it exists only for one-indicator
    criteria, as in ``scoring._criterion_rows``)."""
    threshold = _by_category(c.thresholds[name])
    if c.heritage_threshold is not None and not c.composite:
        threshold = pl.when(pl.col("heritage")).then(_by_category(c.heritage_threshold)).otherwise(threshold)
    return threshold


def _gap_rows(frame: pl.LazyFrame, set_name: str, c: Criterion, name: str) -> pl.LazyFrame:
    """One row per (specialty town, year) for indicator ``name`` read by criterion ``c``."""
    national = pl.col("national_market") if c.national_market_met else pl.lit(False)
    value = pl.col("value")
    threshold = pl.col("threshold")
    passes = value >= threshold if c.comparison == ">=" else value > threshold
    return (
        frame.with_columns(
            pl.col(name).cast(pl.Float64).alias("value"),
            pl.when(national).then(pl.lit(None, dtype=pl.Float64)).otherwise(_threshold(c, name)).alias("threshold"),
        )
        .with_columns(
            pl.when(national)
            .then(pl.lit(0.0))
            .when(value.is_null())
            .then(threshold)
            .otherwise((threshold - value).clip(lower_bound=0.0))
            .alias("shortfall"),
            (national | passes.fill_null(False)).alias("met"),
        )
        .select(
            pl.lit(set_name).alias("criteria_set"),
            S,
            "year",
            pl.lit(name).alias("indicator"),
            "value",
            "threshold",
            "shortfall",
            "met",
        )
    )


def gap_table(ind_specialty: pl.DataFrame, specialty_towns: pl.DataFrame, sets: list[CriteriaSet]) -> pl.DataFrame:
    """eval_gap for every specialty town and year of ``ind_specialty`` (ind_specialty_town_year)
    and every criteria set of ``sets``; ``specialty_towns`` is dim_specialty_town (id,
    category, heritage, national_market). Rows are sorted by criteria set, year and specialty
    town, then in the order the set's criteria read their indicators."""
    towns = specialty_towns.lazy().select(
        pl.col("id").alias(S),
        "category",
        pl.col("heritage").fill_null(False),
        pl.col("national_market").fill_null(False),
    )
    frame = ind_specialty.lazy().join(towns, on=S, how="inner")
    parts = [_gap_rows(frame, s.name, c, name) for s in sets for c in s.criteria for name in c.reads]
    if not parts:
        return pl.DataFrame(schema={"criteria_set": pl.String, S: pl.String, "year": pl.Int32, "indicator": pl.String,
                                    "value": pl.Float64, "threshold": pl.Float64, "shortfall": pl.Float64,
                                    "met": pl.Boolean})
    return pl.concat(parts).sort("criteria_set", "year", S, maintain_order=True).collect()


# -- in words ---------------------------------------------------------------------------------

def _noun(name_zh: str) -> str:
    """龙头企业数 -> 龙头企业: the thing counted."""
    return name_zh[:-1] if name_zh.endswith("数") else name_zh


def _count(x: float) -> str:
    """A shortfall in whole units: 2.5 enterprises short means 3 more."""
    return str(math.ceil(x - 1e-9))


def _phrase(name: str, shortfall: float, value_missing: bool, exceeds: bool) -> tuple[str, str]:
    """(Chinese, English) for one indicator that is not met."""
    ind = indicator(SPECIALTY_TABLE, name)
    en_name = name.replace("_", " ")
    if shortfall <= 0 and exceeds:  # comparison '>' and the value equals the threshold
        zh, en = f"{ind.name_zh}须超过门槛", f"{en_name} must exceed the threshold"
    elif ind.kind == "count" and ind.unit == "家":
        n = _count(shortfall)
        zh, en = f"还差 {n} 家{_noun(ind.name_zh)}", f"{n} more {en_name}"
    elif ind.kind == "count":
        n = _count(shortfall)
        unit_en = "persons" if ind.unit == "人" else ind.unit
        zh, en = f"{ind.name_zh}还差 {n} {ind.unit}", f"{en_name} short by {n} {unit_en}"
    elif ind.kind == "money":
        zh = f"{ind.name_zh}还差 {shortfall / 1e8:.2f} 亿元"
        en = f"{en_name} short by {shortfall / 1e6:,.2f} million yuan"
    else:  # ratios and shares: percentage points
        zh = f"{ind.name_zh}还差 {shortfall * 100:.2f} 个百分点"
        en = f"{en_name} short by {shortfall * 100:.2f} percentage points"
    if value_missing:
        zh, en = f"{zh}（无数据）", f"{en} (no data)"
    return zh, en


#: Shortfalls are said in the catalogue's order (concentration, scale, market, employment), however
#: the rows were sorted when read back from the warehouse.
_ORDER = {i.name: n for n, i in enumerate(indicators(SPECIALTY_TABLE))}


def gap_lines(gap: pl.DataFrame, names: dict[str, str], set_name: str, year: int) -> list[str]:
    """What each specialty town lacks under ``set_name`` in ``year``, in words: for each town
    (by id) a Chinese line, then an English one, e.g.
    ``闻喜县玻璃器皿专业镇：还差 3 家关联配套企业、总产值还差 1.20 亿元`` and
    ``闻喜县玻璃器皿专业镇: 3 more supporting enterprises; output value short by 120.00 million yuan``.
    A town short of nothing reads ``已全部达标`` / ``meets every criterion``. ``names`` maps
    specialty_town_id to its name (the id stands in for a missing name)."""
    rows = gap.filter((pl.col("criteria_set") == set_name) & (pl.col("year") == year)).sort(
        S, pl.col("indicator").replace_strict(_ORDER, default=len(_ORDER)), "indicator")
    lines: list[str] = []
    for town in rows.partition_by(S, maintain_order=True):  # one pass: 135 towns in a province
        sid = town[S][0]
        name = names.get(sid, sid)
        short = town.filter(~pl.col("met"))
        if short.is_empty():
            lines += [f"{name}：已全部达标", f"{name}: meets every criterion"]
            continue
        zh, en = [], []
        for r in short.iter_rows(named=True):
            # '>' comparison at equality: shortfall 0 but not met
            exceeds = r["shortfall"] is not None and r["shortfall"] <= 0
            z, e = _phrase(r["indicator"], r["shortfall"] or 0.0, r["value"] is None, exceeds)
            zh.append(z)
            en.append(e)
        lines += [f"{name}：{'、'.join(zh)}", f"{name}: {'; '.join(en)}"]
    return lines


def shortfall_mismatches(gap: pl.DataFrame) -> int:
    """Rows whose shortfall is not max(0, threshold − value) (the whole threshold when the
    value is missing, 0 when there is no threshold): what the eval/gap check counts."""
    expected = (pl.when(pl.col("threshold").is_null()).then(0.0)
                .when(pl.col("value").is_null()).then(pl.col("threshold"))
                .otherwise((pl.col("threshold") - pl.col("value")).clip(lower_bound=0.0)))
    return gap.filter((pl.col("shortfall") - expected).abs().fill_null(1.0) > 1e-9).height
