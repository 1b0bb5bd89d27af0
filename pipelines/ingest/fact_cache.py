"""The cache policy of a source's current fact: which kept fact a refresh stages, and whether
the schema check has already passed on it.

The current fact of a source (the latest version of each key, over all its files) is kept in
the ingest cache under a digest of what it was made from: the cache fingerprint (parser
version, year bound, towns, PII key) and every file's id and status, in order. The same files
read by the same rules give the same rows, so a night on which the source's files did not
change finds the fact already written, stages it by a hard link and, when the fact schema
check passed on it when it was first written (its `.checked` marker), does not check it again.

A source whose rows fall into months or years (tax, enrolment, reports) is kept one file per
part, each named by the fingerprint of the files holding its rows: a new monthly file writes
and checks that month again, the others are staged as they are.

A kept fact that is damaged is removed with its marker (`IngestCache.fact_kept`) and written
again; a marker is only ever written after the check passed on the kept file beside it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.ingest.sources import FileOutcome, IngestCache
from pipelines.lazy import lazy

#: The suffix of the marker beside a kept fact on which the fact schema check passed.
CHECKED_SUFFIX = ".checked"


def fact_digest(fingerprint: str, outcomes: Iterable[FileOutcome]) -> str:
    """What a source's current fact was made from: the cache fingerprint and each file's id
    and status, in the order of `outcomes` (the version order). Hex sha256."""
    content = hashlib.sha256(fingerprint.encode())
    for o in outcomes:
        content.update(f"{o.file.file_id}:{o.status}\n".encode())
    return content.hexdigest()


def partition_fingerprints(fingerprint: str, partitions: pl.DataFrame) -> pl.DataFrame:
    """(part, fingerprint): one fingerprint per month or year of a fact, from the files holding
    its rows in version order (`partitions.files`, comma-joined ids) under the cache
    fingerprint; publication reloads only the parts whose fingerprint changed."""
    return partitions.select("part").with_columns(fingerprint=pl.Series(
        [hashlib.sha256(f"{fingerprint}|{files}".encode()).hexdigest() for files in partitions["files"]],
        dtype=pl.String))


def checked_marker(kept: Path) -> Path:
    """The marker beside a kept fact saying the fact schema check passed on it."""
    return kept.with_suffix(CHECKED_SUFFIX)


@dataclass(frozen=True)
class KeptFact:
    """The current fact of a source as this refresh stages it.

    `files`: the kept Parquet files, one for a source without months or years, one per month
    or year (a part) for the others; none without a cache (the fact is staged as it was
    built). `unchecked`: those of them the fact schema check has not passed on yet."""

    files: tuple[Path, ...]
    unchecked: tuple[Path, ...]

    @property
    def checked_before(self) -> bool:
        """The check passed on every kept file earlier (never without a cache)."""
        return bool(self.files) and not self.unchecked

    def scan(self, current: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
        """The fact's rows, lazily: the kept files when there are any, else `current`."""
        return pl.scan_parquet(list(self.files)) if self.files else current.lazy()

    def scan_unchecked(self, current: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
        """The rows the check has still to read (when not `checked_before`): the kept files not
        checked yet, or `current` without a cache."""
        return pl.scan_parquet(list(self.unchecked)) if self.files else current.lazy()

    def mark_checked(self) -> None:
        """Record that the fact schema check passed on the files not checked before."""
        for path in self.unchecked:
            checked_marker(path).touch()


def _kept(cache: IngestCache, path: Path, rows: pl.LazyFrame | pl.DataFrame) -> bool:
    """Keep `rows` at `path` unless a whole file is there; True when it was there and checked."""
    if cache.fact_kept(path):
        return checked_marker(path).exists()
    cache.store_fact(path, rows)
    return False


def keep_fact(cache: IngestCache, source: str, digest: str, current: pl.DataFrame | pl.LazyFrame,
              parts: pl.DataFrame | None = None, column: str | None = None) -> KeptFact:
    """Find the fact of `source` in the cache, or write `current` there.

    A source without parts (`parts` None or empty) is kept in one file named by `digest`.
    A source with parts (`parts`: (part, fingerprint) from `partition_fingerprints`, `column`
    the fact's month or year column) is kept one file per part, named by the part's
    fingerprint: a new monthly file writes its own month again, not 6.7 million tax rows.
    A file found whole is reused, and counts as checked when its marker is there; a file
    missing or damaged is written from `current` and is not checked yet; kept files of this
    source that the fact no longer has are removed."""
    if cache.root is None:
        return KeptFact((), ())
    if parts is None or parts.height == 0 or column is None:
        kept = cache.fact_path(source, digest)
        assert kept is not None
        checked = _kept(cache, kept, current)
        cache.remove_facts_except(source, [kept])
        return KeptFact((kept,), () if checked else (kept,))
    rows_of = lazy(current)
    dtype = rows_of.collect_schema()[column]
    files, unchecked = [], []
    for part, fingerprint in parts.select("part", "fingerprint").sort("part").iter_rows():
        path = cache.fact_part_path(source, part, fingerprint)
        assert path is not None
        rows = rows_of.filter(pl.col(column) == pl.lit(part).cast(dtype))
        if not _kept(cache, path, rows):
            unchecked.append(path)
        files.append(path)
    cache.remove_facts_except(source, files)
    return KeptFact(tuple(files), tuple(unchecked))
