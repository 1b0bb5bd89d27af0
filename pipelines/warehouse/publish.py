"""Atomic publication of the warehouse tables.

`publish(url, frames)` replaces the tables named in `frames`, all at once:

1. Every frame is selected and cast to its declared columns (`tables.py`) before the
   database is touched; a missing or null NOT NULL column is an error naming the table and
   column.
2. One database transaction then: drops leftovers of an earlier crashed run
   (`<name>__new`, `<name>__old`), creates each table aside as `<name>__new`, bulk-loads it
   (PostgreSQL: `COPY ... FROM STDIN (FORMAT csv)` through psycopg 3; SQLite: `executemany`
   in large batches), builds its key and indexes, and finally swaps: old tables dropped,
   `<name>__new` renamed to `<name>`, indexes renamed (PostgreSQL) or created (SQLite), the
   `townstat_reader` grants re-applied (PostgreSQL, when the role exists).
3. Commit. PostgreSQL and SQLite both have transactional DDL, so readers see the previous
   state until the commit and the whole new state after it; any failure (an exception, a
   killed process, a lost connection) rolls everything back and leaves the previous state
   untouched. A transaction-level advisory lock serialises concurrent publishers. On SQLite
   the transaction is `BEGIN IMMEDIATE` and readers (WAL mode) keep their snapshot.

PostgreSQL readers (contract section 3). DROP and RENAME are not MVCC-safe: a `REPEATABLE
READ` reader whose snapshot predates the commit would find the new table empty, and the
ACCESS EXCLUSIVE lock they need waits for every reader that touched the table. So the tables
that readers read (`SNAPSHOT_TABLES`: `dim_*`, `pub_*`, `eval_*`, `ind_*`, `dq_file`; all
small) are not swapped when they already exist with the declared layout: their rows are
deleted and the aside rows inserted into the same table, in the same transaction (ROW
EXCLUSIVE, which no reader's lock conflicts with; same table, so keys, comments and grants
stay). A snapshot reader keeps seeing the previous rows; a new transaction sees the new ones.
Only the large internal tables (facts, `dq_rejected_row`, `dq_flag`), a table whose layout
changed, and a table published for the first time are swapped. Every lock the publication
waits for after the advisory lock is bounded by `lock_timeout` (`TOWNSTAT_LOCK_TIMEOUT`
seconds, default 30): a reader still holding a swapped table then makes the publication fail
with `PublishBlocked` naming the table, the transaction rolls back, and the next trigger
(sensor retry, nightly schedule) publishes again.

Tables not in `frames` are left as they are.

The parts live beside this module: `frames.py` fits and digests the frames, `sqlite_load.py`
and `postgres_load.py` load rows, `bookkeeping.py` keeps the publication's own tables, and
`read.py` reads the warehouse back.

The very first publication into a SQLite file that does not exist yet is built in a hidden
file beside it without a journal (each page written once, not to the WAL and again at the
checkpoint) and with 16 KiB pages (`sqlite_load.PAGE_SIZE`), switched to WAL mode and then
linked into place: until that link there is no warehouse to read, and a failure deletes the
hidden file, so atomicity is the same.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex, CreateTable, SetColumnComment, SetTableComment

from pipelines import settings

from . import sqlite_load
from .bookkeeping import (
    PARTITION_TABLE,
    PUBLICATION_TABLE,
    ROWS_TABLE,
    changed_partitions,
    forget_fingerprints,
    published_fingerprints,
    published_partitions,
    record_fingerprints,
    record_rows,
)
from .engine import is_postgres, make_engine, sqlite_file, warehouse_url
from .frames import (
    PublishError,
    content_fingerprint,
    content_partitions,
    partition_column,
    partition_value,
    partitioned_by_content,
    prepare_frame,
)
from .postgres_load import copy_rows, index_aside
from .read import published_row_counts
from .roles import reader_can_read
from .slices import key_ordered_slices
from .sql import NEW, OLD, quote, table_exists
from .sqlite_load import ParallelSQLiteLoad, insert_rows, sqlite_rows
from .tables import (
    READER_ROLE,
    SPEC_BY_NAME,
    TABLES,
    build_table,
    index_name,
    pk_name,
    table_names,
)

__all__ = ["PublishBlocked", "publish", "replace_year"]

log = logging.getLogger(__name__)

#: pg_advisory_xact_lock key serialising publishers ("townstat" in ASCII, truncated).
_ADVISORY_KEY = 0x746F776E73746174 & 0x7FFFFFFFFFFFFFFF


class PublishBlocked(RuntimeError):
    """PostgreSQL: a lock the publication needs was held by another session for longer than
    the lock timeout; the transaction was rolled back and the previous state kept."""

    def __init__(self, table: str, timeout: float) -> None:
        self.table = table
        self.timeout = timeout
        super().__init__(
            f"发布等待表 {table} 的锁超过 {timeout:g} 秒（另一会话的事务仍占用该表，例如读者未结束的事务），"
            f"已回滚，仓库保持上次发布的状态，下次触发时重新发布 / publication waited more than "
            f"{timeout:g}s for a lock on table {table} (another session's open transaction, e.g. a "
            f"reader's, holds it); rolled back, the warehouse keeps its previous state, and the next "
            f"trigger publishes again")


#: Default of `TOWNSTAT_LOCK_TIMEOUT`: seconds the PostgreSQL publication waits for any one lock.
LOCK_TIMEOUT_S = settings.DEFAULT_LOCK_TIMEOUT_S


def lock_timeout() -> float:
    """Seconds a PostgreSQL publication waits for a lock (`TOWNSTAT_LOCK_TIMEOUT`; 0: no limit)."""
    return settings.lock_timeout()


def snapshot_table(name: str) -> bool:
    """Rewritten in place on PostgreSQL (MVCC-safe for readers) rather than swapped: what
    `townstat_reader` reads (`dim_*`, `pub_*`, `eval_*`, `dq_file`) and the small derived
    `ind_*` the bureau's own tools read."""
    return name.startswith(("dim_", "pub_", "eval_", "ind_")) or name == "dq_file"


