"""Data-quality tables: every file's fate (dq_file, dq_rejected_row) and cross-source flags."""


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
from pipelines.defs.resources import RawArea, Warehouse
from pipelines.ingest.file_records import (
    DQ_FILE_SCHEMA,
    DQ_REJECTED_SCHEMA,
    NO_SOURCE_MESSAGE,
    file_record,
    with_removed,
)
from pipelines.ingest.inventory import RawFile
from pipelines.quality.flags import cross_source_flags
from pipelines.quality.person_ids import clear_id_where
from pipelines.warehouse.engine import sqlite_file
from pipelines.warehouse.read import read_table


def previous_dq_file(url: str) -> pl.DataFrame | None:
    """dq_file as last published, so files gone since then are kept as `removed`."""

    path = sqlite_file(url)
    if path is not None and not path.exists():
        return None  # first refresh; and opening the file would create it
    try:
        return read_table(url, "dq_file")
    except Exception:  # first refresh: no warehouse or no table yet
        return None


DQ_FILES_KEY = AssetKey(["dq", "files"])


@asset(key=DQ_FILES_KEY, group_name="quality", kinds={"polars"},
       ins=ins("files", "refs", *FACTS),
       check_specs=[AssetCheckSpec("no_clear_person_id", asset=DQ_FILES_KEY, blocking=True,
                                   description="回显的值中没有明文身份证号 / no clear person ID in any "
                                               "echoed value (contract v4 section 4)")],
       description="每个文件的处理结果与拒收行 / every file's status and every rejected row")
def dq_files(context: AssetExecutionContext, warehouse: Warehouse, files: list[RawFile],
             refs: FrameBundle, enterprise: FrameBundle, tax: FrameBundle, employment: FrameBundle,
             registry: FrameBundle):
    sources = {"enterprise": enterprise, "tax": tax, "employment": employment, "registry": registry}
    unsourced = pl.DataFrame(
        [file_record(f, "rejected", 0, 0, f.problem or NO_SOURCE_MESSAGE) for f in files
         if f.source is None or f.problem is not None],
        schema=DQ_FILE_SCHEMA,
    )
    current = pl.concat([unsourced, refs["dq_file"], *[s["dq_file"] for s in sources.values()]])
    dq_file = with_removed(current.sort("path", "file_id"), previous_dq_file(warehouse.url))
    rejected = pl.concat([refs["dq_rejected_row"], *[s["dq_rejected_row"] for s in sources.values()]]
                         ).cast(DQ_REJECTED_SCHEMA).sort("path", "source_row", "column", "rule")
    status = dq_file.group_by("status").len().sort("status")
    by_rule = rejected.group_by("rule").len().sort("rule")
    yield Output({"dq_file": dq_file, "dq_rejected_row": rejected}, metadata={
        "files": dq_file.height,
        "by_status": MetadataValue.json(dict(status.iter_rows())),
        "rejected_rows": rejected.height,
        "rejected_by_rule": MetadataValue.json(dict(by_rule.iter_rows())),
        "rejected_files": MetadataValue.md("\n".join(
            f"- {p}: {m}" for p, m in dq_file.filter(pl.col("status") == "rejected")
            .select("path", "message").iter_rows()) or "none"),
    })
    where = clear_id_where({"dq_file": dq_file, "dq_rejected_row": rejected})
    yield AssetCheckResult(
        check_name="no_clear_person_id", asset_key=DQ_FILES_KEY, passed=not where,
        severity=AssetCheckSeverity.ERROR,
        metadata={"values_with_an_id": sum(where.values()), "where": MetadataValue.json(where)})


@asset(key=["dq", "flags"], group_name="quality", kinds={"polars"},
       ins=ins("enterprise", "tax", "employment"),
       description="跨来源预警（不拒收）/ cross-source warnings, contract section 8")
def dq_flags(context: AssetExecutionContext, enterprise: FrameBundle, tax: FrameBundle,
             employment: FrameBundle, raw_area: RawArea) -> Output[pl.DataFrame]:
    memo = facts_memo(raw_area, None, enterprise, employment)
    flags = cross_source_flags(enterprise["fact"], tax.scan("fact"), employment.scan("fact"), memo,
                               tax_years=tax.scan("taxpayer_year"), tax_mismatch=tax.scan("tax_mismatch"))
    by_rule = flags.group_by("rule").len().sort("rule")
    return Output(flags, metadata={"dagster/row_count": flags.height, **memo_metadata(memo),
                                   "by_rule": MetadataValue.json(dict(by_rule.iter_rows()))})
