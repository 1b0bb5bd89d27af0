"""The Great Expectations suite in a process of its own, started when a run starts.

Importing GX costs about 5 s of CPU. Imported in a thread of the run's own process (until the
eighth session) it held the GIL against the steps reading the files: the nightly province
case took 35.5 s with the suite and 26.9 s without it (issue 16, bench/README.md). A worker
process imports GX on the other core from the start of the run; the suite's step hands it the
frames (pickled, Arrow IPC underneath) and waits for the result, which is the one
`validate_staged` gives in process.

At most one worker per process (`start`, called by `preload.preload_slow_imports`). The step
runs the suite in its own process when no worker was started (the tests' direct calls, the
`townstat report` path) or when the worker died (a warning says so).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import polars as pl

from pipelines.quality.expectations import QualityResult
from pipelines.quality.staging import validate_staged

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None

#: What the warning says when the worker died and the suite ran in the run's process.
WORKER_LOST = "GX 校验进程已退出，改在本进程内校验 / the GX worker process died; the suite ran in this process"


def _warm() -> None:
    """The worker's first work: GX imported (offline), before any step asks for it."""
    from pipelines.quality.expectations import _import_gx  # noqa: PLC0415 - the worker's import

    _import_gx()


def start() -> None:
    """Start the worker (spawned, so no Polars thread state is forked), once per process."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_warm)
            _pool.submit(int)  # the worker is spawned now, not at the suite's step


def started() -> bool:
    return _pool is not None


def _stop() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None


def _collected(frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> dict[str, pl.DataFrame]:
    """Scans of staged Parquet read (the suite's copy takes frames, as the tables they are)."""
    return {name: f.collect() if isinstance(f, pl.LazyFrame) else f for name, f in frames.items()}


def _in_worker(frames: dict[str, pl.DataFrame | pl.LazyFrame], cache_dir: str | None, docs: str, cwd: str,
               env: dict[str, str]) -> tuple[QualityResult, list[str]]:
    """`validate_staged` in the worker, in the caller's working folder and environment (a
    test or the bureau may set `TOWNSTAT_*` after the worker started); its warnings returned."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    _warm()  # GX's offline settings again, after the environment was replaced
    said: list[str] = []
    result = validate_staged(_collected(frames), cache_dir, Path(docs), warn=said.append)
    return result, said


def validate(frames: Mapping[str, pl.DataFrame | pl.LazyFrame], cache_dir: str | Path | None, docs: Path,
             warn: Callable[[str], object]) -> QualityResult:
    """The suite on `frames` (as `validate_staged`), in the worker when one was started.

    A LazyFrame (a scan of a staged Parquet file) crosses as its plan and is read where the
    suite runs."""
    pool = _pool
    if pool is not None:
        cache = str(Path(cache_dir).resolve()) if cache_dir else None
        try:
            result, said = pool.submit(_in_worker, dict(frames), cache, str(Path(docs).resolve()),
                                       os.getcwd(), dict(os.environ)).result()
        except BrokenProcessPool:
            _stop()
            warn(WORKER_LOST)
        else:
            for message in said:
                warn(message)
            return result
    return validate_staged(_collected(frames), cache_dir, docs, warn=warn)
