"""The Great Expectations suite in the run's worker process (`pipelines/run_worker.py`).

Importing GX costs about 5 s of CPU. Imported in a thread of the run's own process (until the
eighth session) it held the GIL against the steps reading the files: the nightly province
case took 35.5 s with the suite and 26.9 s without it (issue 16, bench/README.md). The run's
worker imports GX on the other core from the start of the run; the suite's step hands it the
frames, as scans of their staged Parquet, and waits for the result, which is the one
`validate_staged` gives in process. Without a worker (the tests' direct calls, the `townstat
report` path), or when it died (a warning says so), the suite runs in the caller's process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from pipelines import run_worker
from pipelines.quality.expectations import QualityResult, _import_gx
from pipelines.quality.staging import validate_staged

#: What the warning says when the worker died and the suite ran in the run's process.
WORKER_LOST = "GX 校验进程已退出，改在本进程内校验 / the GX worker process died; the suite ran in this process"


def _in_worker(frames: dict[str, pl.DataFrame | pl.LazyFrame], cache_dir: str | None,
               docs: str) -> tuple[QualityResult, list[str]]:
    """`validate_staged` in the worker; its warnings returned to be said by the step."""
    _import_gx()  # GX's offline settings, in the environment the call brought
    said: list[str] = []
    result = validate_staged(run_worker.collected(frames), cache_dir, Path(docs), warn=said.append)
    return result, said


def validate(frames: Mapping[str, pl.DataFrame | pl.LazyFrame], cache_dir: str | Path | None, docs: Path,
             warn: Callable[[str], object], meanwhile: Callable[[], object] | None = None) -> QualityResult:
    """The suite on `frames` (as `validate_staged`), in the run's worker when there is one.

    A LazyFrame (a scan of a staged Parquet file) crosses as its plan and is read where the
    suite runs. `meanwhile` is called in this thread while the worker runs the suite (before
    the suite when there is no worker); what it raises is warned about, not raised."""
    cache = str(Path(cache_dir).resolve()) if cache_dir else None
    future = run_worker.submit(_in_worker, dict(frames), cache, str(Path(docs).resolve()))
    if meanwhile is not None:
        try:
            meanwhile()
        except Exception as exc:  # noqa: BLE001 - the suite's result does not depend on it
            warn(f"与校验并行的工作失败 / the work done beside the suite failed: {exc!r}")
    if future is not None:
        done, value = run_worker.result(future)
        if done:
            result, said = value
            for message in said:
                warn(message)
            return result
        warn(WORKER_LOST)
    return validate_staged(run_worker.collected(frames), cache_dir, docs, warn=warn)
