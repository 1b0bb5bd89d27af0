"""Slow imports started in a thread when a run starts, so that no step waits for them.

Great Expectations takes about 5 s to import and the ADBC SQLite driver about 1 s; the suite
and the publication run well after ingest, so imported while the files are read they cost
nothing on the critical path. Started by `townstat refresh` (`refresh.run_refresh`) and by
the `Reports` resource when a run of the Dagster job sets it up (the sensor's and the
schedule's runs), at most once per process.
"""

from __future__ import annotations

import importlib
import threading

_started = threading.Event()
#: Modules both the thread's imports and the run's own thread use: imported before the thread.
SHARED = ("sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql")


def preload_slow_imports(expectations: bool) -> None:
    """Import the ADBC driver and, if the suite runs, GX (offline, as `_import_gx` does) in a
    daemon thread; a second call in the same process does nothing."""
    if _started.is_set():
        return
    _started.set()
    # Imported here, in the caller's thread, before the thread starts: Dagster's instance
    # storage uses the SQLAlchemy ORM while the thread imports GX, which imports the ORM too,
    # and a module one thread is still executing is visible half-initialised to the other
    # ("partially initialized module 'sqlalchemy.orm.exc'", seen once in the test suite).
    for shared in SHARED:
        importlib.import_module(shared)

    def work() -> None:
        importlib.import_module("adbc_driver_sqlite.dbapi")
        if expectations:
            from pipelines.quality.expectations import _import_gx

            _import_gx()

    threading.Thread(target=work, daemon=True, name="townstat-preload").start()
