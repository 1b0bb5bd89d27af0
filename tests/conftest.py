"""Shared fixtures: a real PostgreSQL 15 server per test session (per xdist worker) and
`warehouse_url`, which runs a test on SQLite and on PostgreSQL."""

from __future__ import annotations

import atexit
import uuid
from collections.abc import Iterator

import pytest

try:
    from tests.postgres_server import PostgresServer, PostgresUnavailable, wait_ready
except ImportError:  # tests/ is not a package: conftest's folder is on sys.path
    from postgres_server import PostgresServer, PostgresUnavailable, wait_ready


@pytest.fixture(scope="session", autouse=True)
def _isolated_outputs(tmp_path_factory) -> Iterator[None]:
    """Reports go to a per-session folder (xdist workers never share one), and the slow GX
    suite runs only in the tests that turn it on (TOWNSTAT_GX=on)."""
    import os

    saved = {k: os.environ.get(k) for k in ("TOWNSTAT_REPORTS_DIR", "TOWNSTAT_GX")}
    os.environ["TOWNSTAT_REPORTS_DIR"] = str(tmp_path_factory.mktemp("reports"))
    os.environ["TOWNSTAT_GX"] = "off"
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server; FAILS (never skips) when it cannot be started."""
    try:
        server = PostgresServer()
        server.start()
        wait_ready(server)
    except PostgresUnavailable as exc:
        pytest.fail(f"cannot start the test PostgreSQL server: {exc}", pytrace=False)
    atexit.register(server.stop)  # also when the session is interrupted
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_session_url(postgres_server: PostgresServer) -> str:
    """`postgresql+psycopg://postgres@127.0.0.1:PORT/townstat` (shared by the session)."""
    return postgres_server.url()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh SQLite warehouse file for one test."""
    return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request) -> str:
    """A fresh, empty warehouse; every test taking it runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param])
