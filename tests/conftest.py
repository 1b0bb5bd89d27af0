"""Shared fixtures: a real PostgreSQL 15 server per test session (per xdist worker) and
`warehouse_url`, which runs a test on SQLite and on PostgreSQL.

The tests leave the checkout alone (issue 12, item 10): every default folder and URL the
pipeline would take relative to the working directory points into a temporary folder for the
session, and the session fails when anything under the checkout's ``warehouse/`` or ``raw/``
changed while it ran."""

from __future__ import annotations

import atexit
import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from tests.postgres_server import PostgresServer, PostgresUnavailable, wait_ready
except ImportError:  # tests/ is not a package: conftest's folder is on sys.path
    from postgres_server import PostgresServer, PostgresUnavailable, wait_ready


CHECKOUT = Path(__file__).resolve().parents[1]
#: The checkout's folders that hold the user's data and reports: no test may change them.
GUARDED = ("warehouse", "raw")
#: Files up to this size are hashed too; larger ones (a real warehouse) by size and mtime.
HASHED_BYTES = 1 << 20


def fingerprint(root: Path = CHECKOUT, folders: tuple[str, ...] = GUARDED) -> dict[str, tuple]:
    """Every entry under ``root/folder`` (the folders themselves included), by relative path:
    kind, size, mtime_ns, and for a small regular file the SHA-256 of its bytes. Links are not
    followed; what cannot be read is recorded as such."""
    out: dict[str, tuple] = {}

    def entry(path: Path) -> None:
        rel = path.relative_to(root).as_posix()
        try:
            st = path.lstat()
        except OSError as exc:  # vanished while listed
            out[rel] = ("gone", type(exc).__name__)
            return
        kind = ("dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode)
                else "link" if stat.S_ISLNK(st.st_mode) else "other")
        digest = ""
        if kind == "file" and st.st_size <= HASHED_BYTES:
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:
                digest = f"unreadable: {type(exc).__name__}"
        elif kind == "link":
            digest = os.readlink(path)
        size = 0 if kind == "dir" else st.st_size  # a folder's size says nothing portable
        out[rel] = (kind, size, st.st_mtime_ns, digest)

    for name in folders:
        top = root / name
        if not top.exists() and not top.is_symlink():
            out[name] = ("absent",)
            continue
        entry(top)
        for folder, dirs, files in os.walk(top):  # does not follow links into other folders
            for n in sorted(dirs) + sorted(files):
                entry(Path(folder) / n)
    return out


