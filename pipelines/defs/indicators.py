"""Indicators (contract section 5), with blocking invariant checks."""

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
from pipelines.indicators.invariants import table_problems, town_totals_problems
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
    ind = town_year(enterprise["fact"], tax.scan("taxpayer_year"), employment.scan("fact"), registry["fact"], refs["dim_town"],
                    memo)
    yield Output(ind, metadata={"dagster/row_count": ind.height, **memo_metadata(memo),
                                "years": MetadataValue.json(sorted(ind["year"].unique().to_list())),
                                "preview": frame_preview(ind)})
    problems = table_problems(ind, "ind_town_year")
    dup = ind.height - ind.select("town_code", "year").n_unique()
    yield AssetCheckResult(check_name="key_unique", asset_key=TOWN_KEY, passed=dup == 0,
                           severity=AssetCheckSeverity.ERROR, metadata={"duplicates": dup})
    problems = [p for p in problems if p != "duplicate key"]
    problems += town_totals_problems(ind, enterprise["fact"], refs["dim_town"])
    yield AssetCheckResult(check_name="counts_consistent", asset_key=TOWN_KEY, passed=not problems,
                           severity=AssetCheckSeverity.ERROR, metadata={"problems": "; ".join(problems) or "none"})


@asset(key=SPECIALTY_KEY, group_name="indicators", kinds={"polars"}, ins=ins(*FACTS, "refs"),
       check_specs=[AssetCheckSpec("key_and_shares", asset=SPECIALTY_KEY, blocking=True,
                                   description="key unique; leading ≤ members; market share between 0 and 1")],
       description="专业镇年度指标 / specialty-town indicators by year (ind_specialty_town_year)")
def ind_specialty_town_year(context: AssetExecutionContext, raw_area: RawArea, enterprise: FrameBundle,
                            tax: FrameBundle, employment: FrameBundle, registry: FrameBundle, refs: FrameBundle):
    memo = facts_memo(raw_area, refs, enterprise, employment, registry)
    ind = specialty_town_year(enterprise["fact"], tax.scan("taxpayer_year"), employment.scan("fact"), registry["fact"],
                              refs["dim_town"], refs["dim_specialty_town"], refs["ref_leading_enterprise"],
                              refs["ref_market_total"], memo)
    yield Output(ind, metadata={"dagster/row_count": ind.height, "preview": frame_preview(ind),
                                **memo_metadata(memo)})
    problems = table_problems(ind, "ind_specialty_town_year")
    yield AssetCheckResult(check_name="key_and_shares", asset_key=SPECIALTY_KEY, passed=not problems,
                           severity=AssetCheckSeverity.ERROR, metadata={"problems": "; ".join(problems) or "none"})