#: The tables `snapshot_table` keeps in place.
SNAPSHOT_TABLES: list[str] = [n for n in table_names() if snapshot_table(n)]


# -- the transaction's steps --------------------------------------------------------------------


def _reader_role_exists(conn: Connection) -> bool:
    return bool(
        conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READER_ROLE}).first()
    )


def _drop_leftovers(conn: Connection) -> None:
    """Drop aside tables an earlier, interrupted run may have left (any declared name)."""
    for name in table_names():
        for suffix in (NEW, OLD):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(conn, name + suffix)}")


def _create_aside(conn: Connection, name: str, pg: bool) -> None:
    md = MetaData()
    # PostgreSQL: the key is added after COPY (faster); SQLite cannot add one later.
    aside = build_table(SPEC_BY_NAME[name], md, name + NEW, with_key=not pg, with_indexes=False)
    conn.execute(CreateTable(aside))
    if pg:
        conn.execute(SetTableComment(aside))
        for col in aside.columns:
            conn.execute(SetColumnComment(col))


@contextmanager
def _lock_wait(table: str, timeout: float) -> Iterator[None]:
    """PostgreSQL's lock timeout (SQLSTATE 55P03) inside the block becomes `PublishBlocked`."""
    try:
        yield
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":
            raise PublishBlocked(table, timeout) from exc
        raise


