"""eval_target (contract v4 section 6.2): the county's yearly targets and the progress towards them.

One row per accepted target (`reference/targets.csv` / `.xlsx`, read by
`pipelines.ingest.references`): the target, the indicator's actual value from ind_town_year or
ind_specialty_town_year, attainment and met; for `tax_total` and `insured_persons`, which the
monthly files feed long before the annual reports arrive, the progress within the year:

- latest_period: the last month of Y in any tax row (tax_total) or enrolment row
  (insured_persons) of the whole area;
- to_date: the id's taxpayers' total_tax over the months of Y up to latest_period, or the
  distinct persons enrolled in latest_period at the id's employers;
- to_date_prev: the same over the same months (the same month) of Y-1.

A taxpayer's or employer's town in a year is its report town of that year, else its register
town (`attach_unit_town`, contract section 5). A specialty town's members in a year are its
members of that year's reports, or, in a year without enterprise reports, of the latest earlier
report year (`member_years`). The two large facts are read lazily and filtered to the periods
needed before anything else is done with them.
"""

from __future__ import annotations

import polars as pl

from pipelines.indicators.attribution import attach_unit_town
from pipelines.indicators.catalogue import KEYS, indicators
from pipelines.indicators.catalogue import SPECIALTY_TOWN_ID as S
from pipelines.indicators.memo import NO_MEMO, Memo
from pipelines.indicators.passes import grouped_in_passes, passes_for
from pipelines.indicators.specialty import in_area, specialty_industries
from pipelines.indicators.town import indicator_years
from pipelines.ingest.references import TARGET_TABLES
from pipelines.lazy import Frame, lazy

#: A level's indicator table (as the targets file's reader declares it) and the column of its ids.
LEVEL_TABLES = {level: (table, KEYS[table][0]) for level, table in TARGET_TABLES.items()}

#: The indicators with progress within the year, and the fact that feeds each.
PROGRESS = {"tax_total": "tax", "insured_persons": "employment"}

KEY = ["level", "id", "year", "indicator"]
SCHEMA: dict[str, pl.DataType] = {
    "level": pl.String(), "id": pl.String(), "year": pl.Int32(), "indicator": pl.String(),
    "target": pl.Float64(), "actual": pl.Float64(), "attainment": pl.Float64(),
    "met": pl.Boolean(), "latest_period": pl.String(), "to_date": pl.Float64(),
    "to_date_prev": pl.Float64(),
}
_PROGRESS_SCHEMA = {"level": pl.String(), "id": pl.String(), "year": pl.Int32(),
                    "indicator": pl.String(), "to_date": pl.Float64(), "to_date_prev": pl.Float64()}


def _int32(values) -> pl.Series:
    return pl.Series(sorted(set(values)), dtype=pl.Int32)


def actual_values(level: str, ind: Frame) -> pl.LazyFrame:
    """(level, id, year, indicator, actual): every indicator cell of an ind_* table, long."""
    table, id_col = LEVEL_TABLES[level]
    names = [i.name for i in indicators(table)]
    return (
        lazy(ind)
        .select(pl.col(id_col).cast(pl.String).alias("id"), pl.col("year").cast(pl.Int32),
                *[pl.col(n).cast(pl.Float64) for n in names])
        .unpivot(index=["id", "year"], on=names, variable_name="indicator", value_name="actual")
        .with_columns(pl.lit(level).alias("level"))
    )


def latest_periods(fact: Frame, years: list[int]) -> pl.LazyFrame:
    """(year, latest_period): the last month of each year in `years` present in the fact."""
    if not years:
        return pl.LazyFrame(schema={"year": pl.Int32, "latest_period": pl.String})
    return (
        lazy(fact)
        .filter(pl.col("year").cast(pl.Int32).is_in(_int32(years).implode()))
        .group_by(pl.col("year").cast(pl.Int32))
        .agg(pl.col("period").max().alias("latest_period"))
    )


