"""Great Expectations before publication (blocking), and the reports people read after it."""

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
from pipelines.defs.resources import RawArea, Reports
from pipelines.quality import suite_process
from pipelines.reports.dashboard import write_dashboard
from pipelines.reports.quality_report import write_quality_report
from pipelines.reports.workbook import write_evaluation_workbook

GX_KEY = AssetKey(["dq", "expectations"])

# The tables the suite reads; the large monthly facts are not among them.
SUITE_TABLES = ("dim_town", "dim_specialty_town", "fact_enterprise_year", "ind_town_year",
                "ind_specialty_town_year", "eval_criterion", "eval_specialty_town", "pub_town_year",
                "dq_file", "dq_rejected_row", "dq_flag")


def suite_frames(refs: FrameBundle, enterprise: FrameBundle, ind_town: pl.DataFrame,
                 ind_specialty: pl.DataFrame, evaluation: FrameBundle, pub: pl.DataFrame,
                 dq: FrameBundle, flags: pl.DataFrame, scans: bool = False) -> dict[str, pl.DataFrame]:
    """The staged frames of `SUITE_TABLES`: what the suite checks and the reports show.

    `scans`: the frames of the bundles as scans of their staged Parquet (what the suite's worker
    process reads itself: 600,000 rejected rows are not pickled across)."""
    def part(bundle: FrameBundle, name: str) -> pl.DataFrame:
        return bundle.scan(name) if scans else bundle[name]

    frames = {
        "dim_town": part(refs, "dim_town"), "dim_specialty_town": part(refs, "dim_specialty_town"),
        "fact_enterprise_year": part(enterprise, "fact"), "ind_town_year": ind_town,
        "ind_specialty_town_year": ind_specialty, "eval_criterion": part(evaluation, "eval_criterion"),
        "eval_specialty_town": part(evaluation, "eval_specialty_town"), "pub_town_year": pub,
        "dq_file": part(dq, "dq_file"), "dq_rejected_row": part(dq, "dq_rejected_row"), "dq_flag": flags,
    }
    assert set(frames) == set(SUITE_TABLES)
    return frames


# The reports read the suite's tables and the county's goals besides.
REPORT_TABLES = (*SUITE_TABLES, "eval_gap", "eval_target")


@asset(key=GX_KEY, group_name="quality", kinds={"great_expectations"},
       ins=ins("refs", "enterprise", "ind_town", "ind_specialty", "evaluation", "pub", "dq", "flags"),
       check_specs=[AssetCheckSpec("critical_expectations", asset=GX_KEY, blocking=True,
                                   description="every critical GX expectation holds on the tables "
                                               "about to be published")],
       description="Great Expectations 套件：发布前在暂存库上校验 / the GX suite, run on a staging "
                   "copy of the tables before they are published")
def dq_expectations(context: AssetExecutionContext, reports: Reports, raw_area: RawArea, refs: FrameBundle,
                    enterprise: FrameBundle, ind_town: pl.DataFrame, ind_specialty: pl.DataFrame,
                    evaluation: FrameBundle, pub: pl.DataFrame, dq: FrameBundle, flags: pl.DataFrame):
    if not reports.expectations:
        yield Output({"skipped": True}, metadata={"status": "skipped (TOWNSTAT_GX=off)"})
        yield AssetCheckResult(check_name="critical_expectations", asset_key=GX_KEY, passed=True,
                               metadata={"status": "skipped"})
        return
    frames = suite_frames(refs, enterprise, ind_town, ind_specialty, evaluation, pub, dq, flags, scans=True)
    # in the suite's worker process when the run started one (GX imported there, off this GIL)
    result = suite_process.validate(frames, raw_area.cache_dir, reports.root / "data_docs", warn=context.log.warning)
    yield Output({"critical_failed": result.critical_failed, "warnings": result.warnings}, metadata={
        "expectations": len(result.results),
        "critical_failed": MetadataValue.json(result.critical_failed),
        "warnings": MetadataValue.json(result.warnings),
        "tables_unchanged_results_kept": MetadataValue.json(result.reused),
        "data_docs": MetadataValue.path(str(result.docs_index.resolve())),
    })
    yield AssetCheckResult(check_name="critical_expectations", asset_key=GX_KEY,
                           passed=not result.critical_failed, severity=AssetCheckSeverity.ERROR,
                           metadata={"failed": MetadataValue.json(result.critical_failed)})


@asset(key=["reports", "bureau"], group_name="reports", kinds={"html", "excel"},
       ins=ins("refs", "enterprise", "ind_town", "ind_specialty", "evaluation", "pub", "dq", "flags", "gap",
               "targets"),
       deps=[AssetKey(["warehouse", "published"])],
       description="数据质量报告、评价工作簿与图表 / the quality report, the evaluation workbook "
                   "and the dashboard, of what was just published")
def bureau_reports(context: AssetExecutionContext, reports: Reports, refs: FrameBundle,
                   enterprise: FrameBundle, ind_town: pl.DataFrame, ind_specialty: pl.DataFrame,
                   evaluation: FrameBundle, pub: pl.DataFrame, dq: FrameBundle,
                   flags: pl.DataFrame, gap: pl.DataFrame, targets: pl.DataFrame) -> Output[dict]:

    # the frames just published (the same rows `townstat report` reads back from the warehouse)
    frames = {**suite_frames(refs, enterprise, ind_town, ind_specialty, evaluation, pub, dq, flags),
              "eval_gap": gap, "eval_target": targets}
    assert set(frames) == set(REPORT_TABLES)
    root = reports.root
    root.mkdir(parents=True, exist_ok=True)
    written = {"quality_report": write_quality_report(frames, root / "quality.html"),
               "dashboard": write_dashboard(frames, root / "dashboard.html")}
    years = frames["eval_specialty_town"]["year"].unique().sort()
    if len(years):
        year = int(years[-1])
        written["workbook"] = write_evaluation_workbook(frames, year, root / f"evaluation_{year}.xlsx")
    return Output({k: str(v) for k, v in written.items()},
                  metadata={k: MetadataValue.path(str(v.resolve())) for k, v in written.items()})