def _layout(conn: Connection, table: str, as_name: str) -> tuple:
    """PostgreSQL: a table's columns (name, type, NOT NULL, comment, in order), comment, key
    and indexes, with `table` in constraint and index names written as `as_name`."""
    oid = conn.execute(text("SELECT CAST(:t AS regclass)::oid"), {"t": quote(conn, table)}).scalar_one()
    cols = conn.execute(text(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull, col_description(attrelid, attnum) "
        "FROM pg_attribute WHERE attrelid = :o AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
    ), {"o": oid}).all()
    comment = conn.execute(text("SELECT obj_description(CAST(:o AS oid), 'pg_class')"), {"o": oid}).scalar()
    indexes = conn.execute(text(
        "SELECT c.relname, i.indisprimary, i.indisunique, "
        "ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o) "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = :o"
    ), {"o": oid}).all()
    return (
        [tuple(c) for c in cols],
        comment,
        sorted((n.replace(table, as_name), p, u, tuple(k)) for n, p, u, k in indexes),
    )


def _refill(conn: Connection, name: str) -> None:
    """PostgreSQL: the rows of `<name>__new` replace those of `<name>`, in the same table.

    DELETE and INSERT take ROW EXCLUSIVE, which conflicts with no reader's lock, and keep the
    previous rows visible to every snapshot taken before the commit (DROP would not)."""
    cols = ", ".join(quote(conn, c.name) for c in TABLES[name].columns)
    conn.exec_driver_sql(f"DELETE FROM {quote(conn, name)}")
    conn.exec_driver_sql(
        f"INSERT INTO {quote(conn, name)} ({cols}) SELECT {cols} FROM {quote(conn, name + NEW)}"
    )
    conn.exec_driver_sql(f"DROP TABLE {quote(conn, name + NEW)}")


def _swap(conn: Connection, names: list[str], pg: bool) -> None:
    """Replace each `<name>` by `<name>__new` (inside the caller's transaction).

    PostgreSQL: a `snapshot_table` that exists with the declared layout is refilled in place
    (`_refill`); the others are locked one at a time (under the transaction's lock timeout,
    so that a timeout names its table), dropped and replaced by the renamed aside table.
    """
    if pg:
        timeout = lock_timeout()
        exists = {
            n for n in names
            if conn.execute(text("SELECT to_regclass(:n)"), {"n": quote(conn, n)}).scalar()
        }
        in_place = [n for n in names if n in exists and snapshot_table(n)
                    and _layout(conn, n, n) == _layout(conn, n + NEW, n)]
        for name in in_place:
            with _lock_wait(name, timeout):
                _refill(conn, name)
        names = [n for n in names if n not in in_place]
        for name in names:
            if name in exists:
                with _lock_wait(name, timeout):
                    conn.exec_driver_sql(f"LOCK TABLE {quote(conn, name)} IN ACCESS EXCLUSIVE MODE")
        if in_place:
            log.info("refilled in place (snapshot-safe): %s", ", ".join(in_place))
        grant = _reader_role_exists(conn)
    for name in names:
        spec = SPEC_BY_NAME[name]
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(conn, name)}")
        conn.exec_driver_sql(f"ALTER TABLE {quote(conn, name + NEW)} RENAME TO {quote(conn, name)}")
        if pg:
            conn.exec_driver_sql(
                f"ALTER INDEX {quote(conn, pk_name(name + NEW))} RENAME TO {quote(conn, pk_name(name))}"
            )
            for ix in spec.indexes:
                conn.exec_driver_sql(
                    f"ALTER INDEX {quote(conn, index_name(name + NEW, ix))} "
                    f"RENAME TO {quote(conn, index_name(name, ix))}"
                )
            if grant and reader_can_read(name):
                conn.exec_driver_sql(f"GRANT SELECT ON {quote(conn, name)} TO {quote(conn, READER_ROLE)}")
        else:
            for ix in TABLES[name].indexes:
                conn.execute(CreateIndex(ix))


