"""A worker process started with a run, for the work that can go beside the run's own thread.

The run's steps execute one after another in its process (`defs/executors.py`); on two cores
the second is mostly idle outside Polars. Two pieces of work gain from a process of their own:

- the Great Expectations suite (`quality/suite_process.py`): importing GX costs about 5 s of
  CPU, which in a thread of the run's process held the GIL against the steps reading the
  files (the nightly province case took 35.5 s with the suite, 26.9 s without);
- two of the three reports (the dashboard and the workbook, `defs/reports.py`), written while
  the run's thread writes the quality report.

One worker per process, spawned (no Polars thread state is forked) by `start`, which
`preload.preload_slow_imports` calls when a run starts; it imports GX (when the suite runs)
and the report libraries at once. Frames cross as scans of the staged Parquet files (their
plans, a few kilobytes), read where the work runs. Each call runs in the caller's working
folder and environment. `submit` gives None when no worker was started, and `result` says so
when the worker died (it is then let go); the caller does the work itself.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import polars as pl

from pipelines.lazy import Frame

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _exit_now() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _warm(gx: bool) -> None:
    """The worker's first work: its slow imports, before any step asks for them."""
    # When its run's process ends, the worker ends at once: without this, the process's exit
    # waited for the worker's interpreter to tear down GX, pandas and plotly (0.9-1.7 s of the
    # province nightly, measured). Each call's files are closed when its result is sent; only
    # the standard streams are flushed.
    atexit.register(_exit_now)
    import pipelines.reports.dashboard  # noqa: F401, PLC0415 - plotly
    import pipelines.reports.workbook  # noqa: F401, PLC0415 - xlsxwriter

    if gx:
        from pipelines.quality.expectations import _import_gx  # noqa: PLC0415

        _import_gx()


def start(gx: bool) -> None:
    """Start the worker, once per process (`gx`: import Great Expectations there too)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_warm, initargs=(gx,))
            _pool.submit(int)  # spawned now, not at the first step that needs it


def started() -> bool:
    return _pool is not None


def stop() -> None:
    """Let the worker go (later calls do their work in the caller's process)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None


def collected(frames: Mapping[str, Frame]) -> dict[str, pl.DataFrame]:
    """Scans of staged Parquet read into frames, every one (what the suite takes; a report reads
    only the tables it asks for, `lazy.ReadWhenAsked`)."""
    return {name: f.collect() if isinstance(f, pl.LazyFrame) else f for name, f in frames.items()}


def _call(fn: Callable[..., Any], cwd: str, env: dict[str, str], args: tuple) -> Any:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    return fn(*args)


def submit(fn: Callable[..., Any], *args: Any) -> Future | None:
    """`fn(*args)` in the worker, in this process's working folder and environment; None when
    no worker was started. A worker found dead gives a future that says so (`result`)."""
    pool = _pool
    if pool is None:
        return None
    try:
        return pool.submit(_call, fn, os.getcwd(), dict(os.environ), args)
    except (BrokenProcessPool, RuntimeError) as exc:  # died, or shut down by another thread
        lost: Future = Future()
        lost.set_exception(BrokenProcessPool(str(exc)))
        return lost


def result(future: Future) -> tuple[bool, Any]:
    """(True, the value) or, when the worker died, (False, None) and the worker let go (later
    calls work in the caller's process); an exception the work raised is raised here."""
    try:
        return True, future.result()
    except BrokenProcessPool:
        stop()
        return False, None
