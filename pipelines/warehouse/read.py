"""Reading the warehouse: a table as a Polars frame, and the row counts recorded at publication."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
from sqlalchemy import Connection, text

from .bookkeeping import ROWS_TABLE
from .engine import make_engine
from .sql import quote, table_exists
from .tables import SPEC_BY_NAME, TABLES, polars_schema


def read_table(url: str, name: str, where: str | None = None,
               params: Mapping[str, object] | None = None) -> pl.DataFrame:
    """A warehouse table as a frame with the declared Polars dtypes, ordered by its key.

    `where` is an SQL condition with bound parameters, e.g. `"year >= :y"`, `{"y": 2023}`.
    """
    if name not in TABLES:
        raise KeyError(f"unknown warehouse table {name!r}")
    schema = polars_schema(name)
    spec = SPEC_BY_NAME[name]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            cols = ", ".join(quote(conn, c) for c in schema)
            keys = ", ".join(quote(conn, c) for c in spec.key)
            condition = f" WHERE {where}" if where else ""
            rows = conn.execute(text(f"SELECT {cols} FROM {quote(conn, name)}{condition} ORDER BY {keys}"),
                                dict(params or {})).all()
            pg = conn.dialect.name == "postgresql"
    finally:
        engine.dispose()
    data = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    series = []
    for (col, dtype), values in zip(schema.items(), data, strict=True):
        values = list(values)
        if not pg and dtype == pl.Date:
            s = pl.Series(col, values, dtype=pl.String).str.to_date("%Y-%m-%d")
        elif not pg and isinstance(dtype, pl.Datetime):
            s = pl.Series(col, values, dtype=pl.String).str.to_datetime(
                "%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC"
            )
        elif not pg and dtype == pl.Boolean:
            s = pl.Series(col, values, dtype=pl.Int64).cast(pl.Boolean)
        else:
            s = pl.Series(col, values, dtype=dtype)
        series.append(s)
    return pl.DataFrame(series)


def published_row_counts(conn: Connection) -> dict[str, int]:
    """Rows per table recorded at publication ({} for a warehouse published before they were)."""
    if not table_exists(conn, ROWS_TABLE):
        return {}
    return dict(conn.exec_driver_sql(f"SELECT table_name, row_count FROM {ROWS_TABLE}").all())