def _windows(latest: pl.DataFrame) -> pl.DataFrame:
    """(target_year, which, year, last): the months to add up for each target year: `cur`, the
    months of Y up to latest_period; `prev`, the same months of Y-1 (`last` is the last one)."""
    month = pl.col("latest_period").str.slice(5, 2)
    cur = latest.select(pl.col("year").alias("target_year"), pl.lit("cur").alias("which"),
                        pl.col("year"), pl.col("latest_period").alias("last"))
    prev = latest.select(pl.col("year").alias("target_year"), pl.lit("prev").alias("which"),
                         (pl.col("year") - 1).cast(pl.Int32).alias("year"),
                         pl.format("{}-{}", (pl.col("year") - 1).cast(pl.String), month).alias("last"))
    return pl.concat([cur, prev]).with_columns(pl.col("target_year").cast(pl.Int32),
                                               pl.col("year").cast(pl.Int32))


def member_years(report_years: list[int], years: list[int]) -> pl.DataFrame:
    """(year, member_year): the report year whose members stand for year Y's: Y when it has
    enterprise reports, else the latest earlier report year (none: no members)."""
    rows = []
    for y in sorted(set(years)):
        earlier = [r for r in report_years if r <= y]
        if earlier:
            rows.append((y, max(earlier)))
    return pl.DataFrame(rows, schema={"year": pl.Int32, "member_year": pl.Int32}, orient="row")


def specialty_members(enterprise: Frame, specialty_towns: Frame, report_years: list[int],
                      years: list[int]) -> pl.LazyFrame:
    """(specialty_town_id, year, uscc): S's members standing for year Y (contract sections 5.2
    and 6.2), for each Y in `years`."""
    mapping = member_years(report_years, years)
    needed = mapping["member_year"].unique()
    members = (
        in_area(
            lazy(enterprise)
            .with_columns(pl.col("year").cast(pl.Int32))
            .filter(pl.col("year").is_in(needed.implode()))
            .select("year", "uscc", "town_code", "industry_code"),
            specialty_towns,
        )
        .join(specialty_industries(specialty_towns), on=[S, "industry_code"], how="inner")
        .select(S, pl.col("year").alias("member_year"), "uscc")
        .unique()
    )
    return mapping.lazy().join(members, on="member_year", how="inner").select(S, "year", "uscc")


def _attributed(rows: pl.LazyFrame, uscc_col: str, levels: set[str], enterprise: Frame,
                registry: Frame, members: pl.LazyFrame | None) -> list[tuple[str, pl.LazyFrame]]:
    """`rows` (with year and `uscc_col`) paired with the ids they count for, per level."""
    out = []
    if "town" in levels:
        town = attach_unit_town(rows, enterprise, registry, uscc_col)
        out.append(("town", town.filter(pl.col("town_code").is_not_null())
                    .rename({"town_code": "id"})))
    if "specialty_town" in levels and members is not None:
        st = rows.with_columns(pl.col("year").cast(pl.Int32)).join(
            members.rename({"uscc": uscc_col}), on=["year", uscc_col], how="inner")
        out.append(("specialty_town", st.rename({S: "id"})))
    return out


def _to_date_tax(tax: Frame, windows: pl.DataFrame, levels: set[str], enterprise: Frame,
                 registry: Frame, members: pl.LazyFrame | None) -> pl.LazyFrame:
    """(level, id, target_year, which, value): total_tax of the id's taxpayers in each window."""
    per_taxpayer = (
        lazy(tax)
        .filter(pl.col("year").cast(pl.Int32).is_in(windows["year"].unique().implode()))
        .select(pl.col("year").cast(pl.Int32), "period", "uscc", "total_tax")
        .join(windows.lazy(), on="year", how="inner")
        .filter(pl.col("period") <= pl.col("last"))
        .group_by("target_year", "which", "year", "uscc")
        .agg(pl.col("total_tax").sum().round(2).alias("total"))
    )
    parts = [
        rows.group_by("id", "target_year", "which")
        .agg(pl.col("total").sum().round(2).alias("value"))
        .with_columns(pl.lit(level).alias("level"))
        for level, rows in _attributed(per_taxpayer, "uscc", levels, enterprise, registry, members)
    ]
    return pl.concat(parts, how="diagonal") if parts else _no_values()