def _load_table(conn: Connection, name: str, frame: pl.DataFrame | pl.LazyFrame, pg: bool,
                bulk: ParallelSQLiteLoad | None = None) -> int:
    """Load one aside table; a LazyFrame (a large fact) one slice of its key at a time.

    Slicing by the key's first column (the month of 35 million enrolment rows) keeps one
    slice in memory, and loading the slices in order fills the key b-tree in order. On
    SQLite, when `bulk` is given, a large LazyFrame is built by worker processes and a
    DataFrame of `FRAME_MIN_ROWS` or more in this process, each into a scratch file copied in
    with one `INSERT … SELECT` (`sqlite_load.py`); when SQLite's attach slots run out, rows go
    in by `executemany`.
    """
    def scratch_ddl() -> str:
        return str(CreateTable(build_table(SPEC_BY_NAME[name], MetaData(), sqlite_load.SCRATCH_TABLE,
                                           with_key=False, with_indexes=False)).compile(dialect=conn.dialect)).strip()

    if isinstance(frame, pl.DataFrame):
        if bulk is not None and not pg and frame.height >= sqlite_load.FRAME_MIN_ROWS and bulk.free_slots:
            return bulk.load_frame(conn.connection.driver_connection, name, name + NEW, scratch_ddl(),
                                   sqlite_rows(name, frame))
        (copy_rows if pg else insert_rows)(conn, name, frame)
        return frame.height
    key = SPEC_BY_NAME[name].key
    counts = frame.group_by(key[0]).agg(pl.len()).collect()
    if bulk is not None and not pg and int(counts["len"].sum()) >= sqlite_load.PARALLEL_MIN_ROWS \
            and bulk.workers > 1 and bulk.free_slots:
        return bulk.load(conn.connection.driver_connection, name, name + NEW, scratch_ddl(), frame, key[0], counts)
    rows = 0
    for value, size in counts.sort(key[0]).select(key[0], "len").iter_rows():
        for chunk in key_ordered_slices(frame, key, value, size):
            chunk = prepare_frame(name, chunk)
            _write_sorted(conn, name, chunk, pg)
            rows += chunk.height
    return rows


def _write_sorted(conn: Connection, name: str, rows: pl.DataFrame, pg: bool, target: str | None = None) -> None:
    """Rows prepared for table `name`, in key order, into `target` (default `<name>__new`)."""
    if pg:
        copy_rows(conn, name, rows, target=target)
    else:
        insert_rows(conn, name, rows, presorted=True, target=target)


def _replace_partitions(conn: Connection, name: str, frame: pl.LazyFrame, parts: list[str],
                        pg: bool) -> tuple[int, int]:
    """Delete the rows of `parts` from the live table and load them again (same transaction).

    Returns (rows loaded, rows loaded − rows deleted)."""
    spec = SPEC_BY_NAME[name]
    col = partition_column(name)
    table = TABLES[name]
    rows = deleted = 0
    for part in parts:
        value = partition_value(name, part)
        deleted += conn.execute(table.delete().where(table.c[col] == value)).rowcount
        loaded = 0
        for chunk in key_ordered_slices(frame, spec.key, value, column=col):
            chunk = prepare_frame(name, chunk)
            if chunk.height:
                _write_sorted(conn, name, chunk, pg, target=name)
            loaded += chunk.height
        rows += loaded
        log.info("%s: partition %s replaced (%d rows)", name, part, loaded)
    return rows, rows - deleted


# -- public API ---------------------------------------------------------------------------


