"""Loading rows into PostgreSQL: `COPY ... FROM STDIN (FORMAT csv)` through psycopg 3.

An aside table is created without its key; the key and indexes are built after the COPY
(faster), named with the `__new` suffix until the publication swaps the table in.
"""

from __future__ import annotations

import io
import logging

import polars as pl
from sqlalchemy import Connection, MetaData
from sqlalchemy.schema import CreateIndex

from . import sql
from .sql import NEW, quote
from .tables import SPEC_BY_NAME, build_table, pk_name

log = logging.getLogger(__name__)


def copy_rows(conn: Connection, name: str, df: pl.DataFrame, target: str | None = None) -> None:
    """COPY the rows of `df` (prepared for table `name`) into `target` (default `<name>__new`)."""
    cols = ", ".join(quote(conn, c) for c in df.columns)
    copy_sql = f"COPY {quote(conn, target or name + NEW)} ({cols}) FROM STDIN (FORMAT csv, NULL '\\N')"
    cur = conn.connection.driver_connection.cursor()
    try:
        with cur.copy(copy_sql) as copy:
            for off in range(0, df.height, sql.BATCH_ROWS):
                buf = io.BytesIO()
                # Strings quoted, NULL unquoted \N: '' and '\N' strings survive as such.
                df.slice(off, sql.BATCH_ROWS).write_csv(
                    buf,
                    include_header=False,
                    null_value="\\N",
                    quote_style="non_numeric",
                    datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z",
                    date_format="%Y-%m-%d",
                )
                copy.write(buf.getvalue())
                log.info("%s: loaded %d/%d rows", name, min(off + sql.BATCH_ROWS, df.height), df.height)
    finally:
        cur.close()


def index_aside(conn: Connection, name: str) -> None:
    """Key and indexes on `<name>__new`, named with the `__new` suffix."""
    spec = SPEC_BY_NAME[name]
    keys = ", ".join(quote(conn, c) for c in spec.key)
    conn.exec_driver_sql(
        f"ALTER TABLE {quote(conn, name + NEW)} ADD CONSTRAINT {quote(conn, pk_name(name + NEW))} "
        f"PRIMARY KEY ({keys})"
    )
    md = MetaData()
    aside = build_table(spec, md, name + NEW, with_key=False, with_indexes=True)
    for ix in aside.indexes:
        conn.execute(CreateIndex(ix))
