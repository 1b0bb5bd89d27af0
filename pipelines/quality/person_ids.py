"""The last guard before publication: no clear person ID in any value echoed back to people.

Every echo is masked where it is made (`pipelines.echo`); this check scans the echoed columns
of the data-quality tables once more, whatever their column, and blocks publication when a
token shaped like a person ID (contract v4 section 4) is found, so that a masking bug can never
publish one. Hashes (file_id, sha256) are not echoes and are not scanned: 64 hex digits hold a
run of 15 digits now and then.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from pipelines.echo import has_clear_id_expr

ECHOED_COLUMNS: dict[str, tuple[str, ...]] = {
    "dq_file": ("path", "message"),
    "dq_rejected_row": ("path", "column", "value", "message"),
}


def clear_id_cells(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """(table, column, rows): how many echoed values of each column read as a person ID."""
    # one lazy query: the columns are scanned in parallel (0.42 s of a province night, one by one)
    counts = [
        frames[table].lazy().select(pl.lit(table).alias("table"), pl.lit(col).alias("column"),
                                    has_clear_id_expr(pl.col(col)).sum().cast(pl.Int64).alias("rows"))
        for table, cols in ECHOED_COLUMNS.items() if table in frames
        for col in cols if col in frames[table].columns
    ]
    if not counts:
        return pl.DataFrame(schema={"table": pl.String, "column": pl.String, "rows": pl.Int64})
    return pl.concat(counts).filter(pl.col("rows") > 0).collect()


def clear_id_where(frames: Mapping[str, pl.DataFrame]) -> dict[str, int]:
    """The blocking `no_clear_person_id` check of dq/files: `table.column` -> how many echoed
    values of that column read as a person ID, for the columns with at least one (empty: the
    check passes)."""
    return {f"{table}.{column}": rows for table, column, rows in clear_id_cells(frames).iter_rows()}
