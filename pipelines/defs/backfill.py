"""Yearly and county × year partitions: recompute or backfill one year's indicators,
evaluation and published town table (or one county's towns of one year) without a full refresh.

The full refresh (job `refresh`) rebuilds everything from the raw area; this asset reads the
facts already in the warehouse for Y−1 and Y (Y−1 for year-over-year values, newly
above-scale firms and secondary suppression), the references from the raw area, and
replaces year Y's rows of the derived tables in one transaction.

`ind/county_year_recomputed` does the same for the towns of one county (ind_town_year and
pub_town_year, whose rows carry `county_code`): the unit a province deployment fans out on
Kubernetes, one pod per county and year (docs/deployment.md). It reads only the facts of the
units that can count in the county's towns (`county_fact_reads`), not the province's. The
county list is the shipped Shanxi reference (`pipelines/reference/data/towns.csv`).
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


def county_fact_reads(county: str, year: int) -> dict[str, tuple[str, dict[str, object]]]:
    """WHERE clause and bound parameters per fact table for one county's partition of `year`.

    Only the units (USCC) that could count in one of the county's towns in Y−1 or Y are read,
    and of each such unit every row of Y−1..Y: its enterprise reports, tax rows, enrolments
    (by `employer_uscc`) and its register entry. A unit's tax and insured persons go to its
    report town of the year, else its register town (contract section 5, `attribution.py`);
    market-entity counts use the register town. So a unit can be counted in one of the
    county's towns only if it reported in one of them in Y−1..Y or is registered in one, and
    for such a unit all the rows that decide where it counts (its reports in any town, its
    register entry) are read with it: attribution, year-over-year values and newly
    above-scale firms of the county's towns come out as from the whole province. Units read
    beyond that (see below) only add rows to towns whose results are dropped.

    - The county's towns: `dim_town.county_code` = county, or a town code (9 digits in the
      facts) whose first 6 digits are the county; `town_year` gives a town absent from
      `dim_town` the county of its prefix, and a prefix match of a town placed elsewhere in
      `dim_town` only reads a few units more.
    - The indicator years are the years with enterprise reports in the province (contract
      section 5), so one unit that reported in Y anywhere is read too: a county whose own units
      reported nothing in Y still gets its rows of Y (register counts, taxes, insured persons).
    - Secondary suppression (`publish_town_year`) works within a county, year and money column;
      the cells of the county's towns of Y−1 and Y have all their contributors in these rows.
    """

    towns = ("(town_code IN (SELECT town_code FROM dim_town WHERE county_code = :county) "
             "OR substr(town_code, 1, 6) = :county)")
    units = ("(SELECT uscc FROM fact_enterprise_year WHERE year BETWEEN :ya AND :yb AND " + towns
             + " UNION SELECT uscc FROM fact_market_entity WHERE " + towns
             + " UNION SELECT min(uscc) FROM fact_enterprise_year WHERE year = :yb)")
    params: dict[str, object] = {"ya": year - 1, "yb": year, "pa": f"{year - 1}-01", "pb": f"{year}-12",
                                 "county": county}
    return {
        "fact_enterprise_year": ("year BETWEEN :ya AND :yb AND uscc IN " + units, params),
        "fact_tax_month": ("period BETWEEN :pa AND :pb AND uscc IN " + units, params),
        "fact_employment_month": ("period BETWEEN :pa AND :pb AND employer_uscc IN " + units, params),
        "fact_market_entity": ("uscc IN " + units, params),
    }


def _recompute(url: str, raw_root, year: int, county: str | None = None) -> dict[str, int]:
    """Year `year`'s derived rows from the facts in the warehouse; one county's if given
    (then only the facts of the units that can count in its towns, `county_fact_reads`)."""

    if county is None:
        span = {"a": year - 1, "b": year}
        periods = {"a": f"{year - 1}-01", "b": f"{year}-12"}
        enterprise = read_table(url, "fact_enterprise_year", "year BETWEEN :a AND :b", span)
        tax = read_table(url, "fact_tax_month", "period BETWEEN :a AND :b", periods)
        employment = read_table(url, "fact_employment_month", "period BETWEEN :a AND :b", periods)
        registry = read_table(url, "fact_market_entity")
    else:
        reads = county_fact_reads(county, year)
        enterprise, tax, employment, registry = (
            read_table(url, name, *reads[name]) for name in
            ("fact_enterprise_year", "fact_tax_month", "fact_employment_month", "fact_market_entity"))
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
