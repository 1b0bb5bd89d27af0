"""The Dagster instance's event log on SQLite, with its connections kept open.

Dagster's `SqliteEventLogStorage` makes a new SQLAlchemy engine, and so a new SQLite
connection that reads the schema again, for every event it stores, and each commit waits for
an fsync: 4-9 ms an event on this machine, 2.5-3 s of CPU for the 302 events of a nightly
province run (issue 16, bench/README.md). This subclass keeps one engine, its connection
pooled, per database file (the index and the few runs written last) and puts the files in
SQLite's write-ahead mode: an event then takes 0.4-0.7 ms. The files and their tables are
Dagster's own, so the UI, the daemon and every `dagster` command read them as before.

Named by the shipped `dagster_home/dagster.yaml` (`event_log_storage`). `base_dir` defaults to
where Dagster keeps the event log, `<instance folder>/history/runs`, the instance folder being
`DAGSTER_HOME`, else `./dagster_home` (`settings.dagster_home_dir`, as `status.open_instance`),
because a path written in the tracked file would be relative to the working directory.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine, event

from pipelines import settings

#: Run databases kept open besides the index (a daemon or the UI reads many runs; a run
#: writes its own).
KEPT_RUNS = 4


def _write_ahead_log(dbapi_connection, _record) -> None:  # noqa: ANN001 - SQLAlchemy's connect event
    """SQLite's write-ahead log, synced at checkpoints rather than at every commit: an event no
    longer waits for an fsync behind the run's Parquet and warehouse writes. The file stays
    consistent on a crash; a power cut may lose the last events. WAL is a property of the
    file: Dagster's own storage, the UI and the daemon (all on this machine, as the shipped
    instance is) read it as before."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def default_base_dir() -> str:
    return str(Path(settings.dagster_home_dir()) / "history" / "runs")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with one pooled engine per database file (see the module)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        # before Dagster's __init__, which may already store index rows through `_connect`
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._tables: set[str] = set()
        super().__init__(base_dir or default_base_dir(), inst_data)

    @classmethod
    def config_type(cls):  # noqa: ANN206 - Dagster's config schema
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value) -> PooledSqliteEventLogStorage:  # noqa: ANN001
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, made on first use; the least recently used run's is closed."""
        if os.getpid() != self._engines_pid:  # a forked child: the parent's connections are not its own
            self._engines = OrderedDict()
            self._engines_pid = os.getpid()
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(self.conn_string_for_shard(shard),
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        event.listen(engine, "connect", _write_ahead_log)
        self._engines[shard] = engine
        runs = [s for s in self._engines if s != INDEX_SHARD_NAME]
        for old in runs[:-KEPT_RUNS]:
            self._engines.pop(old).dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # as Dagster's, with the engine kept: one transaction per use, under the storage's lock
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        # asked at every asset-check event; a table, once there, stays (until `wipe`)
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def _dispose_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._dispose_engines()  # no connection left open on a file about to be deleted
        self._tables.clear()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines()