def fingerprint_changes(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    """What differs between two fingerprints, one line per path (added, removed, changed)."""
    lines = [f"added   {p}" for p in sorted(after.keys() - before.keys())]
    lines += [f"removed {p}" for p in sorted(before.keys() - after.keys())]
    lines += [f"changed {p}: {before[p]} -> {after[p]}" for p in sorted(before.keys() & after.keys())
              if before[p] != after[p]]
    return lines


@pytest.fixture(scope="session", autouse=True)
def _checkout_untouched() -> Iterator[None]:
    """Fails the session (an error at the teardown of its last test) when anything under the
    checkout's ``warehouse/`` or ``raw/`` changed while the tests ran.

    Under pytest-xdist every worker records its own fingerprint before its first test and
    compares at its end: whichever worker's test wrote, that worker's comparison comes after
    the write. The first fixture of the session (defined first, autouse), so torn down last.
    """
    before = fingerprint()
    yield
    changes = fingerprint_changes(before, fingerprint())
    if changes:
        shown = "\n  ".join(changes[:50]) + (f"\n  … {len(changes) - 50} more" if len(changes) > 50 else "")
        pytest.fail(f"the tests changed the checkout's {' and '.join(f'{g}/' for g in GUARDED)} "
                    f"(tests must write under temporary folders only; or did something else write "
                    f"there while they ran?):\n  {shown}", pytrace=False)


#: Variables whose defaults are relative to the working directory (the checkout when the
#: suite runs): set, for the session, to temporary folders. A test that sets one wins.
_SET = ("TOWNSTAT_REPORTS_DIR", "TOWNSTAT_CACHE_DIR", "TOWNSTAT_RAW_DIR", "WAREHOUSE_URL")
#: Variables unset for the session: the staging and scratch folders then default to a
#: temporary folder per refresh and to the (temporary) warehouse file's folder.
_UNSET = ("TOWNSTAT_STAGING_DIR", "TOWNSTAT_SCRATCH_DIR")


def make_dagster_home(folder: Path) -> Path:
    """A Dagster instance folder made from the shipped `dagster.yaml` (`folder` is created)."""
    from pipelines.status import SHIPPED_INSTANCE_YAML, make_instance_folder

    assert SHIPPED_INSTANCE_YAML.is_file(), SHIPPED_INSTANCE_YAML
    return make_instance_folder(folder)


@pytest.fixture(scope="session", autouse=True)
def _isolated_outputs(tmp_path_factory) -> Iterator[None]:
    """Reports, cache, raw area, warehouse and Dagster instance default to per-session temporary
    folders (xdist workers never share one), whatever the caller's environment says; and the
    slow GX suite runs only in the tests that turn it on (TOWNSTAT_GX=on).

    DAGSTER_HOME: a refresh records its run in the project's instance (default: the checkout's
    ./dagster_home); in the tests that is one made from the shipped `dagster.yaml` in the
    session's temporary folder (what a CLI or a webserver started as a subprocess uses; the
    in-process refreshes use an ephemeral one, see `_ephemeral_in_process_instance`)."""
    saved = {k: os.environ.get(k) for k in (*_SET, *_UNSET, "TOWNSTAT_GX", "DAGSTER_HOME")}
    base = tmp_path_factory.mktemp("session-defaults")
    for k in ("reports", "cache", "raw"):
        (base / k).mkdir()
    os.environ["TOWNSTAT_REPORTS_DIR"] = str(base / "reports")
    os.environ["TOWNSTAT_CACHE_DIR"] = str(base / "cache")
    os.environ["TOWNSTAT_RAW_DIR"] = str(base / "raw")
    os.environ["WAREHOUSE_URL"] = f"sqlite:///{base / 'warehouse.sqlite'}"
    os.environ["DAGSTER_HOME"] = str(make_dagster_home(base / "dagster_home"))
    for k in _UNSET:
        os.environ.pop(k, None)
    os.environ["TOWNSTAT_GX"] = "off"
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


#: `pipelines.refresh._instance` as written (the session replaces it; `project_instance` restores it).
_REAL_INSTANCE: list = []


@pytest.fixture(scope="session", autouse=True)
def _ephemeral_in_process_instance(_isolated_outputs) -> Iterator[None]:
    """In-process refreshes (`run_refresh`, `pipelines.cli.main(["refresh", ...])`) record their
    runs in an ephemeral, in-memory Dagster instance: a SQLite instance commits each of a run's
    ~300 events to disk, which made the small refresh of tests/evaluation/test_goals_refresh.py
    about twice as slow (13-19 s against 33-36 s on the shared 2-core machine). A test that
    needs the real instance (`DAGSTER_HOME`) takes `project_instance`."""
    from dagster import DagsterInstance

    import pipelines.refresh as refresh

    _REAL_INSTANCE.append(real := refresh._instance)
    refresh._instance = lambda stack: stack.enter_context(DagsterInstance.ephemeral())
    yield
    refresh._instance = real


@pytest.fixture
def project_instance(tmp_path, monkeypatch) -> Path:
    """In-process refreshes use the project's real instance (`pipelines.status.open_instance`),
    at a fresh `DAGSTER_HOME` made from the shipped `dagster.yaml`; returns that folder."""
    import pipelines.refresh as refresh

    home = make_dagster_home(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setattr(refresh, "_instance", _REAL_INSTANCE[0])
    return home


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
