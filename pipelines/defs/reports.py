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

from pipelines import run_worker
from pipelines.defs.io import FrameBundle
from pipelines.defs.keys import ins
from pipelines.defs.resources import RawArea, Reports
from pipelines.quality import suite_process
from pipelines.reports import drafts
from pipelines.reports.bureau import latest_year, write_quality_and_dashboard, write_workbook

GX_KEY = AssetKey(["dq", "expectations"])

# The tables the suite reads; the large monthly facts are not among them.
SUITE_TABLES = ("dim_town", "dim_specialty_town", "fact_enterprise_year", "ind_town_year",
                "ind_specialty_town_year", "eval_criterion", "eval_specialty_town", "pub_town_year",
                "dq_file", "dq_rejected_row", "dq_flag")


def suite_frames(refs: FrameBundle, enterprise: FrameBundle, ind_town: pl.LazyFrame,
                 ind_specialty: pl.LazyFrame, evaluation: FrameBundle, pub: pl.LazyFrame,
                 dq: FrameBundle, flags: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    """The staged frames of `SUITE_TABLES`, what the suite checks and the reports show, as
    scans of their staged Parquet: read where they are used (the run's worker reads its own;
    600,000 rejected rows are not pickled across)."""
    frames = {
        "dim_town": refs.scan("dim_town"), "dim_specialty_town": refs.scan("dim_specialty_town"),
        "fact_enterprise_year": enterprise.scan("fact"), "ind_town_year": ind_town,
        "ind_specialty_town_year": ind_specialty, "eval_criterion": evaluation.scan("eval_criterion"),
        "eval_specialty_town": evaluation.scan("eval_specialty_town"), "pub_town_year": pub,
        "dq_file": dq.scan("dq_file"), "dq_rejected_row": dq.scan("dq_rejected_row"), "dq_flag": flags,
    }
    assert set(frames) == set(SUITE_TABLES)
    return frames


# The reports read the suite's tables and the county's goals besides.
REPORT_TABLES = (*SUITE_TABLES, "eval_gap", "eval_target")


def report_scans(suite: dict[str, pl.LazyFrame], gap: pl.LazyFrame,
                 targets: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    """The scans the reports read: the suite's and the county's goals."""
    scans = {**suite, "eval_gap": gap, "eval_target": targets}
    assert set(scans) == set(REPORT_TABLES)
    return scans


@asset(key=GX_KEY, group_name="quality", kinds={"great_expectations"},
       ins=ins("refs", "enterprise", "ind_town", "ind_specialty", "evaluation", "pub", "dq", "flags", "gap",
               "targets"),
       check_specs=[AssetCheckSpec("critical_expectations", asset=GX_KEY, blocking=True,
                                   description="every critical GX expectation holds on the tables "
                                               "about to be published")],
       description="Great Expectations 套件：发布前在暂存库上校验；同时起草报告，发布后才放入报告目录 / the GX "
                   "suite, run on a staging copy of the tables before they are published; the reports "
                   "are drafted meanwhile and reach the reports folder only after publication")
def dq_expectations(context: AssetExecutionContext, reports: Reports, raw_area: RawArea, refs: FrameBundle,
                    enterprise: FrameBundle, ind_town: pl.LazyFrame, ind_specialty: pl.LazyFrame,
                    evaluation: FrameBundle, pub: pl.LazyFrame, dq: FrameBundle, flags: pl.LazyFrame,
                    gap: pl.LazyFrame, targets: pl.LazyFrame):
    if not reports.expectations:
        yield Output({"skipped": True}, metadata={"status": "skipped (TOWNSTAT_GX=off)"})
        yield AssetCheckResult(check_name="critical_expectations", asset_key=GX_KEY, passed=True,
                               metadata={"status": "skipped"})
        return
    frames = suite_frames(refs, enterprise, ind_town, ind_specialty, evaluation, pub, dq, flags)
    scans = report_scans(frames, gap, targets)
    root = reports.root.resolve()
    run_id = context.run.run_id
    drafts.begin(root, run_id)
    # in the run's worker process when it started one (GX imported there, off this GIL); this
    # thread drafts the quality report and the dashboard meanwhile (reports/drafts.py)
    result = suite_process.validate(frames, raw_area.cache_dir, reports.root / "data_docs", warn=context.log.warning,
                                    meanwhile=lambda: drafts.draft_beside_suite(scans, root, run_id))
    if result.critical_failed:
        drafts.discard(root, run_id)
    # the worker drafts the workbook while this thread publishes
    drafted = not result.critical_failed and drafts.draft_beside_publication(scans, root, run_id, latest_year(scans))
    yield Output({"critical_failed": result.critical_failed, "warnings": result.warnings}, metadata={
        "expectations": len(result.results),
        "critical_failed": MetadataValue.json(result.critical_failed),
        "warnings": MetadataValue.json(result.warnings),
        "tables_unchanged_results_kept": MetadataValue.json(result.reused),
        "data_docs": MetadataValue.path(str(result.docs_index.resolve())),
        "reports_drafted_beside_publication": drafted,
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
                   enterprise: FrameBundle, ind_town: pl.LazyFrame, ind_specialty: pl.LazyFrame,
                   evaluation: FrameBundle, pub: pl.LazyFrame, dq: FrameBundle,
                   flags: pl.LazyFrame, gap: pl.LazyFrame, targets: pl.LazyFrame) -> Output[dict]:

    # the frames just published (the same rows `townstat report` reads back from the warehouse),
    # as scans of the staged files, read where each report is written
    scans = report_scans(suite_frames(refs, enterprise, ind_town, ind_specialty, evaluation, pub, dq, flags),
                         gap, targets)
    root = reports.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    # the drafts made beside the suite and publication, moved in now; the rest written here
    written, missing = drafts.take(root, context.run.run_id, warn=context.log.warning)
    year = book = None
    if drafts.PUBLICATION_PART in missing:  # the workbook not drafted: the worker writes it meanwhile
        year = latest_year(scans)
        book = run_worker.submit(write_workbook, scans, root, year)
    if drafts.SUITE_PART in missing:
        written.update(write_quality_and_dashboard(scans, root))
    if drafts.PUBLICATION_PART in missing:
        done, made = run_worker.result(book) if book is not None else (False, None)
        written.update(made if done else write_workbook(scans, root, year))  # no worker, or it died
    return Output({k: str(v) for k, v in written.items()},
                  metadata={**{k: MetadataValue.path(str(v.resolve())) for k, v in written.items()},
                            "drafted_before_publication": MetadataValue.json(
                                [p for p in drafts.PARTS if p not in missing])})