def _to_date_insured(employment: Frame, windows: pl.DataFrame, levels: set[str], enterprise: Frame,
                     registry: Frame, members: pl.LazyFrame | None) -> pl.LazyFrame:
    """(level, id, target_year, which, value): distinct persons enrolled in each window's last
    month at the id's employers. Only the months asked for are read from the enrolment rows."""
    months = windows.select("target_year", "which", "year", pl.col("last").alias("period"))
    read = (  # distinct rows already: the fact's key is (period, person_key, employer_uscc)
        lazy(employment)
        .filter(pl.col("period").is_in(months["period"].unique().implode()))
        .select("period", "employer_uscc", "person_key")
    )
    enrolled = read.join(months.lazy(), on="period", how="inner")
    passes = passes_for(read)
    parts = [
        grouped_in_passes(rows, ["id", "target_year", "which"],
                          [pl.col("person_key").n_unique().cast(pl.Float64).alias("value")], passes)
        .with_columns(pl.lit(level).alias("level"))
        for level, rows in _attributed(enrolled, "employer_uscc", levels, enterprise, registry,
                                       members)
    ]
    return pl.concat(parts, how="diagonal").lazy() if parts else _no_values()


def _no_values() -> pl.LazyFrame:
    return pl.LazyFrame(schema={"id": pl.String, "target_year": pl.Int32, "which": pl.String,
                                "value": pl.Float64, "level": pl.String})


