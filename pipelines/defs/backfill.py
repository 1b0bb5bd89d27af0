"""Yearly and county × year partitions: recompute or backfill one year's indicators,
evaluation and published town table (or one county's towns of one year) without a full refresh.

The full refresh (job `refresh`) rebuilds everything from the raw area; this asset reads the
facts already in the warehouse for Y−1 and Y (Y−1 for year-over-year values, newly
above-scale firms and secondary suppression), the references from the raw area, and
replaces year Y's rows of the derived tables in one transaction.

`ind/county_year_recomputed` does the same for the towns of one county (ind_town_year and
pub_town_year, whose rows carry `county_code`): the unit a province deployment fans out on
Kubernetes, one pod per county and year (docs/deployment.md). The county list is the shipped
Shanxi reference (`pipelines/reference/data/towns.csv`).
"""

from functools import cache

import polars as pl
from dagster import (
    AssetExecutionContext,
    MetadataValue,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    Output,
    StaticPartitionsDefinition,
    TimeWindowPartitionsDefinition,
    asset,
    define_asset_job,
)

from pipelines.defs.executors import job_executor
from pipelines.defs.resources import RawArea, Warehouse
from pipelines.disclosure.suppression import publish_town_year
from pipelines.evaluation.criteria import load_criteria_sets
from pipelines.evaluation.gap import gap_table
from pipelines.evaluation.scoring import evaluate
from pipelines.evaluation.targets import target_table
from pipelines.indicators.specialty import specialty_town_year
from pipelines.indicators.town import town_year
from pipelines.ingest.inventory import scan_raw_area
from pipelines.ingest.references import read_references
from pipelines.reference import TOWNS_CSV
from pipelines.warehouse.publish import replace_year
from pipelines.warehouse.read import read_table

yearly = TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1 *", fmt="%Y", start="2000",
                                        timezone="Asia/Shanghai")


@cache
def county_codes() -> list[str]:
    """Every county-level code of the shipped reference (Shanxi: 117)."""

    return pl.read_csv(TOWNS_CSV, infer_schema=False)["county_code"].unique().sort().to_list()


county_year = MultiPartitionsDefinition({
    "county": StaticPartitionsDefinition(county_codes()),
    "year": yearly,
})


def _recompute(url: str, raw_root, year: int, county: str | None = None) -> dict[str, int]:
    """Year `year`'s derived rows from the facts in the warehouse; one county's if given."""

    span = {"a": year - 1, "b": year}
    periods = {"a": f"{year - 1}-01", "b": f"{year}-12"}
    enterprise = read_table(url, "fact_enterprise_year", "year BETWEEN :a AND :b", span)
    tax = read_table(url, "fact_tax_month", "period BETWEEN :a AND :b", periods)
    employment = read_table(url, "fact_employment_month", "period BETWEEN :a AND :b", periods)
    registry = read_table(url, "fact_market_entity")
    towns = read_table(url, "dim_town")
    ind = town_year(enterprise, tax, employment, registry, towns)
    pub = publish_town_year(ind, enterprise, tax, registry, towns)

    def rows(frame: pl.DataFrame) -> pl.DataFrame:
        frame = frame.filter(pl.col("year") == year)
        return frame if county is None else frame.filter(pl.col("county_code") == county)

    frames = {"ind_town_year": rows(ind), "pub_town_year": rows(pub)}
    if county is None:
        refs = read_references([f for f in scan_raw_area(raw_root) if f.source == "reference" and f.problem is None])
        specialty = specialty_town_year(enterprise, tax, employment, registry, towns, refs.specialty_towns,
                                        refs.leading, refs.market_totals)
        sets = load_criteria_sets()
        criterion, wide = evaluate(specialty, refs.specialty_towns, sets)
        frames |= {"ind_specialty_town_year": rows(specialty), "eval_criterion": rows(criterion),
                   "eval_specialty_town": rows(wide),
                   "eval_gap": rows(gap_table(specialty, refs.specialty_towns, sets)),
                   "eval_target": rows(target_table(refs.targets, ind, specialty, tax, employment, enterprise,
                                                    registry, refs.specialty_towns))}
    return replace_year(url, frames, year, county=county)


@asset(key=["ind", "year_recomputed"], group_name="backfill", partitions_def=yearly,
       kinds={"polars", "sql"},
       description="按年度重算指标、评价和公开表 / recompute one year's indicators, evaluation and "
                   "published town table from the facts in the warehouse")
def year_recomputed(context: AssetExecutionContext, raw_area: RawArea,
                    warehouse: Warehouse) -> Output[dict]:
    year = int(context.partition_key)
    counts = _recompute(warehouse.url, raw_area.root, year)
    return Output(counts, metadata={"year": year, "rows_replaced": MetadataValue.json(counts)})


recompute_year_job = define_asset_job(
    "recompute_year", selection=[year_recomputed], executor_def=job_executor(),
    description="重算一个年度 / recompute one year (backfill a range of years from the UI)")


@asset(key=["ind", "county_year_recomputed"], group_name="backfill", partitions_def=county_year,
       kinds={"polars", "sql"},
       description="按县、年度重算乡镇指标和公开表 / recompute one county's town indicators and "
                   "published town rows for one year")
def county_year_recomputed(context: AssetExecutionContext, raw_area: RawArea,
                           warehouse: Warehouse) -> Output[dict]:
    key = context.partition_key
    assert isinstance(key, MultiPartitionKey)
    county, year = key.keys_by_dimension["county"], int(key.keys_by_dimension["year"])
    counts = _recompute(warehouse.url, raw_area.root, year, county)
    return Output(counts, metadata={"county": county, "year": year,
                                    "rows_replaced": MetadataValue.json(counts)})


recompute_county_year_job = define_asset_job(
    "recompute_county_year", selection=[county_year_recomputed], executor_def=job_executor(),
    description="按县和年度重算 / recompute one county and year (the province fan-out unit)")
