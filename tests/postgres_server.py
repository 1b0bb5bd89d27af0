"""A throw-away PostgreSQL server for the tests (one per pytest process / xdist worker).

`initdb` runs as the `postgres` system user when the tests run as root (PostgreSQL refuses
to run as root), into a temporary directory; the server listens on a free loopback port
with its unix socket in that directory, trust authentication, durability off (fast).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

PG_MAJOR = "15"


class PostgresUnavailable(RuntimeError):
    pass


def find_bin_dir() -> Path:
    """The directory holding initdb/pg_ctl: `$PG_BIN`, PostgreSQL 15 in /usr/lib, PATH."""
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(os.environ["PG_BIN"])
    candidates.append(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    which = shutil.which("pg_ctl")
    if which:
        candidates.append(str(Path(which).parent))
    for c in candidates:
        p = Path(c)
        if (p / "initdb").is_file() and (p / "pg_ctl").is_file():
            return p
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; looked in "
        + ", ".join(candidates)
        + ". Install postgresql-15 (apt-get install postgresql-15) or set PG_BIN."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, database: str = "townstat") -> None:
        self.bin = find_bin_dir()
        self.database = database
        self.port: int | None = None
        self.dir: Path | None = None
        self._as_user: list[str] = []

    # -- lifecycle ----------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, timeout=120
        )
        if check and proc.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def start(self) -> PostgresServer:
        self.dir = Path(tempfile.mkdtemp(prefix="townstat-pg-"))
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if not runuser:
                raise PostgresUnavailable("running as root but `runuser` is not available")
            shutil.chown(self.dir, "postgres", "postgres")
            self._as_user = [runuser, "-u", "postgres", "--"]
        data = self.dir / "data"
        self._run(
            str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions",
        )
        last = ""
        for _ in range(5):
            self.port = _free_port()
            opts = (
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=60 -c shared_buffers=128MB -c max_wal_size=4GB "
                "-c deadlock_timeout=5s"
            )
            proc = self._run(
                str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "server.log"),
                "-o", opts, "-w", "-t", "60", "start", check=False,
            )
            if proc.returncode == 0:
                break
            last = proc.stdout + proc.stderr + self.log_tail()
        else:
            raise PostgresUnavailable(f"PostgreSQL did not start:\n{last}")
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}" TEMPLATE template0 ENCODING \'UTF8\'')
        return self

    def stop(self) -> None:
        if self.dir is None:
            return
        data = self.dir / "data"
        if (data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                      "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def log_tail(self, n: int = 4000) -> str:
        try:
            return (self.dir / "server.log").read_text()[-n:]  # type: ignore[operator]
        except OSError:
            return ""

    # -- addresses ----------------------------------------------------------------------
    def dsn(self, database: str | None = None, user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={user} dbname={database or self.database}"

    def url(self, database: str | None = None, user: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database or self.database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_ready(server: PostgresServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server.dsn("postgres"), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
