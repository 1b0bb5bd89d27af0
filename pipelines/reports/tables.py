"""Where a report reads its tables: the published warehouse, or the same frames in memory.

`townstat report` reads the warehouse (a URL). The pipeline's `reports/bureau` step hands over
the frames it has just published, which are the same rows, so a nightly run does not read half
a million rejected-row records back out of SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import polars as pl

from pipelines.warehouse.frames import prepare_frame
from pipelines.warehouse.read import read_table
from pipelines.warehouse.tables import SPEC_BY_NAME

#: A warehouse URL, or frames by table name.
TableSource = str | Mapping[str, pl.DataFrame]


def table_reader(source: TableSource) -> Callable[[str], pl.DataFrame]:
    """A function giving a table by name, ordered by its key like `read_table`."""

    if isinstance(source, str):
        return lambda name: read_table(source, name)

    def read(name: str) -> pl.DataFrame:
        # the columns, types and order the warehouse gives back
        return prepare_frame(name, source[name]).sort(SPEC_BY_NAME[name].key)

    return read
