"""Yearly partitions: recompute or backfill one year's indicators, evaluation and published
town table without a full refresh.

The full refresh (job `refresh`) rebuilds everything from the raw area; this asset reads the
facts already in the warehouse for Y−1 and Y (Y−1 for year-over-year values, newly
above-scale firms and secondary suppression), the references from the raw area, and
replaces year Y's rows of the derived tables in one transaction.
"""

from dagster import (
    AssetExecutionContext,
    MetadataValue,
    Output,
    TimeWindowPartitionsDefinition,
    asset,
    define_asset_job,
)

from pipelines.defs.resources import RawArea, Warehouse

yearly = TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1 *", fmt="%Y", start="2000",
                                        timezone="Asia/Shanghai")


@asset(key=["ind", "year_recomputed"], group_name="backfill", partitions_def=yearly,
       kinds={"polars", "sql"},
       description="按年度重算指标、评价和公开表 / recompute one year's indicators, evaluation and "
                   "published town table from the facts in the warehouse")
def year_recomputed(context: AssetExecutionContext, raw_area: RawArea,
                    warehouse: Warehouse) -> Output[dict]:
    from pipelines.disclosure.suppression import publish_town_year
    from pipelines.evaluation.criteria import load_criteria_sets
    from pipelines.evaluation.scoring import evaluate
    from pipelines.indicators.specialty import specialty_town_year
    from pipelines.indicators.town import town_year
    from pipelines.ingest.inventory import scan_raw_area
    from pipelines.ingest.references import read_references
    from pipelines.warehouse.publish import read_table, replace_year

    year = int(context.partition_key)
    url = warehouse.url
    span = {"a": year - 1, "b": year}
    periods = {"a": f"{year - 1}-01", "b": f"{year}-12"}
    enterprise = read_table(url, "fact_enterprise_year", "year BETWEEN :a AND :b", span)
    tax = read_table(url, "fact_tax_month", "period BETWEEN :a AND :b", periods)
    employment = read_table(url, "fact_employment_month", "period BETWEEN :a AND :b", periods)
    registry = read_table(url, "fact_market_entity")
    refs = read_references([f for f in scan_raw_area(raw_area.root) if f.source == "reference"])
    towns = read_table(url, "dim_town")

    ind = town_year(enterprise, tax, employment, registry, towns)
    specialty = specialty_town_year(enterprise, tax, employment, registry, towns, refs.specialty_towns,
                                    refs.leading, refs.market_totals)
    criterion, wide = evaluate(specialty, refs.specialty_towns, load_criteria_sets())
    pub = publish_town_year(ind, enterprise, tax, registry, towns)

    def this_year(frame):
        return frame.filter(frame["year"] == year)

    counts = replace_year(url, {
        "ind_town_year": this_year(ind), "ind_specialty_town_year": this_year(specialty),
        "eval_criterion": this_year(criterion), "eval_specialty_town": this_year(wide),
        "pub_town_year": this_year(pub),
    }, year)
    return Output(counts, metadata={"year": year, "rows_replaced": MetadataValue.json(counts)})


recompute_year_job = define_asset_job(
    "recompute_year", selection=[year_recomputed],
    description="重算一个年度 / recompute one year (backfill a range of years from the UI)")
