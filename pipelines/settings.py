"""Every environment variable townstat reads, with its default and its meaning, in one place.

`SETTINGS` is the declaration: one `Setting(name, default, description, parse)` per variable.
The pipeline reads a variable only through the accessor functions below, and each accessor
reads the environment when it is called (tests set variables at run time); only what Dagster
fixes when the code location loads (the executor, the sensor interval) is read at import, by
its caller. `tests/test_settings.py` checks this table against the README's environment
paragraph and the configuration table of `docs/deployment.md`, and that no module outside this
one reads a `TOWNSTAT_*`, `WAREHOUSE_URL` or `DAGSTER_*` variable from `os.environ`.

`default` is the value as the documentation's table shows it (`—`: none); `parse` turns the
raw value (None when the variable is unset) into what the code uses, exactly as the code
always has (an unparsable number either falls back to the default or raises, variable by
variable, as noted). `read_by` says who reads it when that is not the Python code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The SQLite file used when neither `--warehouse` nor `WAREHOUSE_URL` gives a warehouse.
DEFAULT_WAREHOUSE_URL = "sqlite:///warehouse/warehouse.sqlite"
#: Default of `TOWNSTAT_LOCK_TIMEOUT`: seconds the PostgreSQL publication waits for any one lock.
DEFAULT_LOCK_TIMEOUT_S = 30.0
#: Default of `TOWNSTAT_QUIET_SECONDS` (contract section 2: a file must be unchanged for 60 s).
DEFAULT_QUIET_SECONDS = 60
#: Default of `TOWNSTAT_MEMORY_BOUND_MB` (6 GiB; see `pipelines/ingest/limits.py`).
DEFAULT_MEMORY_BOUND_MB = 6144
#: Default of `DAGSTER_HOME`: the project's Dagster instance (its `dagster.yaml` is tracked in git),
#: relative to the working directory like every other default path here.
DEFAULT_DAGSTER_HOME = "dagster_home"
PIPELINES = "pipelines"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    description: str
    parse: Callable[[str | None], Any] = lambda raw: raw
    read_by: str = PIPELINES

    def raw(self) -> str | None:
        """The variable as set (None when unset), read now."""
        return os.environ.get(self.name)

    def get(self) -> Any:
        """The value the code uses, read now."""
        return self.parse(self.raw())


def _text(default: str) -> Callable[[str | None], str]:
    """The value as set (an empty value stays empty), else `default`."""
    return lambda raw: default if raw is None else raw


def _cores(raw: str | None) -> int:
    """A count of processes, at least 1; default: the number of cores. Not a number: raises."""
    return max(1, int(raw if raw is not None else os.cpu_count() or 1))


def _sensor_interval(raw: str | None) -> int:
    return int(raw if raw is not None else "30")  # read at import: not a number fails the load


def _quiet_seconds(raw: str | None) -> float:
    try:
        return max(0.0, float(raw if raw is not None else DEFAULT_QUIET_SECONDS))
    except ValueError:
        return float(DEFAULT_QUIET_SECONDS)


def _retries(raw: str | None) -> int:
    try:
        return max(0, int(raw if raw is not None else "1"))
    except ValueError:
        return 1


def _retry_delay(raw: str | None) -> float:
    try:
        return max(0.0, float(raw if raw is not None else "600"))
    except ValueError:
        return 600.0


def _memory_bound_mb(raw: str | None) -> int:
    try:
        return int(raw if raw is not None else DEFAULT_MEMORY_BOUND_MB)
    except ValueError:
        return DEFAULT_MEMORY_BOUND_MB


def _lock_timeout(raw: str | None) -> float:
    text = (raw or "").strip()
    try:
        value = float(text) if text else DEFAULT_LOCK_TIMEOUT_S
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise ValueError(f"TOWNSTAT_LOCK_TIMEOUT must be a number of seconds >= 0, not {text!r}")
    return value


def _dagster_home(raw: str | None) -> str:
    """An absolute folder (Dagster refuses a relative DAGSTER_HOME); unset or empty: the default."""
    return os.path.abspath(raw or DEFAULT_DAGSTER_HOME)


RAW_DIR = Setting(
    "TOWNSTAT_RAW_DIR", "raw",
    "the raw area: the folder the bureau drops files into; the pipeline only reads it "
    "(`--raw` overrides it)", _text("raw"))
WAREHOUSE_URL = Setting(
    "WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL,
    "the warehouse's SQLAlchemy URL: a SQLite file, or PostgreSQL "
    "(`postgresql+psycopg://...`) in production (`--warehouse` overrides it)",
    lambda raw: raw or DEFAULT_WAREHOUSE_URL)
PII_KEY = Setting(
    "TOWNSTAT_PII_KEY", "—",
    "the HMAC key that pseudonymises person IDs; unset: the built-in demo key, for the demo "
    "only (a refresh using it says so); production requires a key of your own of at least "
    "32 bytes", _text(""))
ENV = Setting(
    "TOWNSTAT_ENV", "—",
    "`production`: sensor and schedule RUNNING, a PII key of your own of at least 32 bytes "
    "required", lambda raw: (raw or "").lower() == "production")
CACHE_DIR = Setting(
    "TOWNSTAT_CACHE_DIR", "warehouse/cache",
    "validated rows per file content, each source's current fact, the files' hashes and the "
    "indicator parts, so a refresh re-reads only new files (empty: no cache)",
    _text("warehouse/cache"))
STAGING_DIR = Setting(
    "TOWNSTAT_STAGING_DIR", "warehouse/staging",
    "where the Dagster code location stages the frames handed between assets; `townstat "
    "refresh` stages them in a temporary folder unless this is set", _text("warehouse/staging"))
REPORTS_DIR = Setting(
    "TOWNSTAT_REPORTS_DIR", "warehouse/reports",
    "where the reports people read are written (Data Docs, quality.html, dashboard.html, "
    "the evaluation workbook)", _text("warehouse/reports"))
GX = Setting(
    "TOWNSTAT_GX", "on",
    "`off`, `0` or `false` skip the Great Expectations suite (e.g. in quick tests)",
    lambda raw: (raw if raw is not None else "on").lower() not in ("0", "off", "false"))
EXECUTOR = Setting(
    "TOWNSTAT_EXECUTOR", "in_process",
    "how a run executes its steps: `in_process` (all steps in one process), `multiprocess` "
    "(each step its own process, paying the imports again), `k8s` (each step a Kubernetes Job); "
    "read when the code loads",
    _text("in_process"))
INGEST_WORKERS = Setting(
    "TOWNSTAT_INGEST_WORKERS", "cores",
    "processes validating files side by side", _cores)
LOAD_WORKERS = Setting(
    "TOWNSTAT_LOAD_WORKERS", "cores",
    "processes building scratch SQLite files for a large fact before it is copied into the "
    "warehouse", _cores)
SCRATCH_DIR = Setting(
    "TOWNSTAT_SCRATCH_DIR", "beside the warehouse file",
    "where the bulk load's scratch files go (as large as the fact; deleted after the load)")
MEMORY_BOUND_MB = Setting(
    "TOWNSTAT_MEMORY_BOUND_MB", str(DEFAULT_MEMORY_BOUND_MB),
    "the refresh's memory bound in MB: a file whose reading would take more than half of it "
    "is refused whole (not a number: the default)", _memory_bound_mb)
LOCK_TIMEOUT = Setting(
    "TOWNSTAT_LOCK_TIMEOUT", f"{DEFAULT_LOCK_TIMEOUT_S:g}",
    "PostgreSQL: seconds the publication waits for a lock on a large internal table; `0`: "
    "without limit (not a number >= 0: the publication fails)", _lock_timeout)
QUIET_SECONDS = Setting(
    "TOWNSTAT_QUIET_SECONDS", str(DEFAULT_QUIET_SECONDS),
    "how long every file must be unchanged before the sensor requests a run; read at every "
    "tick", _quiet_seconds)
SENSOR_INTERVAL = Setting(
    "TOWNSTAT_SENSOR_INTERVAL", "30",
    "seconds between sensor ticks (read when the code loads)", _sensor_interval)
SENSOR_RETRIES = Setting(
    "TOWNSTAT_SENSOR_RETRIES", "1",
    "automatic re-runs of a failed run per raw-area state", _retries)
RETRY_DELAY_SECONDS = Setting(
    "TOWNSTAT_RETRY_DELAY_SECONDS", "600",
    "wait after a failed run before the sensor retries it", _retry_delay)
READER_PASSWORD = Setting(
    "TOWNSTAT_READER_PASSWORD", "—",
    "`townstat db grant-reader`: the login password of `townstat_reader` (`--password` "
    "overrides it)")
DAGSTER_HOME = Setting(
    "DAGSTER_HOME", DEFAULT_DAGSTER_HOME,
    "Dagster's instance folder (run history, asset materialisations, sensor state), shared by "
    "`townstat refresh`, `townstat status`, `make run`, `make ui` and the sensor; the default "
    "`dagster_home` (relative to the working directory: the project root) holds the "
    "`dagster.yaml` the project ships. `deploy/start-production.sh` sets "
    "`dagster_home/production` (PostgreSQL storage)", _dagster_home)
UI_HOST = Setting(
    "TOWNSTAT_UI_HOST", "127.0.0.1", "the address the Dagster UI listens on",
    read_by="deploy/start-production.sh")
UI_PORT = Setting(
    "TOWNSTAT_UI_PORT", "3000", "the port the Dagster UI listens on",
    read_by="deploy/start-production.sh")
DAGSTER_PG = tuple(
    Setting(f"DAGSTER_PG_{part}", "—", "Dagster's instance storage (`deploy/dagster.yaml`)",
            read_by="deploy/dagster.yaml")
    for part in ("HOST", "PORT", "USERNAME", "PASSWORD", "DB"))

SETTINGS: tuple[Setting, ...] = (
    RAW_DIR, WAREHOUSE_URL, PII_KEY, ENV, CACHE_DIR, STAGING_DIR, REPORTS_DIR, GX, EXECUTOR,
    INGEST_WORKERS, LOAD_WORKERS, SCRATCH_DIR, MEMORY_BOUND_MB, LOCK_TIMEOUT, QUIET_SECONDS,
    SENSOR_INTERVAL, SENSOR_RETRIES, RETRY_DELAY_SECONDS, READER_PASSWORD, DAGSTER_HOME,
    UI_HOST, UI_PORT, *DAGSTER_PG,
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


# ------------------------------------------------------------------ accessors (read when called)


def raw_dir() -> str:
    """`TOWNSTAT_RAW_DIR`, else `raw`."""
    return RAW_DIR.get()


def warehouse_url() -> str:
    """`WAREHOUSE_URL` if set and not empty, else the default SQLite file."""
    return WAREHOUSE_URL.get()


def warehouse_url_given() -> str:
    """`WAREHOUSE_URL` as set, else empty (no default: for commands that need PostgreSQL)."""
    return WAREHOUSE_URL.raw() or ""


def pii_key() -> str:
    """`TOWNSTAT_PII_KEY`, else empty (the caller falls back to the demo key)."""
    return PII_KEY.get()


def production() -> bool:
    """`TOWNSTAT_ENV=production` (any case)."""
    return ENV.get()


def cache_dir() -> str:
    """`TOWNSTAT_CACHE_DIR`, else `warehouse/cache` (empty: no cache)."""
    return CACHE_DIR.get()


def staging_dir() -> str:
    """`TOWNSTAT_STAGING_DIR`, else `warehouse/staging` (the code location's default)."""
    return STAGING_DIR.get()


def staging_dir_given() -> str | None:
    """`TOWNSTAT_STAGING_DIR` as set, else None (`townstat refresh` then uses a temporary folder)."""
    return STAGING_DIR.raw()


def reports_dir() -> str:
    """`TOWNSTAT_REPORTS_DIR`, else `warehouse/reports`."""
    return REPORTS_DIR.get()


def expectations_enabled() -> bool:
    """`TOWNSTAT_GX` (default on; `off`, `0` or `false` skip the Great Expectations suite)."""
    return GX.get()


def executor() -> str:
    """`TOWNSTAT_EXECUTOR`, else `in_process` (the caller checks the choice)."""
    return EXECUTOR.get()


def ingest_workers() -> int:
    """`TOWNSTAT_INGEST_WORKERS`, else the number of cores; at least 1."""
    return INGEST_WORKERS.get()


def load_workers() -> int:
    """`TOWNSTAT_LOAD_WORKERS`, else the number of cores; at least 1."""
    return LOAD_WORKERS.get()


def scratch_dir() -> str | None:
    """`TOWNSTAT_SCRATCH_DIR` as set, else None (the caller puts scratch files beside the warehouse)."""
    return SCRATCH_DIR.get()


def memory_bound_mb() -> int:
    """`TOWNSTAT_MEMORY_BOUND_MB`, else (or when not a whole number) 6144."""
    return MEMORY_BOUND_MB.get()


def lock_timeout() -> float:
    """`TOWNSTAT_LOCK_TIMEOUT` in seconds (0: no limit), else 30; ValueError unless a number >= 0."""
    return LOCK_TIMEOUT.get()


def quiet_seconds() -> float:
    """`TOWNSTAT_QUIET_SECONDS` (default 60, at least 0)."""
    return QUIET_SECONDS.get()


def sensor_interval() -> int:
    """`TOWNSTAT_SENSOR_INTERVAL` (default 30)."""
    return SENSOR_INTERVAL.get()


def sensor_retries() -> int:
    """`TOWNSTAT_SENSOR_RETRIES` (default 1, at least 0)."""
    return SENSOR_RETRIES.get()


def retry_delay() -> float:
    """`TOWNSTAT_RETRY_DELAY_SECONDS` (default 600, at least 0)."""
    return RETRY_DELAY_SECONDS.get()


def reader_password() -> str | None:
    """`TOWNSTAT_READER_PASSWORD` as set, else None."""
    return READER_PASSWORD.get()


def dagster_home_dir() -> str:
    """The Dagster instance folder, absolute: `DAGSTER_HOME`, else `<working directory>/dagster_home`."""
    return DAGSTER_HOME.get()
