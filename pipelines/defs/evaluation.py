"""The specialty-town evaluation against each criteria set (contract section 6)."""


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
from pipelines.defs.keys import ins
from pipelines.defs.memo import facts_memo, memo_metadata
from pipelines.defs.metadata import frame_preview
from pipelines.defs.resources import RawArea
from pipelines.echo import printable
from pipelines.evaluation.criteria import load_criteria_sets
from pipelines.evaluation.gap import gap_table, shortfall_mismatches
from pipelines.evaluation.progress import STATUS_ZH, progress_frame, target_names
from pipelines.evaluation.scoring import evaluate
from pipelines.evaluation.targets import attainment_mismatches, target_table, unevaluated_targets


@asset(key=["eval", "specialty_town"], group_name="evaluation", kinds={"polars"},
       ins=ins("refs", ind="ind_specialty"),
       description="专业镇认定标准评价 / evaluation against each criteria set "
                   "(eval_criterion, eval_specialty_town)")
def eval_specialty_town(context: AssetExecutionContext, ind: pl.DataFrame,
                        refs: FrameBundle) -> Output[dict[str, pl.DataFrame]]:
    sets = load_criteria_sets()
    criterion, wide = evaluate(ind, refs["dim_specialty_town"], sets)
    return Output({"eval_criterion": criterion, "eval_specialty_town": wide}, metadata={
        "criteria_sets": MetadataValue.json([s.name for s in sets]),
        "rows": wide.height,
        "all_met": int(wide["all_met"].sum()) if wide.height else 0,
        "preview": frame_preview(wide.select("criteria_set", "specialty_town_id", "year", "all_met",
                                             "score", "rank").sort("criteria_set", "year", "rank"), 20),
    })


GAP_KEY = AssetKey(["eval", "gap"])


@asset(key=GAP_KEY, group_name="evaluation", kinds={"polars"},
       ins=ins("refs", ind="ind_specialty"),
       check_specs=[AssetCheckSpec("shortfall_is_threshold_minus_value", asset=GAP_KEY, blocking=True,
                                   description="shortfall = max(0, threshold − value), the whole threshold "
                                               "when the value is missing (contract section 6.1)")],
       description="认定差距：各专业镇距认定标准还差多少 / distance to recognition (eval_gap)")
def eval_gap(context: AssetExecutionContext, ind: pl.DataFrame, refs: FrameBundle):
    sets = load_criteria_sets()
    gap = gap_table(ind, refs["dim_specialty_town"], sets)
    short = gap.filter(~pl.col("met"))
    yield Output(gap, metadata={
        "dagster/row_count": gap.height,
        "criteria_not_met": short.height,
        "specialty_towns_short": MetadataValue.json(
            sorted(short["specialty_town_id"].unique().to_list()) if short.height else []),
        "preview": frame_preview(short.sort("criteria_set", "year", "specialty_town_id"), 20),
    })
    wrong = shortfall_mismatches(gap)
    yield AssetCheckResult(check_name="shortfall_is_threshold_minus_value", asset_key=GAP_KEY,
                           passed=wrong == 0, severity=AssetCheckSeverity.ERROR,
                           metadata={"rows_wrong": wrong})


TARGETS_KEY = AssetKey(["eval", "targets"])


def _laggard_table(laggards: pl.DataFrame, limit: int = 50) -> str:
    """The laggards as a Markdown table for the asset's page (the first ``limit``)."""
    if laggards.is_empty():
        return "没有落后的目标 / no target behind"
    lines = ["| 名称 name | 年度 year | 指标 indicator | 目标 target | 实际/累计 actual/to date | 状态 status |",
             "|---|---|---|---|---|---|"]
    for r in laggards.head(limit).iter_rows(named=True):
        got = r["actual"] if r["actual"] is not None else r["to_date"]
        when = f"（截至 {r['latest_period']}）" if r["actual"] is None and r["latest_period"] else ""
        name = (printable(r["name"]) or "").replace("|", "｜")
        lines.append(f"| {name} | {r['year']} | {r['indicator_zh']} | {r['target']:,.2f} | "
                     f"{'' if got is None else f'{got:,.2f}'}{when} | {r['status_zh']} |")
    if laggards.height > limit:
        lines.append(f"\n另有 {laggards.height - limit} 项 / {laggards.height - limit} more")
    return "\n".join(lines)


@asset(key=TARGETS_KEY, group_name="evaluation", kinds={"polars"},
       ins=ins("refs", "enterprise", "tax", "employment", "registry", ind_town="ind_town",
               ind_specialty="ind_specialty"),
       check_specs=[AssetCheckSpec("every_target_evaluated", asset=TARGETS_KEY, blocking=True,
                                   description="every accepted target row is in eval_target (the rejected "
                                               "ones are in dq_rejected_row), and nothing else is"),
                    AssetCheckSpec("attainment_is_actual_over_target", asset=TARGETS_KEY, blocking=True,
                                   description="attainment = actual / target (null when actual is null or "
                                               "target ≤ 0), contract section 6.2")],
       description="年度目标与进度 / the county's targets and progress within the year (eval_target)")
def eval_target(context: AssetExecutionContext, raw_area: RawArea, refs: FrameBundle, enterprise: FrameBundle,
                tax: FrameBundle, employment: FrameBundle, registry: FrameBundle, ind_town: pl.DataFrame,
                ind_specialty: pl.DataFrame):
    targets = refs["ref_target"]
    # the progress of insured_persons is read back while enrolment, reports, register and references stand
    memo = facts_memo(raw_area, refs, enterprise, employment, registry)
    table = target_table(targets, ind_town, ind_specialty, tax.scan("fact"), employment.scan("fact"),
                         enterprise["fact"], registry["fact"], refs["dim_specialty_town"], memo)
    progress = progress_frame(table, target_names(refs["dim_town"], refs["dim_specialty_town"]))
    laggards = progress.filter(pl.col("laggard"))
    by_status = dict(progress.group_by("status").len().iter_rows())
    yield Output(table, metadata={
        "dagster/row_count": table.height,
        "targets_met": int(table["met"].sum()) if table.height else 0,
        "status": MetadataValue.json({f"{STATUS_ZH[k]} {k}": v for k, v in sorted(by_status.items())}),
        "laggards": MetadataValue.md(_laggard_table(laggards)),
        "preview": frame_preview(table, 20),
        **memo_metadata(memo),
    })
    missing, extra = unevaluated_targets(targets, table)
    yield AssetCheckResult(check_name="every_target_evaluated", asset_key=TARGETS_KEY,
                           passed=missing == extra == 0, severity=AssetCheckSeverity.ERROR,
                           metadata={"targets_not_evaluated": missing, "rows_without_target": extra})
    wrong = attainment_mismatches(table)
    yield AssetCheckResult(check_name="attainment_is_actual_over_target", asset_key=TARGETS_KEY,
                           passed=wrong == 0, severity=AssetCheckSeverity.ERROR, metadata={"rows_wrong": wrong})
