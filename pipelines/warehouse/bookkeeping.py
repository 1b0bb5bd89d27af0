"""The publication's own tables: what each table was published from, and its rows.

- `townstat_publication`: a table's content fingerprint (only tables given one), so that an
  unchanged table is left as it is;
- `townstat_publication_part`: the same per partition (the month of a large fact, the year of
  a derived table, the file of `dq_rejected_row`), so that only changed partitions are reloaded;
- `townstat_table_rows`: rows per table as of the last publication (read by
  `read.published_row_counts`).

All of them are written inside the publication's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
from sqlalchemy import Connection, text

from .frames import partition_column
from .sql import table_exists
from .tables import polars_schema

#: Which content each table was last published from (only for tables given a fingerprint).
PUBLICATION_TABLE = "townstat_publication"
#: The same per partition (month) of the large facts, so that only changed months are reloaded.
PARTITION_TABLE = "townstat_publication_part"
#: Rows per table as of the last publication, so that `townstat status` need not count 35 million rows.
ROWS_TABLE = "townstat_table_rows"


def published_fingerprints(conn: Connection) -> dict[str, str]:
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {PUBLICATION_TABLE} (table_name VARCHAR(64) PRIMARY KEY, "
        "fingerprint VARCHAR(64) NOT NULL)")
    rows = conn.exec_driver_sql(f"SELECT table_name, fingerprint FROM {PUBLICATION_TABLE}").all()
    return {t: f for t, f in rows}


def published_partitions(conn: Connection) -> dict[str, dict[str, str]]:
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {PARTITION_TABLE} (table_name VARCHAR(64) NOT NULL, "
        "part VARCHAR(32) NOT NULL, fingerprint VARCHAR(64) NOT NULL, PRIMARY KEY (table_name, part))")
    out: dict[str, dict[str, str]] = {}
    for t, part, f in conn.exec_driver_sql(f"SELECT table_name, part, fingerprint FROM {PARTITION_TABLE}"):
        out.setdefault(t, {})[part] = f
    return out


def record_fingerprints(conn: Connection, fingerprints: Mapping[str, str], names: list[str],
                        partitions: Mapping[str, Mapping[str, str]]) -> None:
    for name in names:
        if name in fingerprints:
            conn.execute(text(f"DELETE FROM {PUBLICATION_TABLE} WHERE table_name = :t"), {"t": name})
            conn.execute(text(f"INSERT INTO {PUBLICATION_TABLE} VALUES (:t, :f)"),
                         {"t": name, "f": fingerprints[name]})
        conn.execute(text(f"DELETE FROM {PARTITION_TABLE} WHERE table_name = :t"), {"t": name})
        if name in partitions and partitions[name]:
            conn.execute(text(f"INSERT INTO {PARTITION_TABLE} VALUES (:t, :p, :f)"),
                         [{"t": name, "p": p, "f": f} for p, f in partitions[name].items()])


def forget_fingerprints(conn: Connection, names: list[str]) -> None:
    for table in (PUBLICATION_TABLE, PARTITION_TABLE):
        if table_exists(conn, table):
            for name in names:
                conn.execute(text(f"DELETE FROM {table} WHERE table_name = :t"), {"t": name})


def record_rows(conn: Connection, rows: Mapping[str, int], delta: Mapping[str, int]) -> None:
    """Set the row count of reloaded tables and adjust that of tables changed in place."""
    conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {ROWS_TABLE} (table_name VARCHAR(64) PRIMARY KEY, "
                         "row_count BIGINT NOT NULL)")
    for name, n in rows.items():
        conn.execute(text(f"DELETE FROM {ROWS_TABLE} WHERE table_name = :t"), {"t": name})
        conn.execute(text(f"INSERT INTO {ROWS_TABLE} VALUES (:t, :n)"), {"t": name, "n": n})
    for name, d in delta.items():
        conn.execute(text(f"UPDATE {ROWS_TABLE} SET row_count = row_count + :d WHERE table_name = :t"),
                     {"t": name, "d": d})


def changed_partitions(name: str, new: Mapping[str, str], old: Mapping[str, str]) -> list[str] | None:
    """Partitions to reload in place, or None when the whole table is to be rebuilt aside.

    In place only when the table was published with partition fingerprints, its partition
    column is text or an integer, and at most half of the partitions changed.
    """
    dtype = polars_schema(name)[partition_column(name)]
    if not old or not (dtype == pl.String or dtype.is_integer()):
        return None
    changed = sorted({p for p, f in new.items() if old.get(p) != f} | (set(old) - set(new)))
    return changed if len(changed) <= max(1, len(new) // 2) else None
