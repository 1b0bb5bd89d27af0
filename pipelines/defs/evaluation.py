"""The specialty-town evaluation against each criteria set (contract section 6)."""


import polars as pl
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from pipelines.defs.io import FrameBundle
from pipelines.defs.keys import ins
from pipelines.defs.metadata import frame_preview
from pipelines.evaluation.criteria import load_criteria_sets
from pipelines.evaluation.scoring import evaluate


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
