"""Slow imports started when a run starts, so that no step waits for them.

The ADBC SQLite driver takes about 1 s to import: imported in a thread while the files are
read. Great Expectations takes about 5 s of CPU: imported by the run's worker process
(`run_worker.py`), which then runs the suite and two of the reports; in a thread of this
process it held the GIL against the steps reading the files. Started by `townstat refresh`
(`refresh.run_refresh`) and by the `Reports` resource when a run of the Dagster job sets it up
(the sensor's and the schedule's runs), at most once per process.

It also spares the run's process its last garbage collection at exit: `gc.freeze()` in an
`atexit` hook moves every object into the permanent generation, which the interpreter's final
collection does not walk. After a province night that collection took 0.9 s of the process's
wall, after the run had ended (measured: 15.8 s to the process's exit against 14.8 s to the
run's end). Objects are still released as the modules are cleared; only those kept alive by a
reference cycle are left to the operating system, like everything else at exit.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import threading

_started = threading.Event()
#: Modules both the thread's imports and the run's own thread use: imported before the thread.
SHARED = ("sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql")


def preload_slow_imports(expectations: bool) -> None:
    """Import the ADBC driver in a daemon thread and start the run's worker process (which
    imports GX when the suite runs); a second call in the same process does nothing."""
    if _started.is_set():
        return
    _started.set()
    atexit.register(gc.freeze)
    # Imported here, in the caller's thread, before the thread starts: a module one thread is
    # still executing is visible half-initialised to the other ("partially initialized module
    # 'sqlalchemy.orm.exc'", seen once in the test suite when the thread imported GX, which
    # imports the ORM that Dagster's instance storage uses; kept for whatever the thread imports).
    for shared in SHARED:
        importlib.import_module(shared)

    def work() -> None:
        importlib.import_module("adbc_driver_sqlite.dbapi")

    threading.Thread(target=work, daemon=True, name="townstat-preload").start()
    from pipelines import run_worker

    run_worker.start(gx=expectations)
