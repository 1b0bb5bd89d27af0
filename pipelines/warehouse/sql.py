"""SQL helpers shared by the loaders, the bookkeeping, the reads and the publication."""

from __future__ import annotations

from sqlalchemy import Connection, inspect

#: Suffixes of the tables a publication builds aside (`<name>__new`) or leaves after a crash.
NEW = "__new"
OLD = "__old"
#: Rows per COPY chunk / executemany batch (read at call time: a test lowers it).
BATCH_ROWS = 200_000


def quote(conn: Connection, ident: str) -> str:
    """`ident` quoted as an identifier of `conn`'s dialect."""
    return conn.dialect.identifier_preparer.quote_identifier(ident)


def table_exists(conn: Connection, name: str) -> bool:
    return inspect(conn).has_table(name)
