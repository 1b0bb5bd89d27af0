"""The cache policy of a source's current fact: which kept fact a refresh stages, and whether
the schema check has already passed on it.

The current fact of a source (the latest version of each key, over all its files) is kept in
the ingest cache under a digest of what it was made from: the cache fingerprint (parser
version, year bound, towns, PII key) and every file's id and status, in order. The same files
read by the same rules give the same rows, so a night on which the source's files did not
change finds the fact already written, stages it by a hard link and, when the fact schema
check passed on it when it was first written (its `.checked` marker), does not check it again.

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

    `path` is the kept Parquet file (None without a cache: the fact is staged as it was
    built); `checked_before` says the fact schema check passed on this very file earlier."""

    path: Path | None
    checked_before: bool

    def scan(self, current: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
        """The fact's rows, lazily: the kept file when there is one, else `current`."""
        return pl.scan_parquet(self.path) if self.path is not None else current.lazy()

    def mark_checked(self) -> None:
        """Record that the fact schema check passed on the kept file (nothing without a cache)."""
        if self.path is not None:
            checked_marker(self.path).touch()


def keep_fact(cache: IngestCache, source: str, digest: str,
              current: pl.DataFrame | pl.LazyFrame) -> KeptFact:
    """Find the fact of `source` made from `digest` in the cache, or write `current` there.

    A fact found whole is reused, and counts as checked when its marker is there; a fact
    missing or damaged is written from `current` (older versions of it are removed) and is
    not checked yet."""
    kept = cache.fact_path(source, digest)
    if kept is None:
        return KeptFact(None, False)
    reused = cache.fact_kept(kept)
    if not reused:
        cache.store_fact(kept, current)
    return KeptFact(kept, reused and checked_marker(kept).exists())
