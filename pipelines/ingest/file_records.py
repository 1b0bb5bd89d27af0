"""`dq_file` and `dq_rejected_row`: what happened to every file and every rejected row."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.echo import echo_expr, mask_ids, printable
from pipelines.ingest.inventory import RawFile
from pipelines.ingest.validate import rejection_messages
from schemas.columns import REFERENCES, SOURCES, SourceSpec

DQ_FILE_SCHEMA = {
    "file_id": pl.String, "path": pl.String, "source": pl.String, "sha256": pl.String,
    "bytes": pl.Int64, "mtime": pl.Datetime("us", "UTC"), "status": pl.String,
    "rows_read": pl.Int64, "rows_loaded": pl.Int64, "rows_rejected": pl.Int64, "message": pl.String,
}
DQ_REJECTED_SCHEMA = {
    "file_id": pl.String, "path": pl.String, "source_row": pl.Int64, "column": pl.String,
    "rule": pl.String, "value": pl.String, "message": pl.String,
}

NO_SOURCE_MESSAGE = ("文件不在任何来源文件夹中（应放入 enterprise/、tax/、employment/、registry/ 或 reference/）"
                     " / the file is in no source folder (put it in enterprise/, tax/, employment/, "
                     "registry/ or reference/)")


def file_record(f: RawFile, status: str, rows_read: int, rows_loaded: int, message: str) -> dict:
    """A dq_file row. Path and message are echoed text: person-ID-shaped tokens masked."""
    return {
        "file_id": f.file_id, "path": mask_ids(f.relpath), "source": f.source or "",
        "sha256": f.sha256 or None,
        "bytes": f.bytes, "mtime": dt.datetime.fromtimestamp(f.mtime, dt.UTC),
        "status": status, "rows_read": rows_read, "rows_loaded": rows_loaded,
        "rows_rejected": rows_read - rows_loaded, "message": printable(message),
    }




def rejected_records(f: RawFile, rejected: pl.DataFrame, spec: SourceSpec | None) -> pl.DataFrame:
    """dq_rejected_row rows: the value echoed (`pipelines.echo`: person-ID-shaped tokens masked
    whatever the column, control characters shown, long cells shortened), and the message
    built from that echo, never from the raw cell."""
    if spec is not None:  # a source's file: as its whole source's records are made
        return source_rejected_records([(f, rejected)], spec).collect()
    if rejected.height == 0:
        return pl.DataFrame(schema=DQ_REJECTED_SCHEMA)
    rejected = rejected.with_columns(echo_expr(pl.col("value")).alias("value"))
    path = mask_ids(f.relpath) or ""
    message = pl.format("文件 {} 第{}行 {}：{} / File {}, row {}, column {}: {}", pl.lit(path),
                        pl.col("source_row"), pl.col("column"), pl.col("rule"), pl.lit(path),
                        pl.col("source_row"), pl.col("column"), pl.col("rule"))
    return rejected.select(
        pl.lit(f.file_id).alias("file_id"), pl.lit(path).alias("path"), "source_row", "column",
        "rule", "value", message.alias("message"),
    ).cast(DQ_REJECTED_SCHEMA)


def source_rejected_records(files: list[tuple[RawFile, pl.DataFrame]], spec: SourceSpec) -> pl.LazyFrame:
    """`rejected_records` of every file of one source, in their order, made in one pass (a
    province's 120 files are not 120 small Polars queries), as a query: a night whose files
    did not change reads the records kept from before instead (`defs/ingest.py`)."""
    parts = [rej.lazy().with_columns(pl.lit(f.file_id).alias("file_id"),
                                     pl.lit(mask_ids(f.relpath) or "").alias("path"))
             for f, rej in files if rej.height]
    if not parts:
        return pl.LazyFrame(schema=DQ_REJECTED_SCHEMA)
    rejected = pl.concat(parts, how="diagonal_relaxed").with_columns(echo_expr(pl.col("value")).alias("value"))
    return rejected.select(
        "file_id", "path", "source_row", "column", "rule", "value",
        rejection_messages(rejected, pl.col("path"), spec).alias("message"),
    ).cast(DQ_REJECTED_SCHEMA)


def spec_for(f: RawFile) -> SourceSpec | None:
    if f.source == "reference":
        return REFERENCES.get(f.relpath.split("/")[-1])
    return SOURCES.get(f.source or "")


def with_removed(current: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """Files seen before and gone now stay in dq_file with status `removed`."""
    if previous is None or previous.height == 0:
        return current
    prev = previous.select(list(DQ_FILE_SCHEMA)).cast(DQ_FILE_SCHEMA)
    gone = prev.filter(~pl.col("file_id").is_in(current["file_id"].implode())).with_columns(
        pl.lit("removed").alias("status"),
    )
    return pl.concat([current, gone]).sort("path", "file_id")
