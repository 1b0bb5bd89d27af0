"""Engines for the warehouse: SQLite (default, WAL) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from pipelines import settings

DEFAULT_URL = settings.DEFAULT_WAREHOUSE_URL
SQLITE_BUSY_TIMEOUT_MS = 60_000


def warehouse_url(url: str | None = None) -> str:
    """The URL given, else `WAREHOUSE_URL`, else the default SQLite file."""
    return url or settings.warehouse_url()


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite warehouse URL (None for PostgreSQL, memory and URI databases)."""
    u = make_url(warehouse_url(url))
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:"):
        return None
    return Path(u.database).expanduser()


def make_engine(url: str | None = None, *, unjournalled: bool = False) -> Engine:
    """An engine for the warehouse.

    SQLite: the parent folder is created; every connection is in WAL mode with a busy
    timeout, and transactions are real (`BEGIN` is emitted by us, so DDL is transactional).
    `unjournalled` is for building a new file nobody else can see yet (`publish`'s first
    publication): no journal, no fsync, and no rollback either, so a failure must discard
    the file. PostgreSQL: `postgresql://` and `postgres://` URLs use psycopg 3.
    """
    u = make_url(warehouse_url(url))
    backend = u.get_backend_name()
    if backend == "postgresql":
        if u.drivername in ("postgresql", "postgres"):
            u = u.set(drivername="postgresql+psycopg")
        # Timestamps come back in UTC whatever the server's TimeZone setting.
        return create_engine(u, pool_pre_ping=True, connect_args={"options": "-c TimeZone=UTC"})
    if backend != "sqlite":
        raise ValueError(f"unsupported warehouse backend {backend!r} (sqlite or postgresql)")
    if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        u, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial
        # Let SQLAlchemy (not the sqlite3 module) control transactions.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if unjournalled:
            cur.execute("PRAGMA journal_mode = OFF")
            cur.execute("PRAGMA synchronous = OFF")
        else:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - trivial
        # A writer asks for `BEGIN IMMEDIATE` (execution option `sqlite_begin`) so that it
        # takes the write lock up front and waits on the busy timeout instead of failing.
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine
