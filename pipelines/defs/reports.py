"""Great Expectations before publication (blocking), and the reports people read after it."""

import fcntl
import tempfile
from pathlib import Path

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

GX_KEY = AssetKey(["dq", "expectations"])

# The tables the suite reads; the large monthly facts are not among them.
SUITE_TABLES = ("dim_town", "dim_specialty_town", "fact_enterprise_year", "ind_town_year",
                "ind_specialty_town_year", "eval_criterion", "eval_specialty_town", "pub_town_year",
                "dq_file", "dq_rejected_row", "dq_flag")


def suite_frames(refs: FrameBundle, enterprise: FrameBundle, ind_town: pl.DataFrame,
                 ind_specialty: pl.DataFrame, evaluation: FrameBundle, pub: pl.DataFrame,
                 dq: FrameBundle, flags: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The staged frames of `SUITE_TABLES`: what the suite checks and the reports show."""
    frames = {
        "dim_town": refs["dim_town"], "dim_specialty_town": refs["dim_specialty_town"],
        "fact_enterprise_year": enterprise["fact"], "ind_town_year": ind_town,
        "ind_specialty_town_year": ind_specialty, "eval_criterion": evaluation["eval_criterion"],
        "eval_specialty_town": evaluation["eval_specialty_town"], "pub_town_year": pub,
        "dq_file": dq["dq_file"], "dq_rejected_row": dq["dq_rejected_row"], "dq_flag": flags,
    }
    assert set(frames) == set(SUITE_TABLES)
    return frames


def _staging_file(cache_dir: str, tmp: str) -> Path:
    """The SQLite copy the suite reads: in the cache (kept between runs) when there is one."""
    if not cache_dir:
        return Path(tmp) / "staging.sqlite"
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return Path(cache_dir) / "gx-staging.sqlite"


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
    from pipelines.warehouse.publish import publish

    if not reports.expectations:
        yield Output({"skipped": True}, metadata={"status": "skipped (TOWNSTAT_GX=off)"})
        yield AssetCheckResult(check_name="critical_expectations", asset_key=GX_KEY, passed=True,
                               metadata={"status": "skipped"})
        return
    from pipelines.quality.expectations import validate_warehouse

    frames = suite_frames(refs, enterprise, ind_town, ind_specialty, evaluation, pub, dq, flags)
    docs = reports.root / "data_docs"
    with tempfile.TemporaryDirectory(prefix="townstat-gx-") as tmp:
        staging = _staging_file(raw_area.cache_dir, tmp)
        url = f"sqlite:///{staging}"
        with open(staging.with_suffix(".lock"), "w") as lock:
            # one run at a time fills and reads the kept copy (refresh runs are queued one at a
            # time anyway; a backfill or a hand-started run must not validate another run's rows)
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                # kept in the cache between runs: like the warehouse, only what changed is rewritten
                publish(url, frames, fingerprints={})
                result = validate_warehouse(url, docs)
                if result.critical_failed:  # on a kept copy: not believed before a clean rebuild
                    raise RuntimeError("critical failures on the kept staging copy")
            except Exception as exc:  # a damaged staging copy is a cache, not data: built again
                context.log.warning(f"GX 暂存库已重建 / GX staging copy rebuilt ({exc.__class__.__name__})")
                for leftover in staging.parent.glob(f"{staging.name}*"):
                    leftover.unlink(missing_ok=True)
                publish(url, frames)
                result = validate_warehouse(url, docs)
    yield Output({"critical_failed": result.critical_failed, "warnings": result.warnings}, metadata={
        "expectations": len(result.results),
        "critical_failed": MetadataValue.json(result.critical_failed),
        "warnings": MetadataValue.json(result.warnings),
        "data_docs": MetadataValue.path(str(result.docs_index.resolve())),
    })
    yield AssetCheckResult(check_name="critical_expectations", asset_key=GX_KEY,
                           passed=not result.critical_failed, severity=AssetCheckSeverity.ERROR,
                           metadata={"failed": MetadataValue.json(result.critical_failed)})


@asset(key=["reports", "bureau"], group_name="reports", kinds={"html", "excel"},
       ins=ins("refs", "enterprise", "ind_town", "ind_specialty", "evaluation", "pub", "dq", "flags"),
       deps=[AssetKey(["warehouse", "published"])],
       description="数据质量报告、评价工作簿与图表 / the quality report, the evaluation workbook "
                   "and the dashboard, of what was just published")
def bureau_reports(context: AssetExecutionContext, reports: Reports, refs: FrameBundle,
                   enterprise: FrameBundle, ind_town: pl.DataFrame, ind_specialty: pl.DataFrame,
                   evaluation: FrameBundle, pub: pl.DataFrame, dq: FrameBundle,
                   flags: pl.DataFrame) -> Output[dict]:
    from pipelines.reports.dashboard import write_dashboard
    from pipelines.reports.quality_report import write_quality_report
    from pipelines.reports.workbook import write_evaluation_workbook

    # the frames just published (the same rows `townstat report` reads back from the warehouse)
    frames = suite_frames(refs, enterprise, ind_town, ind_specialty, evaluation, pub, dq, flags)
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