def _progress(targets: pl.DataFrame, indicator: str, fact: Frame, enterprise: Frame,
              registry: Frame, specialty_towns: Frame, report_years: list[int], memo: Memo = NO_MEMO
              ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(year, indicator, latest_period) and (level, id, year, indicator, to_date, to_date_prev)
    for the targets of one progress indicator; the two scans of the fact go through `memo`."""
    wanted = targets.filter(pl.col("indicator") == indicator)
    latest = memo(f"target_latest_{indicator}",
                  latest_periods(fact, wanted["year"].unique().sort().to_list())).collect()
    latest_out = latest.with_columns(pl.lit(indicator).alias("indicator"))
    wanted = wanted.join(latest.select("year"), on="year", how="semi")
    if wanted.height == 0:
        return latest_out, pl.DataFrame(schema=_PROGRESS_SCHEMA)
    windows = _windows(latest.join(wanted.select("year").unique(), on="year", how="semi"))
    levels = set(wanted["level"].unique().to_list())
    members = None
    if "specialty_town" in levels:
        members = specialty_members(enterprise, specialty_towns, report_years,
                                    windows["year"].unique().to_list())
    compute = _to_date_tax if PROGRESS[indicator] == "tax" else _to_date_insured
    values = memo(f"target_to_date_{indicator}",
                  lambda: compute(fact, windows, levels, enterprise, registry, members).collect()).collect()
    wide = (
        wanted.select("level", "id", "year", "indicator")
        .join(values.filter(pl.col("which") == "cur").select(
            "level", "id", pl.col("target_year").alias("year"), pl.col("value").alias("to_date")),
            on=["level", "id", "year"], how="left")
        .join(values.filter(pl.col("which") == "prev").select(
            "level", "id", pl.col("target_year").alias("year"), pl.col("value").alias("to_date_prev")),
            on=["level", "id", "year"], how="left")
        # a sum or a count over nothing is 0 (contract section 5)
        .with_columns(pl.col("to_date").fill_null(0.0), pl.col("to_date_prev").fill_null(0.0))
    )
    return latest_out, wide.cast(_PROGRESS_SCHEMA)


def target_table(
    targets: pl.DataFrame,
    ind_town: Frame,
    ind_specialty: Frame,
    tax_fact: Frame,
    employment_fact: Frame,
    enterprise_fact: Frame,
    registry_fact: Frame,
    specialty_towns: Frame,
    memo_enrolment: Memo = NO_MEMO,
) -> pl.DataFrame:
    """Build eval_target (contract section 6.2), one row per accepted target, key (level, id,
    year, indicator), columns as in `SCHEMA`.

    `memo_enrolment` keeps the progress of `insured_persons` (two scans of the enrolment fact,
    ~2.5 s a night at province scale): it must be keyed by the enrolment, enterprise and
    register facts and the reference tables, everything that progress is computed from.

    actual: the indicator from ind_town_year (level town) or ind_specialty_town_year (level
    specialty_town) for that id and year, null without such a row; attainment = actual /
    target, null when actual is null or target <= 0; met = actual >= target, false when actual
    is null. latest_period, to_date and to_date_prev for tax_total and insured_persons (null
    for the other indicators and when the year has no tax or enrolment row at all).
    """
    t = targets.select(
        pl.col("level").cast(pl.String), pl.col("id").cast(pl.String),
        pl.col("year").cast(pl.Int32), pl.col("indicator").cast(pl.String),
        pl.col("target").cast(pl.Float64),
    )
    if t.height == 0:
        return pl.DataFrame(schema=SCHEMA)
    actual = pl.concat([actual_values("town", ind_town), actual_values("specialty_town", ind_specialty)],
                       how="diagonal").select(KEY + ["actual"])
    out = t.lazy().join(actual, on=KEY, how="left").collect()

    report_years = indicator_years(enterprise_fact)
    latest_parts, progress_parts = [], []
    facts = {"tax": tax_fact, "employment": employment_fact}
    for indicator, source in PROGRESS.items():
        if t.filter(pl.col("indicator") == indicator).height == 0:
            continue
        latest, progress = _progress(t, indicator, facts[source], enterprise_fact, registry_fact,
                                     specialty_towns, report_years,
                                     memo_enrolment if source == "employment" else NO_MEMO)
        latest_parts.append(latest.select("year", "indicator", "latest_period"))
        progress_parts.append(progress)
    if latest_parts:
        out = out.join(pl.concat(latest_parts), on=["year", "indicator"], how="left")
        out = out.join(pl.concat(progress_parts), on=KEY, how="left")
    else:
        out = out.with_columns(pl.lit(None, dtype=pl.String).alias("latest_period"),
                               pl.lit(None, dtype=pl.Float64).alias("to_date"),
                               pl.lit(None, dtype=pl.Float64).alias("to_date_prev"))
    return (
        out.with_columns(
            pl.when(pl.col("actual").is_not_null() & (pl.col("target") > 0))
            .then(pl.col("actual") / pl.col("target")).alias("attainment"),
            (pl.col("actual") >= pl.col("target")).fill_null(False).alias("met"),
        )
        .select(list(SCHEMA))
        .cast(SCHEMA)
        .sort(KEY)
    )


def unevaluated_targets(targets: pl.DataFrame, table: pl.DataFrame) -> tuple[int, int]:
    """(accepted target rows missing from eval_target, eval_target rows with no target row)."""
    key = ["level", "id", "year", "indicator"]
    t = targets.select(key).with_columns(pl.col("year").cast(pl.Int32))
    e = table.select(key).with_columns(pl.col("year").cast(pl.Int32))
    return t.join(e, on=key, how="anti").height, e.join(t, on=key, how="anti").height


def attainment_mismatches(table: pl.DataFrame) -> int:
    """Rows whose attainment is not actual / target (null when actual is null or target ≤ 0)."""
    expected = (pl.when(pl.col("actual").is_null() | (pl.col("target") <= 0)).then(None)
                .otherwise(pl.col("actual") / pl.col("target")))
    differs = ((pl.col("attainment") - expected).abs() > 1e-9 * pl.col("attainment").abs().clip(lower_bound=1.0))
    null_mismatch = pl.col("attainment").is_null() != expected.is_null()
    return table.filter(differs.fill_null(False) | null_mismatch).height
