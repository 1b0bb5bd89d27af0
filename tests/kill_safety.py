"""Kill-safety campaign (issue 12, item 8; contract v4 section 3).

"A process killed at any moment leaves the previous state, and the next refresh succeeds";
the ingest cache and every other file the pipeline keeps for itself never stop a refresh or
change what it publishes. This script checks both by killing real refreshes:

1. A clean reference: a cold ``townstat refresh`` of the raw area into a fresh warehouse,
   cache and reports folder; its tables are kept in memory and its wall time is the range
   of the random kill moments.
2. Rounds, each one ``townstat refresh`` started as a subprocess in its own process group and
   SIGKILLed (the whole group: validation and bulk-load workers too), then a refresh run to
   completion on the same warehouse, cache and Dagster instance. In turn (``--kinds``):

   - ``cold``: the killed refresh is the first one, into an empty warehouse and cache, killed
     at a moment drawn by a seeded RNG between 0 and the cold reference's wall time;
   - ``changed``: the killed refresh follows a completed one after a new tax file was added to
     the raw area; its reference is a clean cold refresh of the changed area, its kill range
     the wall time of an incremental refresh;
   - ``cold@publish``, ``changed@publish``: the same, killed during the publication (uniform
     moments land there rarely: it is a tenth of a run). A first publication is killed a random
     delay after its hidden new file appears (up to the time it wrote in the reference); an
     incremental one a random delay after its step started (up to the step's time: SQLite keeps
     a small transaction in memory until it commits), on PostgreSQL after its advisory lock
     was taken. Kills land before, during and after the commit (the in-place partition
     replacement, the swap).

   A refresh that ends before its moment is checked like any other and the round run again,
   its moment drawn up to the time that refresh took.

   Checks, per round: right after the kill, the warehouse holds the previous state or the
   whole new one (read from a copy of the SQLite files, so that the check does not recover
   the WAL on the next refresh's behalf); the next refresh exits 0 within the time-out; every
   warehouse table (``table_names()``, read with ``read_table``, rows sorted) equals the
   reference (floats to 1e-12 relative, noted: the last bits of a sum differ between two clean
   refreshes of the same files too), and so do the bookkeeping tables (fingerprints, row counts) and the set of
   tables in the database (no ``__new``/``__old`` left); ``PRAGMA integrity_check`` is ``ok``.
   Files left behind by the killed processes (hidden build files, scratch folders, temporary
   cache files, staging folders in TMPDIR) are listed: they are reported, not failures.

Which step was running at the kill is read from the run's Dagster event log: the refreshes
run with a persistent ``DAGSTER_HOME`` in the work folder, as in production (with
``--ephemeral-dagster``, from the last step named in the captured log instead).

Run by hand (10 kills of the county demo area, about 11 minutes on 2 cores; results in
``bench/README.md``, "Kill safety (issue 12)")::

    .venv/bin/python tests/kill_safety.py
    .venv/bin/python tests/kill_safety.py --kills 4 --area small --gx off
    .venv/bin/python tests/kill_safety.py --postgres-url auto      # a throw-away PostgreSQL 15

Exit 0 when every round passed, 1 when one failed (the work folder is then kept), 2 when a
reference refresh failed. ``tests/test_kill_safety.py`` runs two rounds of it on a small area.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: tests/ is sys.path[0], the checkout is not
    sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402

try:  # the readers left publish.py in issue 13
    from pipelines.warehouse.read import read_table
except ImportError:
    from pipelines.warehouse.publish import read_table
from pipelines.warehouse.tables import table_names  # noqa: E402
from tests.ingest.rawfiles import uscc, write_csv  # noqa: E402

#: The publication's own bookkeeping tables (fingerprints, partitions, row counts).
BOOKKEEPING = ("townstat_publication", "townstat_publication_part", "townstat_table_rows")
#: Variables of the caller's environment that would point a refresh elsewhere.
_DROP_ENV = ("WAREHOUSE_URL", "TOWNSTAT_RAW_DIR", "TOWNSTAT_STAGING_DIR", "TOWNSTAT_SCRATCH_DIR",
             "TOWNSTAT_CACHE_DIR", "TOWNSTAT_REPORTS_DIR", "DAGSTER_HOME", "TOWNSTAT_EXECUTOR")
#: The Dagster step that publishes the warehouse.
PUBLISH_STEP = "warehouse__published"
#: Polling period while waiting for the kill moment.
POLL_S = 0.005


def townstat_command() -> list[str]:
    exe = Path(sys.executable).with_name("townstat")
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-m", "pipelines.cli"]


# -- raw areas ------------------------------------------------------------------------------


def demo_area(root: Path, scale: str = "county", seed: int = 7) -> None:
    """``townstat demo-data --scale SCALE --seed SEED --out ROOT``."""
    subprocess.run([*townstat_command(), "demo-data", "--scale", scale, "--seed", str(seed), "--out",
                    str(root), "--quiet"], check=True, stdout=subprocess.DEVNULL)


def small_area(root: Path) -> None:
    """Eight enterprises, three tax months, one enrolment month (the hostile-area test's control)."""
    from tests.test_hostile_raw_area import clean_area

    clean_area(root)


def add_tax_file(raw: Path, k: int) -> Path:
    """The k-th change of the raw area: a new tax file (ten new taxpayers in November and
    December 2024, one of them in January 2025 too), with a fixed mtime so that every refresh
    of the area sees the same file."""
    rows = [f"2024-{12 if i % 2 else 11},{uscc(9000 + 20 * k + i)},{100 * k + i}.5" for i in range(10)]
    rows.append(f"2025-01,{uscc(9000 + 20 * k)},{k}")
    return write_csv(raw / "tax" / "kill_safety" / f"税收补报_{k:02d}.csv", ["所属期,纳税人识别号,增值税", *rows],
                     mtime=1_750_000_000 + k)


# -- warehouses -----------------------------------------------------------------------------


@dataclass
class Target:
    """A warehouse with its own cache and reports folder (the files a refresh keeps)."""

    root: Path
    url: str
    database: str | None = None  # PostgreSQL: the database's name

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def sqlite_file(self) -> Path | None:
        return None if self.database else self.root / "warehouse.sqlite"


@dataclass
class Snapshot:
    """What a warehouse holds: its tables, bookkeeping and the names of all its tables."""

    tables: dict[str, pl.DataFrame]
    bookkeeping: dict[str, pl.DataFrame]
    names: set[str]

    @property
    def empty(self) -> bool:
        return not self.names


#: Floats that differ by at most this much (relative) are the same number: the last bits of a
#: sum depend on the order of its terms, which differs between two clean refreshes too.
FLOAT_RTOL = 1e-12


def _floats(df: pl.DataFrame) -> list[str]:
    return [c for c, t in df.schema.items() if t.is_float()]


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    """Rows in a canonical order: by the non-float columns first (a key), then the floats."""
    if not df.height or not df.columns:
        return df
    floats = _floats(df)
    return df.sort([c for c in df.columns if c not in floats] + floats, nulls_last=True)


def read_snapshot(url: str) -> Snapshot:
    """Every table of the warehouse at `url` (``read_table``, rows `_sorted`), its bookkeeping
    tables and the names of all its tables."""
    from sqlalchemy import inspect

    from pipelines.warehouse.engine import make_engine

    engine = make_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        books = {}
        with engine.connect() as conn:
            for b in BOOKKEEPING:
                if b in names:
                    books[b] = _sorted(pl.read_database(f'select * from "{b}"', conn))
    finally:
        engine.dispose()
    tables = {t: _sorted(read_table(url, t)) for t in table_names() if t in names}
    return Snapshot(tables, books, names)


def _close(x: pl.DataFrame, y: pl.DataFrame) -> bool:
    """Same shape, the same non-float values, floats equal to FLOAT_RTOL (both frames `_sorted`)."""
    if x.shape != y.shape:
        return False
    floats = _floats(x)
    others = [c for c in x.columns if c not in floats]
    if not x.select(others).equals(y.select(others)):
        return False
    for c in floats:
        a, b = pl.col("a"), pl.col("b")
        same = pl.DataFrame({"a": x[c], "b": y[c]}).select(
            ((a.is_null() & b.is_null()) | (a.is_nan() & b.is_nan()) | (a == b)
             | ((a - b).abs() <= FLOAT_RTOL * pl.max_horizontal(a.abs(), b.abs()))).fill_null(False).all()).item()
        if not same:
            return False
    return True


@dataclass
class Comparison:
    """`differences` of two warehouses: what differs (`hard`), and the tables whose floats differ
    in their last bits only (`floats`: not a difference, listed)."""

    hard: list[str]
    floats: list[str]

    def __bool__(self) -> bool:
        return bool(self.hard)


def differences(got: Snapshot, want: Snapshot) -> Comparison:
    """What differs between two warehouses, one short line per table. A table whose floats
    differ by FLOAT_RTOL at most is listed in `floats` (its fingerprints in the bookkeeping
    tables then differ too, and are not compared)."""
    out: list[str] = []
    floats: list[str] = []
    if got.names != want.names:
        extra, missing = sorted(got.names - want.names), sorted(want.names - got.names)
        out.append(f"tables: extra {extra or '-'}, missing {missing or '-'}")

    def compare(kind: str, name: str, x: pl.DataFrame, y: pl.DataFrame) -> None:
        if x.columns != y.columns or x.dtypes != y.dtypes:
            out.append(f"{kind} {name}: columns {list(zip(x.columns, x.dtypes, strict=False))} "
                       f"!= {list(zip(y.columns, y.dtypes, strict=False))}")
        elif x.equals(y):
            return
        elif kind == "table" and _close(x, y):
            floats.append(name)
        else:
            only_got = x.join(y, on=x.columns, how="anti", nulls_equal=True)
            only_want = y.join(x, on=x.columns, how="anti", nulls_equal=True)
            out.append(f"{kind} {name}: {x.height} rows vs {y.height} in the reference; "
                       f"{only_got.height} rows only here, {only_want.height} only in the reference; "
                       f"e.g. here {only_got.head(2).rows()} / reference {only_want.head(2).rows()}")

    for name in sorted(got.tables.keys() & want.tables.keys()):
        compare("table", name, got.tables[name], want.tables[name])
    for name in sorted(got.bookkeeping.keys() & want.bookkeeping.keys()):
        x, y = got.bookkeeping[name], want.bookkeeping[name]
        if floats and "table_name" in x.columns and name != "townstat_table_rows":
            x = x.filter(~pl.col("table_name").is_in(floats))
            y = y.filter(~pl.col("table_name").is_in(floats))
        compare("bookkeeping", name, x, y)
    return Comparison(out, floats)


def integrity(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        rows = con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()
    return "; ".join(str(r[0]) for r in rows[:5])


class Postgres:
    """Databases on a PostgreSQL server given by an admin URL (or a throw-away server)."""

    def __init__(self, url: str) -> None:
        self.server = None
        if url == "auto":
            from tests.postgres_server import PostgresServer, wait_ready

            self.server = PostgresServer()
            self.server.start()
            wait_ready(self.server)
            url = self.server.url()
        self.admin_url = url
        self.made: list[str] = []
        self._watch = None  # a connection polling pg_locks

    def _conninfo(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.admin_url).set(drivername="postgresql", database=database) \
            .render_as_string(hide_password=False)

    def url(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def _admin(self, sql: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        with psycopg.connect(self._conninfo(make_url(self.admin_url).database or "postgres"),
                             autocommit=True) as con:
            con.execute(sql)

    def create(self, name: str) -> str:
        self._admin(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return self.url(name)

    def sessions(self, name: str) -> int:
        """Sessions other than ours connected to database `name` (a killed client's leftover)."""
        import psycopg

        with psycopg.connect(self._conninfo(name), autocommit=True) as con:
            return con.execute("select count(*) from pg_stat_activity where datname = %s and pid <> "
                               "pg_backend_pid()", (name,)).fetchone()[0]

    def publishing(self, name: str) -> bool:
        """Whether a publication into database `name` holds its transaction's advisory lock."""
        import psycopg

        if self._watch is None or self._watch.closed:
            from sqlalchemy.engine import make_url

            self._watch = psycopg.connect(self._conninfo(make_url(self.admin_url).database or "postgres"),
                                          autocommit=True)
        return bool(self._watch.execute("select count(*) from pg_locks l join pg_database d on d.oid = l.database "
                                        "where l.locktype = 'advisory' and l.granted and d.datname = %s",
                                        (name,)).fetchone()[0])

    def close(self, keep: bool = False) -> None:
        if self._watch is not None:
            self._watch.close()
        if not keep:
            for name in self.made:
                try:
                    self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except Exception as exc:  # noqa: BLE001 - cleaning up; say so and go on
                    print(f"could not drop database {name}: {exc}", file=sys.stderr)
        if self.server is not None:
            self.server.stop()


# -- processes ------------------------------------------------------------------------------


def group_alive(pgid: int) -> list[int]:
    """Processes of process group `pgid` that are not zombies (Linux /proc; else by kill 0)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    alive = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()  # after "pid (comm)": state ppid pgrp ...
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def kill_group(proc: subprocess.Popen) -> list[int]:
    """SIGKILL the whole process group of `proc`; the processes still there after 10 s."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    deadline = time.monotonic() + 10
    while (left := group_alive(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@dataclass
class Trigger:
    """When to kill: at `seconds` after the start, once Dagster step `step` has started, or
    once the publication writes the warehouse (`publishing`); whichever is given first. Then
    `delay` more seconds."""

    seconds: float | None = None
    step: str | None = None
    publishing: bool = False
    delay: float = 0.0

    def describe(self) -> str:
        parts = ([f"{self.seconds:.1f}s"] if self.seconds is not None else []) + \
            ([f"step {self.step}"] if self.step else []) + (["publication"] if self.publishing else [])
        return " or ".join(parts) + (f" +{self.delay:.1f}s" if self.delay else "")


@dataclass
class Round:
    number: int
    kind: str
    trigger: str
    killed: bool = False
    kill_at: float | None = None  # seconds after the start
    kill_range: float | None = None
    at_kill: str = ""  # the running step, and what the warehouse folder held
    after_kill: str = ""  # previous / new / absent / MIXED
    stragglers: list[int] = field(default_factory=list)
    next_rc: int | None = None
    next_seconds: float | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    leftovers: tuple[int, int] = (0, 0)  # files, bytes
    share: float | None = None  # of the kill range (of the publication's time for "@publish")

    @property
    def ok(self) -> bool:
        return not self.failures


class Campaign:
    """A raw area, its references, and rounds of kills against persistent warehouses."""

    def __init__(self, work: Path, raw: Path, *, gx: bool = False, postgres: Postgres | None = None,
                 persistent_dagster: bool = True, timeout: float | None = None,
                 log: Callable[[str], None] = print) -> None:
        self.work = work
        self.raw = raw
        self.gx = gx
        self.pg = postgres
        self.log = log
        self.tmp = work / "tmp"  # the refreshes' TMPDIR: what a killed one leaves there is seen
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.dagster_home = work / "dagster_home" if persistent_dagster else None
        if self.dagster_home:
            self.dagster_home.mkdir(exist_ok=True)
            (self.dagster_home / "dagster.yaml").touch()
        self.logs = work / "logs"
        self.logs.mkdir(exist_ok=True)
        self.timeout = timeout
        self.state = 0  # tax files added so far
        self.refs: dict[int, Snapshot] = {}
        self.cold_seconds: float | None = None
        self.incremental_seconds: float | None = None
        # per kind: how long the publication wrote (first write to the end of its step), and
        # the publication step's time as the refresh printed it
        self.publish_seconds: dict[str, float] = {}
        self.publish_step: dict[str, float] = {}
        self.target: Target | None = None  # the warehouse the rounds kill into
        self.rounds: list[Round] = []
        self._series: list[Target] = []  # the warehouses killed into
        self._targets = 0
        self._proc: subprocess.Popen | None = None

    # -- plumbing ---------------------------------------------------------------------------
    def new_target(self, label: str) -> Target:
        self._targets += 1
        root = self.work / f"{self._targets:02d}-{label}"
        root.mkdir()
        if self.pg:
            name = f"ks_{uuid.uuid4().hex[:10]}_{label.replace('-', '_')}"
            return Target(root, self.pg.create(name), name)
        return Target(root, f"sqlite:///{root / 'warehouse.sqlite'}")

    def drop_target(self, t: Target) -> None:
        shutil.rmtree(t.root, ignore_errors=True)

    def env(self, t: Target) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
        env.update(TOWNSTAT_CACHE_DIR=str(t.cache), TOWNSTAT_REPORTS_DIR=str(t.reports),
                   TOWNSTAT_GX="on" if self.gx else "off", TMPDIR=str(self.tmp), PYTHONUNBUFFERED="1")
        if self.dagster_home:
            env["DAGSTER_HOME"] = str(self.dagster_home)
        return env

    def start(self, t: Target, log_name: str) -> tuple[subprocess.Popen, Path]:
        out = self.logs / f"{log_name}.log"
        with open(out, "wb") as fh:
            proc = subprocess.Popen([*townstat_command(), "refresh", "--raw", str(self.raw), "--warehouse", t.url],
                                    env=self.env(t), stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=self.work)
        self._proc = proc
        return proc, out

    def refresh(self, t: Target, log_name: str, watch: str | None = None) -> tuple[int, float, Path]:
        """A refresh run to completion (killed, with its group, at the time-out: rc -9).

        With `watch` (a kind), how long its publication wrote (from the first write to the
        end of the publication step, by the run's event log) is kept as that kind's
        `publish_seconds`, the range of the delays of "@publish" rounds."""
        t0 = time.monotonic()
        runs_before, before = self._runs(), self._publish_state(t)
        proc, out = self.start(t, log_name)
        first: float | None = None
        while proc.poll() is None:
            if watch and first is None and self._publishing(t, before):
                first = time.time()
            if self.timeout and time.monotonic() - t0 > self.timeout:
                kill_group(proc)
                break
            time.sleep(POLL_S if watch and first is None else 0.05)
        rc = -9 if proc.returncode < 0 else proc.returncode
        self._proc = None
        if watch and rc == 0:
            self.publish_step[watch] = self._step_seconds(out, PUBLISH_STEP) or 1.0
            end = self._step_end(runs_before, PUBLISH_STEP)
            if first is not None and end is not None and end > first:
                self.publish_seconds[watch] = end - first
            else:  # no event log: the step's time as the refresh printed it
                self.publish_seconds[watch] = self.publish_step[watch]
        return rc, time.monotonic() - t0, out

    def _step_end(self, runs_before: set[Path], step: str) -> float | None:
        """When `step` of the run started after `runs_before` succeeded (epoch seconds)."""
        import datetime as dt

        new = self._runs() - runs_before
        if not new:
            return None
        try:
            con = sqlite3.connect(next(iter(new)), timeout=1)
            try:
                row = con.execute("select timestamp from event_logs where dagster_event_type = 'STEP_SUCCESS' "
                                  "and step_key = ?", (step,)).fetchone()
            finally:
                con.close()
        except sqlite3.Error:
            return None
        if not row:
            return None
        stamp = row[0] if isinstance(row[0], str) else str(row[0])
        return dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.UTC).timestamp()

    def abort(self) -> None:
        """Kill a refresh still running (interrupted campaign)."""
        if self._proc is not None and self._proc.poll() is None:
            kill_group(self._proc)

    def snapshot_after_kill(self, t: Target) -> Snapshot:
        """The warehouse as a reader would find it now, without recovering it in place: a
        SQLite file is copied (with its WAL or journal) and the copy read."""
        db = t.sqlite_file
        if db is None:
            return read_snapshot(t.url)
        if not db.exists():
            return Snapshot({}, {}, set())
        look = self.work / "inspect"
        shutil.rmtree(look, ignore_errors=True)
        look.mkdir()
        for suffix in ("", "-wal", "-journal"):
            if Path(f"{db}{suffix}").exists():
                shutil.copy2(f"{db}{suffix}", look / f"warehouse.sqlite{suffix}")
        try:
            return read_snapshot(f"sqlite:///{look / 'warehouse.sqlite'}")
        finally:
            shutil.rmtree(look, ignore_errors=True)

    # -- where a run is ---------------------------------------------------------------------
    def _runs(self) -> set[Path]:
        if not self.dagster_home:
            return set()
        return {p for p in (self.dagster_home / "history" / "runs").glob("*.db") if p.name != "index.db"}

    @staticmethod
    def _steps(run_db: Path) -> tuple[list[str], list[str]] | None:
        """(steps started and not finished, steps finished) from a run's event log."""
        try:
            con = sqlite3.connect(run_db, timeout=0.5)  # WAL: a reader never blocks Dagster's writer
            try:
                rows = con.execute("select dagster_event_type, step_key from event_logs where dagster_event_type "
                                   "in ('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE') order by id").fetchall()
            finally:
                con.close()
        except sqlite3.Error:
            return None
        started = [s for e, s in rows if e == "STEP_START"]
        done = [s for e, s in rows if e != "STEP_START"]
        return [s for s in started if s not in done], done

    @staticmethod
    def _traces(t: Target) -> set[str]:
        """Publication files in the warehouse's and the cache's folders: a first publication's
        hidden new file, bulk-load scratch folders, the GX staging copy's new file."""
        db = t.sqlite_file
        found = set()
        if db is not None:
            found |= {p.name for p in db.parent.glob(f".{db.name}.building-*")}
            found |= {p.name for p in db.parent.glob(".townstat-load-*")}
        found |= {f"cache/{p.name}" for p in t.cache.glob(".gx-staging.sqlite.building-*")}
        return found

    @staticmethod
    def _wal(t: Target) -> int:
        try:
            return Path(f"{t.sqlite_file}-wal").stat().st_size if t.sqlite_file else 0
        except FileNotFoundError:
            return 0

    def _publish_state(self, t: Target) -> tuple[int, set[str]]:
        """What is there before a refresh starts (leftovers of a killed one included)."""
        return self._wal(t), self._traces(t)

    def _markers(self, t: Target, before: tuple[int, set[str]]) -> list[str]:
        """Publication traces that this refresh made, now."""
        out = []
        new = self._traces(t) - before[1]
        if any(".building-" in n and not n.startswith("cache/") for n in new):
            out.append("new file being built")
        if self._wal(t) > before[0]:
            out.append(f"WAL {self._wal(t) / 1024:,.0f}KB")
        if any(n.startswith(".townstat-load-") for n in new):
            out.append("bulk-load scratch")
        if any(n.startswith("cache/") for n in new):
            out.append("GX staging copy being built")
        return out

    def _publishing(self, t: Target, before: tuple[int, set[str]]) -> bool:
        """Whether the publication has begun writing the warehouse (since `before`)."""
        if t.sqlite_file is None:
            return self.pg.publishing(t.database)
        new = self._traces(t) - before[1]
        return any(not n.startswith("cache/") for n in new) or self._wal(t) > before[0]

    @staticmethod
    def _last_logged_step(out: Path) -> str:
        step = ""
        for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split(" - ")
            if len(parts) >= 6 and parts[1] == "dagster":
                step = parts[4]
        return step

    # -- the campaign -----------------------------------------------------------------------
    @staticmethod
    def _step_seconds(out: Path, step: str) -> float | None:
        """A step's time from the `step times` line a refresh prints at its end."""
        found = re.findall(rf"\b{step} ([0-9.]+)s", out.read_text(encoding="utf-8", errors="replace"))
        return float(found[-1]) if found else None

    def reference(self, label: str) -> tuple[Snapshot, float]:
        """A clean cold refresh of the area as it is now: its tables and wall time."""
        t = self.new_target(label)
        rc, seconds, out = self.refresh(t, label, watch=None if "cold" in self.publish_seconds else "cold")
        if rc != 0:
            raise RuntimeError(f"the reference refresh {label} exited {rc}; see {out}:\n"
                               + "\n".join(out.read_text(errors="replace").splitlines()[-15:]))
        snap = read_snapshot(t.url)
        self.drop_target(t)
        self.log(f"reference {label}: {seconds:.1f}s, "
                 f"{sum(df.height for df in snap.tables.values())} rows in {len(snap.tables)} tables")
        return snap, seconds

    def setup(self, measure_incremental: bool = True) -> None:
        """The reference of the area; with `measure_incremental`, also the wall time of a
        refresh after a change (the kill range of `changed` rounds), checked once against a
        clean refresh of the changed area (no kill: a baseline)."""
        self.refs[0], self.cold_seconds = self.reference("reference-0")
        if not measure_incremental:
            self.publish_seconds["changed"] = self.publish_seconds["cold"]
            self.publish_step["changed"] = self.publish_step["cold"]
            return
        t = self.new_target("incremental-baseline")
        rc, _, out = self.refresh(t, "incremental-baseline-first")
        if rc != 0:
            raise RuntimeError(f"the baseline refresh exited {rc}; see {out}")
        self.change()
        rc, self.incremental_seconds, out = self.refresh(t, "incremental-baseline", watch="changed")
        if rc != 0:
            raise RuntimeError(f"the incremental baseline refresh exited {rc}; see {out}")
        diff = differences(read_snapshot(t.url), self.refs[self.state])
        if diff:
            raise RuntimeError("an incremental refresh WITHOUT a kill differs from a clean refresh of the "
                               "same area (not a kill-safety defect):\n  " + "\n  ".join(diff.hard))
        self.drop_target(t)
        self.log(f"incremental refresh after a change: {self.incremental_seconds:.1f}s (equals a clean refresh"
                 + (f"; floats differ in their last bits in {', '.join(diff.floats)}" if diff.floats else "") + ")")
        self.log("publication: " + ", ".join(f"{k} {self.publish_step[k]:.1f}s, writing {v:.1f}s of it"
                                            for k, v in self.publish_seconds.items()))

    def change(self) -> None:
        """Add the next tax file to the raw area and make the reference of the new area."""
        self.state += 1
        add_tax_file(self.raw, self.state)
        self.refs[self.state], _ = self.reference(f"reference-{self.state}")
        for old in [k for k in self.refs if k < self.state - 1]:
            del self.refs[old]

    def kill_range(self, kind: str) -> float:
        if kind.startswith("changed") and self.incremental_seconds:
            return self.incremental_seconds
        return self.cold_seconds or 30.0

    def round(self, kind: str, trigger: Trigger | None = None, rng: random.Random | None = None,
              attempts: int = 3) -> Round:
        """One kill and the refresh after it. `kind`: "cold" or "changed", with "@publish" a
        kill during the publication; `trigger`: when to kill. Default: a random moment between 0
        and the kill range (the wall time of a refresh of that kind), drawn from `rng`; with
        "@publish", a random delay between 0 and the publication step's time after the
        publication began writing the warehouse (the hidden new file, the WAL, scratch files).

        A refresh that ends before its random kill moment is checked like any refresh, and the
        round starts again (up to `attempts` times), its moment drawn between 0 and the time
        that refresh took, which becomes the kill range of the later rounds of its kind."""
        rng = rng or random.Random()
        notes: list[str] = []
        for attempt in range(1, attempts + 1):
            r = self._attempt(len(self.rounds) + 1, kind, trigger, rng, attempt)
            if r.killed or trigger is not None or not r.ok or attempt == attempts:
                break
            notes.append(f"drawn {r.trigger} but the refresh ended after {r.kill_at:.1f}s: round run again")
            if r.kind.startswith("changed"):
                self.incremental_seconds = r.kill_at
            else:
                self.cold_seconds = r.kill_at
        r.notes[:0] = notes
        r.leftovers = self.leftovers()
        self.rounds.append(r)
        return r

    def _attempt(self, n: int, kind: str, trigger: Trigger | None, rng: random.Random, attempt: int) -> Round:
        base, _, at = kind.partition("@")
        if base != "cold" and (self.target is None or (self.rounds and not self.rounds[-1].ok)):
            base, kind = "cold", "cold*" + (f"@{at}" if at else "")  # afresh: nothing to change, or a failure
        if base == "cold":
            self.target = self.new_target(f"series-{n}" + (f"-{attempt}" if attempt > 1 else ""))
            self._series.append(self.target)
            previous: Snapshot | None = None
        else:
            previous = self.refs[self.state]
            self.change()
        t = self.target
        limit = self.kill_range(kind)
        drawn = trigger is None
        if trigger is None and at == "publish" and base != "cold" and t.sqlite_file and self.dagster_home:
            # SQLite writes a small transaction to the WAL only when it commits: from the step's start
            limit = self.publish_step.get("changed") or 1.0
            trigger = Trigger(step=PUBLISH_STEP, delay=rng.uniform(0, limit))
        elif trigger is None and at == "publish":
            limit = self.publish_seconds.get("cold" if base == "cold" else "changed") or 1.0
            trigger = Trigger(publishing=True, delay=rng.uniform(0, limit))
        elif trigger is None:
            trigger = Trigger(seconds=rng.uniform(0, limit))
        r = Round(n, kind, trigger.describe(), kill_range=limit)
        if kind.startswith("cold*"):
            r.notes.append("cold*: a cold round instead of a changed one (nothing published yet, or the "
                           "previous round failed)")
        self.log(f"round {n} ({kind}): kill at {r.trigger}")

        runs_before, before = self._runs(), self._publish_state(t)
        t0 = time.monotonic()
        proc, out = self.start(t, f"round-{n:02d}-killed" + (f"-{attempt}" if attempt > 1 else ""))
        fire_at: float | None = None
        last_step_poll, run_db = 0.0, None
        markers: list[str] = []
        while proc.poll() is None:
            now = time.monotonic() - t0
            if fire_at is None:
                hit = trigger.seconds is not None and now >= trigger.seconds
                if not hit and trigger.step and now - last_step_poll >= 0.05:
                    last_step_poll = now
                    run_db = run_db or next(iter(self._runs() - runs_before), None)
                    steps = self._steps(run_db) if run_db else None
                    hit = steps is not None and (trigger.step in steps[0] or trigger.step in steps[1])
                if not hit and trigger.publishing:
                    hit = self._publishing(t, before)
                if hit:
                    fire_at = now + trigger.delay
            if fire_at is not None and now >= fire_at:
                markers = self._markers(t, before)
                r.kill_at = time.monotonic() - t0
                if drawn and limit:
                    r.share = (trigger.delay if trigger.seconds is None else r.kill_at) / limit
                r.stragglers = kill_group(proc)
                r.killed = True
                break
            time.sleep(POLL_S)
        self._proc = None
        if r.stragglers:
            r.failures.append(f"processes of the killed group still alive 10 s after SIGKILL: {r.stragglers}")
        if not r.killed:
            r.kill_at = time.monotonic() - t0
            r.at_kill = f"not killed: the refresh ended (exit {proc.returncode})"
            # a refresh like any other: it published the new area
            self._check(r, t, proc.returncode, out, "the refresh (not killed)")
            return r

        # which step was running
        new_runs = self._runs() - runs_before
        if self.dagster_home:
            if not new_runs:
                step = "start-up (no Dagster run yet)"
            else:
                steps = self._steps(next(iter(new_runs)))
                if steps is None:
                    step = "? (event log unreadable)"
                elif steps[0]:
                    step = "+".join(steps[0])
                elif steps[1]:
                    step = f"after {steps[1][-1]}"
                else:
                    step = "run started, no step yet"
        else:
            step = f"~{self._last_logged_step(out) or 'start-up'} (last logged)"
        r.at_kill = step + (f" [{', '.join(markers)}]" if markers else "")

        # the contract: the previous state, or (killed after the commit) the whole new one
        after = self.snapshot_after_kill(t)
        new = differences(after, self.refs[self.state])
        old = differences(after, previous) if previous is not None else None
        if previous is None and after.empty:
            r.after_kill = "absent"
        elif old is not None and not old:
            r.after_kill = "previous"
            self._note_floats(r, "after the kill", old)
        elif not new:
            r.after_kill = "new"
            self._note_floats(r, "after the kill", new)
        else:
            r.after_kill = "MIXED"
            diff = old if old is not None and len(old.hard) <= len(new.hard) else new
            r.failures.append(f"after the kill the warehouse is neither the previous state nor the new one; "
                              f"against the {'previous' if diff is old else 'new'} one: " + "; ".join(diff.hard[:4]))

        # the next refresh, to completion
        rc, seconds, out = self.refresh(t, f"round-{n:02d}-next")
        r.next_rc, r.next_seconds = rc, seconds
        self._check(r, t, rc, out, "the refresh after the kill")
        return r

    def _check(self, r: Round, t: Target, rc: int, out: Path, what: str) -> None:
        """A refresh that should have published the area as it is now: exit 0, the tables of
        the clean reference, a sound SQLite file."""
        text = out.read_text(encoding="utf-8", errors="replace")
        if rc != 0:
            how = "timed out (a lock or a blocked entry?)" if rc == -9 else f"exited {rc}"
            r.failures.append(f"{what} {how}; log {out}:\n      " + "\n      ".join(text.splitlines()[-25:]))
            return
        diff = differences(read_snapshot(t.url), self.refs[self.state])
        if diff:
            r.failures.append("tables differ from the clean reference: " + "; ".join(diff.hard))
        self._note_floats(r, "after the next refresh", diff)
        if t.sqlite_file is not None:
            check = integrity(t.sqlite_file)
            if check != "ok":
                r.failures.append(f"PRAGMA integrity_check: {check}")
        elif sessions := self.pg.sessions(t.database):
            r.notes.append(f"{sessions} other session(s) still on the database")
        damaged = text.count("cache entry") + text.count("GX staging copy rebuilt")
        if damaged:
            r.notes.append(f"{damaged} damaged cache entr{'y' if damaged == 1 else 'ies'} rebuilt (logged)")

    @staticmethod
    def _note_floats(r: Round, when: str, diff: Comparison) -> None:
        if diff.floats:
            r.notes.append(f"{when}: floats differ from the reference in their last bits only (relative "
                           f"<= {FLOAT_RTOL:g}) in {', '.join(diff.floats)}; two clean refreshes differ so too")

    def leftovers(self) -> tuple[int, int]:
        """Files and bytes left by killed refreshes, in all: hidden or temporary files in the
        warehouses' folders and caches, anything in the refreshes' TMPDIR."""
        found: list[Path] = []
        for t in self._series:
            found += [p for p in t.root.iterdir() if p.name.startswith(".")]
            if t.cache.exists():
                found += [p for p in t.cache.rglob("*") if p.is_file() and (p.name.startswith(".")
                                                                             or p.name.endswith(".tmp"))]
        found += list(self.tmp.iterdir())
        files = size = 0
        for path in found:
            paths = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            files += len(paths)
            size += sum(p.stat().st_size for p in paths if p.exists())
        return files, size

    # -- output -----------------------------------------------------------------------------
    def table(self) -> str:
        head = f"{'#':>2}  {'kind':<15} {'kill at':>8} {'of range':>8}  {'running at the kill':<58} " \
               f"{'after kill':<10} {'next':>4} {'next s':>6}  {'leftovers':>13}  result"
        lines = [head, "-" * len(head)]
        for r in self.rounds:
            share = "-" if r.share is None else f"{'pub ' if '@' in r.kind else ''}{100 * r.share:.0f}%"
            kill = f"{r.kill_at:.2f}s" if r.killed else "no kill"
            left = f"{r.leftovers[0]} / {r.leftovers[1] / 1e6:.1f}MB"
            lines.append(f"{r.number:>2}  {r.kind[:15]:<15} {kill:>8} {share:>8}  {r.at_kill[:58]:<58} "
                         f"{r.after_kill:<10} {r.next_rc if r.next_rc is not None else '-':>4} "
                         f"{r.next_seconds or 0:>6.1f}  {left:>13}  {'ok' if r.ok else 'FAIL'}")
            for f in r.failures:
                lines.append(f"      FAIL: {f}")
            for note in r.notes:
                lines.append(f"      note: {note}")
        return "\n".join(lines)

    def summary(self, seconds: float, backend: str) -> str:
        failed = sum(not r.ok for r in self.rounds)
        kills = sum(r.killed for r in self.rounds)
        files, size = self.rounds[-1].leftovers if self.rounds else (0, 0)
        return (f"kill-safety: {len(self.rounds)} rounds, {kills} kills, {failed} failed; {backend}, GX "
                f"{'on' if self.gx else 'off'}; reference {self.cold_seconds or 0:.1f}s cold, "
                f"{self.incremental_seconds or 0:.1f}s after a change; leftovers at the end {files} files "
                f"{size / 1e6:.1f}MB; {seconds:.0f}s in all")


# -- command line ---------------------------------------------------------------------------


#: The rounds of `--kinds alternate`, in turn.
ALTERNATE = ("cold", "changed", "cold@publish", "changed@publish")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="kill_safety.py",
        description="SIGKILL townstat refreshes at random moments and check that the next refresh "
                    "succeeds and publishes exactly what a clean refresh does (issue 12, item 8; contract "
                    "v4 section 3). Rounds alternate: a cold first refresh killed, then a refresh after a "
                    "new tax file was added to the area killed.")
    p.add_argument("--kills", type=int, default=10, help="rounds, one kill each (default 10)")
    p.add_argument("--seed", type=int, default=12, help="seed of the kill moments (default 12)")
    area = p.add_mutually_exclusive_group()
    area.add_argument("--raw", type=Path, metavar="DIR",
                      help="a raw area to use (copied into the work folder; the original is never written)")
    area.add_argument("--area", choices=("county", "small"), default="county",
                      help="without --raw: 'county' writes `townstat demo-data --scale county --seed 7` "
                           "(default), 'small' a few hand-written files")
    p.add_argument("--kinds", choices=("alternate", "cold", "changed", "publish"), default="alternate",
                   help="which refresh is killed, and when. alternate (default): in turn a cold first refresh "
                        "and one after a change of the raw area, each at a random moment of its run, then both "
                        "again during their publication (a random delay into it); cold, changed: only those, at "
                        "random moments; publish: cold and changed in turn, during the publication")
    p.add_argument("--gx", choices=("on", "off"), default="on",
                   help="TOWNSTAT_GX for every refresh (default on, as in production: the GX staging copy "
                        "kept in the cache is killed too; off is faster)")
    p.add_argument("--postgres-url", metavar="URL",
                   help="run on PostgreSQL: an admin SQLAlchemy URL whose user may CREATE DATABASE (databases "
                        "ks_* are made and dropped), or 'auto' for a throw-away local server; default SQLite")
    p.add_argument("--ephemeral-dagster", action="store_true",
                   help="refresh without DAGSTER_HOME (the running step is then guessed from the log)")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="a refresh after a kill that takes longer fails (default: 5x the cold reference, "
                        "at least 300 s)")
    p.add_argument("--work", type=Path, metavar="DIR", help="work folder (default: a new temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the work folder (kept anyway on a failure)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.kills < 1:
        print("--kills must be at least 1", file=sys.stderr)
        return 2
    t_start = time.monotonic()
    work = args.work or Path(tempfile.mkdtemp(prefix="townstat-kill-safety-"))
    work.mkdir(parents=True, exist_ok=True)
    raw = work / "raw"
    if raw.exists():
        print(f"{raw} exists: give an empty --work folder", file=sys.stderr)
        return 2
    if args.raw:
        shutil.copytree(args.raw, raw, symlinks=True)  # copy2: the mtimes stay
        area = str(args.raw)
    elif args.area == "county":
        demo_area(raw)
        area = "county demo (seed 7)"
    else:
        small_area(raw)
        area = "small hand-written area"
    pg = Postgres(args.postgres_url) if args.postgres_url else None
    backend = "postgresql" if pg else "sqlite"
    print(f"work folder {work}; raw area: {area}; {backend}; GX {args.gx}; seed {args.seed}", flush=True)
    campaign = Campaign(work, raw, gx=args.gx == "on", postgres=pg, persistent_dagster=not args.ephemeral_dagster,
                        log=lambda m: print(m, flush=True))
    rng = random.Random(args.seed)
    failed = True
    try:
        try:
            campaign.timeout = args.timeout or 300.0
            campaign.setup(measure_incremental=args.kinds != "cold")
        except RuntimeError as exc:
            print(f"SETUP FAILED: {exc}", file=sys.stderr)
            return 2
        campaign.timeout = args.timeout or max(300.0, 5 * (campaign.cold_seconds or 60))
        for i in range(args.kills):
            kind = {"alternate": ALTERNATE[i % 4], "cold": "cold", "changed": "changed",
                    "publish": ALTERNATE[2 + i % 2]}[args.kinds]
            r = campaign.round(kind, rng=rng)
            print(f"  -> {'ok' if r.ok else 'FAIL'}: killed at {r.kill_at or 0:.2f}s in {r.at_kill}; after the kill "
                  f"{r.after_kill}; next refresh exit {r.next_rc} in {r.next_seconds or 0:.1f}s", flush=True)
        print()
        print(campaign.table())
        print(campaign.summary(time.monotonic() - t_start, backend))
        failed = any(not r.ok for r in campaign.rounds)
        return 1 if failed else 0
    finally:
        campaign.abort()
        if pg:
            pg.close(keep=args.keep or failed)
        if args.keep or failed:
            print(f"work folder kept: {work}")
        elif not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