def publish(url: str, frames: Mapping[str, pl.DataFrame | pl.LazyFrame],
            fingerprints: Mapping[str, str] | None = None,
            partitions: Mapping[str, Mapping[str, str]] | None = None,
            report: dict[str, object] | None = None) -> dict[str, int]:
    """Atomically replace the warehouse tables named in `frames`; rows per table.

    DataFrames are checked before the database is touched. A LazyFrame (a large fact) is
    collected only when its table is loaded, so one large table at a time is in memory; if
    it does not fit its table, the transaction rolls back and the previous state stays.

    `fingerprints` names the content of some tables (e.g. the files a fact was read from);
    a table whose fingerprint equals the one it was last published with is left as it is,
    so a nightly refresh with one new tax file does not reload 35 million enrolment rows.
    Skipped tables are reported with count -1. When `fingerprints` is given, every
    DataFrame without one gets the digest of its rows, so an unchanged small table is kept too.

    `partitions` gives, for a large fact, a fingerprint per value of its key's first column
    (the month: the files its rows come from); the tables built every run get theirs from
    their rows (`frames.PARTITION_COLUMNS`: per year; other tables of 100 000 rows or more: per value
    of the key's first column). When a table was published with partition fingerprints before
    and at most half of them changed, only those partitions are deleted and loaded again, in
    place and in the same transaction; the count is then the rows reloaded and `report` (if
    given) lists the partitions under "partitions_replaced".
    """
    prepared: dict[str, pl.DataFrame | pl.LazyFrame] = {
        name: df if isinstance(df, pl.LazyFrame) else prepare_frame(name, df)
        for name, df in frames.items()
    }
    names = [n for n in table_names() if n in prepared]
    partitions = {n: dict(p) for n, p in (partitions or {}).items() if n in prepared}
    if fingerprints is not None:
        fingerprints = dict(fingerprints)
        for n in names:
            frame = prepared[n]
            if n not in fingerprints and isinstance(frame, pl.DataFrame):
                fingerprints[n] = content_fingerprint(frame)
                if n not in partitions and partitioned_by_content(n, frame):
                    partitions[n] = content_partitions(n, frame)
    if not names:
        if report is not None:
            report["partitions_replaced"] = {}
        return {}
    url = warehouse_url(url)
    target = sqlite_file(url)
    if target is not None and not target.exists() and not Path(f"{target}-wal").exists():
        building = target.with_name(f".{target.name}.building-{os.getpid()}")
        try:
            building.unlink(missing_ok=True)
            _new_file(building)
            counts = _publish_into(f"sqlite:///{building}", names, prepared, fingerprints, partitions,
                                   report, unjournalled=True)
            with sqlite3.connect(building) as con:
                con.execute("PRAGMA journal_mode = WAL")
            con.close()
            os.link(building, target)  # fails if another publisher made the file meanwhile
            log.info("published a new warehouse file %s", target)
            return counts
        except FileExistsError:
            log.warning("%s appeared during the first publication; publishing into it", target)
        finally:
            building.unlink(missing_ok=True)
    return _publish_into(url, names, prepared, fingerprints, partitions, report)


