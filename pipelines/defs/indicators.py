"""Indicators (contract section 5), with blocking invariant checks."""

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MetadataValue,
    Output,
    asset,
)

from pipelines.defs.io import FrameBundle
from pipelines.defs.keys import FACTS, ins
from pipelines.defs.memo import facts_memo, memo_metadata
from pipelines.defs.metadata import frame_preview
from pipelines.defs.resources import RawArea
from pipelines.indicators.specialty import specialty_town_year
from pipelines.indicators.town import town_year

TOWN_KEY = AssetKey(["ind", "town_year"])

SPECIALTY_KEY = AssetKey(["ind", "specialty_town_year"])


@asset(key=TOWN_KEY, group_name="indicators", kinds={"polars"}, ins=ins(*FACTS, "refs"),
       check_specs=[
           AssetCheckSpec("key_unique", asset=TOWN_KEY, blocking=True),
           AssetCheckSpec("counts_consistent", asset=TOWN_KEY, blocking=True,
                          description="town sums equal county totals and the fact totals; "
                                      "local ≤ insured; counts ≥ 0"),
       ],
       description="乡镇年度指标 / town indicators by year (ind_town_year)")
def ind_town_year(context: AssetExecutionContext, raw_area: RawArea, enterprise: FrameBundle, tax: FrameBundle,
                  employment: FrameBundle, registry: FrameBundle, refs: FrameBundle):
    memo = facts_memo(raw_area, refs, enterprise, employment, registry)
    ind = town_year(enterprise["fact"], tax.scan("fact"), employment.scan("fact"), registry["fact"], refs["dim_town"],
                    memo)
    yield Output(ind, metadata={"dagster/row_count": ind.height, **memo_metadata(memo),
                                "years": MetadataValue.json(sorted(ind["year"].unique().to_list())),
                                "preview": frame_preview(ind)})
    dup = ind.height - ind.select("town_code", "year").n_unique()
    yield AssetCheckResult(check_name="key_unique", asset_key=TOWN_KEY, passed=dup == 0,
                           severity=AssetCheckSeverity.ERROR, metadata={"duplicates": dup})
    years = ind["year"].unique()
    ent = enterprise["fact"].filter(pl.col("year").is_in(years.implode()))
    expected_enterprises = ent.height
    problems = []
    if int(ind["enterprises"].sum()) != expected_enterprises:
        problems.append(f"enterprises {int(ind['enterprises'].sum())} != {expected_enterprises}")
    # town sums equal county sums: every enterprise row lands in exactly one town of its county
    by_county = ind.group_by("county_code", "year").agg(pl.col("output_value").sum().alias("towns"))
    facts = (ent.join(refs["dim_town"].select("town_code", "county_code"), on="town_code")
             .group_by("county_code", "year").agg(pl.col("output_value").sum().alias("facts")))
    mismatch = by_county.join(facts, on=["county_code", "year"], how="full", coalesce=True).filter(
        (pl.col("towns").fill_null(0) - pl.col("facts").fill_null(0)).abs() > 0.01)
    if mismatch.height:
        problems.append(f"output_value: town sums differ from county totals in {mismatch.height} county-years")
    if ind.filter(pl.col("local_insured_persons") > pl.col("insured_persons")).height:
        problems.append("local_insured_persons > insured_persons")
    counts = ["enterprises", "above_scale_enterprises", "insured_persons", "market_entities"]
    if ind.filter(pl.any_horizontal(pl.col(c) < 0 for c in counts)).height:
        problems.append("negative count")
    yield AssetCheckResult(check_name="counts_consistent", asset_key=TOWN_KEY, passed=not problems,
                           severity=AssetCheckSeverity.ERROR, metadata={"problems": "; ".join(problems) or "none"})


@asset(key=SPECIALTY_KEY, group_name="indicators", kinds={"polars"}, ins=ins(*FACTS, "refs"),
       check_specs=[AssetCheckSpec("key_and_shares", asset=SPECIALTY_KEY, blocking=True,
                                   description="key unique; leading ≤ members; market share between 0 and 1")],
       description="专业镇年度指标 / specialty-town indicators by year (ind_specialty_town_year)")
def ind_specialty_town_year(context: AssetExecutionContext, raw_area: RawArea, enterprise: FrameBundle,
                            tax: FrameBundle, employment: FrameBundle, registry: FrameBundle, refs: FrameBundle):
    memo = facts_memo(raw_area, refs, enterprise, employment, registry)
    ind = specialty_town_year(enterprise["fact"], tax.scan("fact"), employment.scan("fact"), registry["fact"],
                              refs["dim_town"], refs["dim_specialty_town"], refs["ref_leading_enterprise"],
                              refs["ref_market_total"], memo)
    yield Output(ind, metadata={"dagster/row_count": ind.height, "preview": frame_preview(ind),
                                **memo_metadata(memo)})
    problems = []
    if ind.height != ind.select("specialty_town_id", "year").n_unique():
        problems.append("duplicate key")
    if ind.filter(pl.col("leading_enterprises") > pl.col("member_enterprises")).height:
        problems.append("leading > members")
    if ind.filter((pl.col("market_share") < 0) | (pl.col("market_share") > 1)).height:
        problems.append("market share outside [0, 1]")
    yield AssetCheckResult(check_name="key_and_shares", asset_key=SPECIALTY_KEY, passed=not problems,
                           severity=AssetCheckSeverity.ERROR, metadata={"problems": "; ".join(problems) or "none"})
