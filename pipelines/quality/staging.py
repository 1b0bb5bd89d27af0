"""The GX staging copy: the tables about to be published, loaded into a SQLite file that the
Great Expectations suite reads before publication (the blocking `critical_expectations` check).

With a cache folder the copy is kept there between runs (`gx-staging.sqlite`): like the
warehouse, only what changed is rewritten. One run at a time fills and reads it, under an
exclusive `flock` on `gx-staging.lock` beside it (refresh runs are queued one at a time anyway;
a backfill or a hand-started run must not validate another run's rows). The copy is a cache,
not data: when loading or validating it fails, or the suite finds a critical failure on it,
it is deleted and built again from the frames, and the second result is the one that counts.
Without a cache folder the copy is a temporary file, gone after the call.

With a cache folder the suite's results are kept too (`gx-results/` beside the copy): a
table whose content, and that of the tables its checks read, did not change since the last
run is not validated again (`validate_warehouse`'s `kept`); they are deleted with the copy.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from pipelines.quality.expectations import QualityResult, validate_warehouse
from pipelines.warehouse.publish import publish

log = logging.getLogger(__name__)

#: What the warning says when the kept copy is built again (`kill_safety.py` counts it).
REBUILT_MESSAGE = "GX 暂存库已重建 / GX staging copy rebuilt"


def staging_file(cache_dir: str | Path | None, tmp: str | Path) -> Path:
    """The SQLite copy the suite reads: in the cache (kept between runs) when there is one,
    else in the temporary folder `tmp`."""
    if not cache_dir:
        return Path(tmp) / "staging.sqlite"
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return Path(cache_dir) / "gx-staging.sqlite"


def lock_file(staging: Path) -> Path:
    """The file locked while a run fills and reads `staging` (`gx-staging.lock`)."""
    return staging.with_suffix(".lock")


@contextmanager
def staging_lock(staging: Path) -> Iterator[None]:
    """Hold the exclusive lock of `staging` (waits for another run holding it)."""
    with open(lock_file(staging), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # released when the file is closed


def results_folder(staging: Path) -> Path:
    """The suite's results kept beside a kept copy (`gx-results/`, `validate_warehouse`'s `kept`)."""
    return staging.with_name("gx-results")


def remove_staging(staging: Path) -> None:
    """Delete the copy, whatever SQLite left beside it (`-journal`, `-wal`, `-shm`) and the
    results kept for it."""
    for leftover in staging.parent.glob(f"{staging.name}*"):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(results_folder(staging), ignore_errors=True)


def validate_staged(frames: Mapping[str, pl.DataFrame | pl.LazyFrame], cache_dir: str | Path | None,
                    docs: Path, warn: Callable[[str], object] = log.warning) -> QualityResult:
    """Load `frames` into the staging copy and run the GX suite on it (Data Docs in `docs`).

    A kept copy is updated in place; if that fails, or its result has a critical failure, the
    copy is not believed: it is deleted, `warn` says so, and the suite runs on a copy built
    from scratch."""
    with tempfile.TemporaryDirectory(prefix="townstat-gx-") as tmp:
        staging = staging_file(cache_dir, tmp)
        url = f"sqlite:///{staging}"
        # with a cache, a table unchanged since the last run keeps its results (`validate_warehouse`)
        kept = results_folder(staging) if cache_dir else None
        with staging_lock(staging):
            try:
                # kept in the cache between runs: like the warehouse, only what changed is rewritten
                publish(url, frames, fingerprints={})
                result = validate_warehouse(url, docs, kept)
                if result.critical_failed:  # on a kept copy: not believed before a clean rebuild
                    raise RuntimeError("critical failures on the kept staging copy")
            except Exception as exc:  # noqa: BLE001 - a damaged staging copy is a cache, not data
                warn(f"{REBUILT_MESSAGE} ({exc.__class__.__name__})")
                remove_staging(staging)
                publish(url, frames, fingerprints={})
                result = validate_warehouse(url, docs, kept)
    return result