def _new_file(path: Path) -> None:
    """An empty SQLite database at `path` with the bulk load's page size (`sqlite_load.PAGE_SIZE`),
    which can only be chosen before the first page is written (no journal: nothing to roll back)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute(f"PRAGMA page_size = {sqlite_load.PAGE_SIZE}")
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("VACUUM")
    finally:
        con.close()


def _publish_into(url: str, names: list[str], prepared: Mapping[str, pl.DataFrame | pl.LazyFrame],
                  fingerprints: dict[str, str] | None, partitions: dict[str, dict[str, str]],
                  report: dict[str, object] | None, unjournalled: bool = False) -> dict[str, int]:
    """`publish`'s one transaction on the database at `url`."""
    counts: dict[str, int] = {}
    replaced: dict[str, list[str]] = {}
    pg = is_postgres(url)
    timeout = lock_timeout() if pg else 0.0
    engine = make_engine(url, unjournalled=unjournalled)
    bulk = None if pg else ParallelSQLiteLoad(make_url(url).database, sqlite_load.load_workers())
    try:
        with engine.connect() as conn, ExitStack() as stack:
            # a lock timeout not attributed to a table below: the bookkeeping tables
            stack.enter_context(_lock_wait(f"{PUBLICATION_TABLE} / {PARTITION_TABLE} / {ROWS_TABLE}", timeout))
            if bulk is not None:
                stack.enter_context(bulk)
                # after the commit (or rollback): a file a transaction read cannot be detached earlier
                stack.callback(bulk.detach, conn.connection.driver_connection)
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                if pg:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
                    # from here on no lock is waited for longer than this (another publisher
                    # is waited for above: it finishes; a reader may not); 0 turns it off
                    ms = max(1, round(timeout * 1000)) if timeout else 0
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{ms}ms'")
                else:
                    conn.exec_driver_sql("PRAGMA cache_size = -262144")
                _drop_leftovers(conn)
                unchanged: list[str] = []
                in_place: dict[str, list[str]] = {}
                if fingerprints or partitions:
                    existing = {n for n in names if table_exists(conn, n)}
                    previous = published_fingerprints(conn)
                    previous_parts = published_partitions(conn)
                    unchanged = [n for n in names if n in existing and n in (fingerprints or {})
                                 and previous.get(n) == fingerprints[n]]
                    for n in unchanged:
                        counts[n] = -1
                    names = [n for n in names if n not in unchanged]
                    for n in names:
                        if n in existing and n in partitions:
                            parts = changed_partitions(n, partitions[n], previous_parts.get(n, {}))
                            if parts is not None:
                                in_place[n] = parts
                aside = [n for n in names if n not in in_place]
                delta: dict[str, int] = {}
                for name, parts in in_place.items():
                    with _lock_wait(name, timeout):
                        counts[name], delta[name] = _replace_partitions(conn, name, prepared[name].lazy(),
                                                                        parts, pg)
                    replaced[name] = parts
                for name in aside:
                    _create_aside(conn, name, pg)
                    counts[name] = _load_table(conn, name, prepared[name], pg, bulk)
                    if pg:
                        index_aside(conn, name)
                _swap(conn, aside, pg)
                if fingerprints is not None or partitions:
                    record_rows(conn, {n: counts[n] for n in aside}, delta)
                if fingerprints or partitions:
                    # an unchanged table's months are recorded too, if they were not yet
                    late = [n for n in unchanged if partitions.get(n) and n not in previous_parts]
                    record_fingerprints(conn, fingerprints or {}, names + late, partitions)
        log.info("published %s", ", ".join(f"{n} ({counts[n]} rows)" for n in names))
    finally:
        engine.dispose()
    if report is not None:
        report["partitions_replaced"] = replaced
    return counts


def replace_year(url: str, frames: Mapping[str, pl.DataFrame], year: int,
                 county: str | None = None) -> dict[str, int]:
    """Replace one year's rows of each table in `frames`, in one transaction.

    For recomputing or backfilling a single year of the indicator, evaluation and
    published tables: the rows of other years are left as they are. With `county`, only
    that county's rows of the year (tables with a `county_code` column).
    """
    prepared = {name: prepare_frame(name, df) for name, df in frames.items()}
    for name, df in prepared.items():
        if df.height and set(df["year"].unique().to_list()) != {year}:
            raise PublishError(f"{name}: rows of other years than {year} given to replace_year")
        if county is not None:
            if "county_code" not in TABLES[name].c:
                raise PublishError(f"{name} has no county_code: it cannot be replaced for one county")
            if df.height and set(df["county_code"].unique().to_list()) != {county}:
                raise PublishError(f"{name}: rows of other counties than {county} given to replace_year")
    engine = make_engine(warehouse_url(url))
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                delta = {}
                for name, df in prepared.items():
                    t = TABLES[name]
                    where = t.c.year == year if county is None else (t.c.year == year) & (t.c.county_code == county)
                    gone = conn.execute(t.delete().where(where)).rowcount
                    if df.height:
                        conn.execute(TABLES[name].insert(), df.to_dicts())
                    delta[name] = df.height - gone
                if published_row_counts(conn):
                    record_rows(conn, {}, delta)
                # the rows no longer are what the recorded fingerprints describe: the next
                # publication rewrites these tables whole
                forget_fingerprints(conn, list(prepared))
    finally:
        engine.dispose()
    return {name: df.height for name, df in prepared.items()}
