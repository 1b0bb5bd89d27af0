"""Loading rows into SQLite: `executemany` in large batches, or scratch files copied in.

Rows go in sorted by the table's key (the key b-tree then fills in order), with dates and
datetimes as SQLAlchemy stores them in SQLite (`sqlite_rows`). A small frame is inserted
with `executemany` (`insert_rows`).

Bulk load of a large fact on every core, then one copy inside the transaction:
Python's `executemany` fills a SQLite table at roughly 120 000 rows a second on one core;
the 38 million enrolment rows of a province would hold the write lock for minutes. So the
rows are cut into a few contiguous ranges of the table's key (whole months), and worker
processes each build one range as a table of its own scratch SQLite file (journal off: a
scratch file that a crash spoils is simply built again; Arrow batches through ADBC, about
370 000 rows a second per core). The publisher, inside its one
transaction, ATTACHes each file as soon as it is ready and copies it with a single
`INSERT … SELECT` in key order, which runs in SQLite's C code at several times the speed
of `executemany`. Atomicity is untouched: readers see the warehouse before or after the
commit, and the scratch files are deleted afterwards whatever happened.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import polars as pl
from sqlalchemy import Connection

from pipelines import settings
from pipelines.parquet import write_parquet

from . import slices, sql
from .frames import prepare_frame
from .slices import key_ordered_slices
from .sql import NEW, quote
from .tables import SPEC_BY_NAME

log = logging.getLogger(__name__)

#: The table's name inside a scratch file: never a warehouse table's name, so that an unqualified
#: name in the publisher's SQL (DROP TABLE, ALTER TABLE) can never resolve to an attached file.
SCRATCH_TABLE = "townstat_scratch_rows"
#: SQLite attaches at most 10 databases to one connection; the chunks of one publication share them.
MAX_CHUNKS_PER_TABLE = 4
#: Below this many rows the one-process path is quicker than starting workers.
PARALLEL_MIN_ROWS = 1_000_000
#: A frame already in memory with at least this many rows goes through a scratch file written
#: in this process (ADBC, then one copy) rather than `executemany`.
FRAME_MIN_ROWS = 50_000
#: SQLite's limit on databases attached to one connection (SQLITE_MAX_ATTACHED).
MAX_ATTACHED = 10
#: Page size of the scratch files and of a warehouse file built new (`publish`'s first
#: publication): 4 times SQLite's default. A bulk load then makes a quarter of the page
#: reads, writes and b-tree page splits; measured on 2 M enrolment rows, the copy of the
#: scratch files into the table took about 30 % less CPU. An existing warehouse file keeps
#: the page size it was made with.
PAGE_SIZE = 16_384


def sqlite_rows(name: str, df: pl.DataFrame, presorted: bool = False) -> pl.DataFrame:
    """Sorted by key (the key b-tree then fills in order) with dates as SQLAlchemy's text."""
    spec = SPEC_BY_NAME[name]
    if not presorted:
        df = df.sort(spec.key)
    conv = []
    for col, dtype in df.schema.items():
        if dtype == pl.Date:
            conv.append(pl.col(col).dt.strftime("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            # SQLAlchemy's SQLite DATETIME storage format (UTC, naive).
            conv.append(pl.col(col).dt.strftime("%Y-%m-%d %H:%M:%S.%6f"))
    return df.with_columns(conv) if conv else df


def insert_rows(conn: Connection, name: str, df: pl.DataFrame, presorted: bool = False,
                target: str | None = None) -> None:
    """`executemany` the rows of `df` (prepared for table `name`) into `target` (default `<name>__new`)."""
    df = sqlite_rows(name, df, presorted)
    cols = ", ".join(quote(conn, c) for c in df.columns)
    marks = ", ".join("?" for _ in df.columns)
    insert_sql = f"INSERT INTO {quote(conn, target or name + NEW)} ({cols}) VALUES ({marks})"
    cur = conn.connection.driver_connection.cursor()
    try:
        for off in range(0, df.height, sql.BATCH_ROWS):
            batch = df.slice(off, sql.BATCH_ROWS)
            # column lists zipped into tuples: cheaper than Polars' row iterator
            cur.executemany(insert_sql, zip(*(s.to_list() for s in batch.iter_columns()), strict=True))
            log.info("%s: loaded %d/%d rows", name, min(off + sql.BATCH_ROWS, df.height), df.height)
    finally:
        cur.close()


# -- bulk load through scratch files ------------------------------------------------------------


def load_workers() -> int:
    """Worker processes for a bulk load (TOWNSTAT_LOAD_WORKERS; default: cores)."""
    return settings.load_workers()


def chunk_ranges(counts: pl.DataFrame, column: str, n_chunks: int) -> list[list[object]]:
    """Contiguous runs of sorted key values with about the same number of rows each.

    `counts` has one row per value of `column` and its row count `len`.
    """
    counts = counts.sort(column)
    total = int(counts["len"].sum())
    target = total / max(1, n_chunks)
    chunks: list[list[object]] = [[]]
    running = 0
    for value, n in counts.select(column, "len").iter_rows():  # one row per month: a few dozen
        if chunks[-1] and running >= target * len(chunks) and len(chunks) < n_chunks:
            chunks.append([])
        chunks[-1].append(value)
        running += n
    return [c for c in chunks if c]


def _build_chunk(name: str, ddl: str, frame: pl.LazyFrame, values: list[object], sizes: list[int],
                 path: str, slice_rows: int) -> int:
    """In a worker: one scratch SQLite file holding the rows of `values`, in key order.

    `ddl` creates the table under the name `SCRATCH_TABLE`, without a key: a plain rowid
    table filled in key order, which the publisher's copy then reads in that order. The rows
    go in through ADBC's SQLite driver, which binds Arrow columns in C (about 3x the speed of
    `executemany`, which first makes a Python object of every value). Its own bundled SQLite
    only ever touches this private, unjournalled file; the warehouse itself is written by
    the publisher's `sqlite3` connection alone. `values` are values of the key's first column,
    `sizes` their rows; each is read in slices of about `slice_rows` rows (`slices.py`).
    """
    key = SPEC_BY_NAME[name].key

    def parts():
        for value, size in zip(values, sizes, strict=True):
            for chunk in key_ordered_slices(frame, key, value, size, slice_rows=slice_rows):
                yield sqlite_rows(name, prepare_frame(name, chunk), presorted=True)

    return write_scratch(path, ddl, parts())


def write_scratch(path: str, ddl: str, frames: Iterable[pl.DataFrame]) -> int:
    """A new scratch file at `path`: `ddl`'s table filled with `frames` in order; rows written."""
    from adbc_driver_sqlite import dbapi as adbc

    with adbc.connect(path, autocommit=True) as conn, conn.cursor() as cur:
        # page_size first: it only takes effect before the file's first page is written
        for pragma in (f"page_size = {PAGE_SIZE}", "journal_mode = OFF", "synchronous = OFF",
                       "cache_size = -131072"):
            cur.execute(f"PRAGMA {pragma}")
            cur.fetchall()
        cur.execute(ddl)
        rows = 0
        for chunk in frames:
            cur.adbc_ingest(SCRATCH_TABLE, chunk.to_arrow(), mode="append")
            rows += chunk.height
        return rows


def _holds_data(frame: pl.LazyFrame) -> bool:
    """Whether the plan carries rows held in memory (not only scans of files).

    Read from the plan's text: pickling the plan to measure it would copy the rows (18 s and
    900 MB for 4 million enrolment rows)."""
    return "DF [" in frame.explain(optimized=False)


def _init_worker(threads: str) -> None:
    os.environ["POLARS_MAX_THREADS"] = threads


def scratch_root(database: str | None) -> str:
    """Where scratch files go: TOWNSTAT_SCRATCH_DIR, else beside the warehouse file."""
    configured = settings.scratch_dir()
    if configured:
        Path(configured).mkdir(parents=True, exist_ok=True)
        return configured
    if database and database != ":memory:" and not database.startswith("file:"):
        return str(Path(database).expanduser().resolve().parent)
    return tempfile.gettempdir()


class ParallelSQLiteLoad:
    """Scratch files built by worker processes and copied in by the publisher's connection.

    Use as a context manager around the publisher's transaction; `load()` is called inside
    it, once per large table. `detach()` runs after the commit (SQLite cannot detach a file
    a transaction has read).
    """

    def __init__(self, database: str | None, workers: int | None = None) -> None:
        self.workers = workers or load_workers()
        self.database = database
        self._dir: Path | None = None  # made at the first load: a night with no large table to load makes none
        self.attached: list[str] = []
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ParallelSQLiteLoad:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def dir(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix=".townstat-load-", dir=scratch_root(self.database)))
        return self._dir

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            threads = str(max(1, (os.cpu_count() or 1) // self.workers))
            # spawn, not fork: this process runs Polars' thread pool
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker, initargs=(threads,))
        return self._pool

    @property
    def free_slots(self) -> int:
        """Scratch files that can still be attached in this transaction."""
        return MAX_ATTACHED - len(self.attached)

    def _copy(self, dbapi_conn: sqlite3.Connection, path: str, target: str) -> None:
        alias = f"townstat_load_{len(self.attached)}"
        dbapi_conn.execute(f"ATTACH DATABASE ? AS {alias}", (path,))
        self.attached.append(alias)
        cols = ", ".join(f'"{r[1]}"' for r in dbapi_conn.execute(f"PRAGMA {alias}.table_info({SCRATCH_TABLE})"))
        dbapi_conn.execute(f'INSERT INTO main."{target}" ({cols}) SELECT {cols} FROM {alias}.{SCRATCH_TABLE}')

    def load_frame(self, dbapi_conn: sqlite3.Connection, name: str, target: str, ddl: str,
                   rows: pl.DataFrame) -> int:
        """Fill `target` with `rows` (already as SQLite stores them, in key order), in this process."""
        path = str(self.dir / f"{name}.frame.sqlite")
        n = write_scratch(path, ddl, [rows])
        log.info("%s: %d rows written to a scratch file, copying them in", name, n)
        self._copy(dbapi_conn, path, target)
        return n

    def load(self, dbapi_conn: sqlite3.Connection, name: str, target: str, ddl: str,
             frame: pl.LazyFrame, column: str, counts: pl.DataFrame,
             progress: Callable[[str], None] | None = None) -> int:
        """Fill `target` (an empty table of `name`'s columns) with `frame`; rows loaded.

        Call only when `free_slots` is at least 1: the ranges are as many as there are free slots."""
        n_chunks = min(MAX_CHUNKS_PER_TABLE, max(2, self.workers * 2), self.free_slots)
        ranges = chunk_ranges(counts, column, n_chunks)
        if _holds_data(frame):
            # a frame held in memory (not a scan of files) would be copied to every worker;
            # sorted by the range column, each worker's filter then reads only its row groups
            staged = self.dir / f"{name}.parquet"
            write_parquet(frame.sort(column), staged)
            frame = pl.scan_parquet(staged)
        futures: list[tuple[str, Future[int]]] = []
        size = dict(counts.select(column, "len").iter_rows())
        for i, values in enumerate(ranges):
            path = str(self.dir / f"{name}.{i}.sqlite")
            futures.append((path, self._executor().submit(_build_chunk, name, ddl, frame, values,
                                                          [size[v] for v in values], path, slices.SLICE_ROWS)))
        rows = 0
        for i, (path, fut) in enumerate(futures):
            n = fut.result()
            self._copy(dbapi_conn, path, target)
            rows += n
            msg = f"{name}: loaded {rows} rows ({i + 1}/{len(futures)} parts)"
            log.info(msg)
            if progress:
                progress(msg)
        return rows

    def detach(self, dbapi_conn: sqlite3.Connection) -> None:
        for alias in self.attached:
            try:
                dbapi_conn.execute(f"DETACH DATABASE {alias}")
            except sqlite3.Error:  # pragma: no cover - connection already gone
                pass
        self.attached.clear()
