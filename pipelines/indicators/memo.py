"""Derived frames kept on disk, named by a digest of everything they are computed from.

A new monthly tax file changes nothing that the 38 million enrolment rows of a province feed
into the indicators (December's insured persons per town, specialty town and employer; the
employers enrolled each year), yet computing those parts again takes several seconds a night.
So they are written to the cache the first time and read back while their inputs stay the
same: the fingerprints of the source facts (a digest of their files and rules, from ingest),
the digest of the reference rows used, and the code of the indicator modules (any edit to
them invalidates every part). Only the latest file of each part is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import polars as pl

from pipelines.parquet import kept_parquet_intact, remove_kept, write_kept_parquet

#: The modules whose code decides what a memoised part contains (paths below `pipelines/`).
CODE = ("indicators/catalogue.py", "indicators/town.py", "indicators/specialty.py", "indicators/attribution.py",
        "indicators/measures.py", "indicators/memo.py", "indicators/passes.py", "quality/flags.py", "evaluation/targets.py",
        # a source's dq_rejected_row records (`defs/ingest.py`): echo, messages, rule texts, labels
        "ingest/file_records.py", "ingest/validate.py", "echo.py", "../schemas/rules.py", "../schemas/columns.py")


@cache
def _code_digest() -> bytes:
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(pl.__version__.encode())
    for rel in CODE:
        h.update((root / rel).read_bytes())
    return h.digest()


class Memo:
    """`memo(name, frame)`: `frame`'s rows from the cache when the inputs were seen before.

    `inputs` must name everything the memoised frames are computed from (fingerprints,
    digests); `folder` None (no cache configured) computes every time.
    """

    def __init__(self, folder: str | Path | None, *inputs: str) -> None:
        self.folder = Path(folder) if folder else None
        h = hashlib.sha256(_code_digest())
        for value in inputs:
            h.update(value.encode() + b"\0")
        self.digest = h.hexdigest()[:32]
        self.reused: list[str] = []
        self.computed: list[str] = []

    def __call__(self, name: str, frame: pl.LazyFrame | Callable[[], pl.DataFrame]) -> pl.LazyFrame:
        """`frame`: a query, or a function computing the rows (called only when they are not kept)."""
        path = self.kept(name, frame)
        if path is not None:
            return pl.scan_parquet(path)
        return frame().lazy() if callable(frame) else frame

    def kept(self, name: str, frame: pl.LazyFrame | Callable[[], pl.DataFrame]) -> Path | None:
        """The file holding `frame`'s rows, written now unless kept before (None: no cache)."""
        if self.folder is None:
            return None
        path = self.folder / f"{name}-{self.digest}.parquet"
        if kept_parquet_intact(path):  # a damaged or half-written part is computed again
            self.reused.append(name)
            return path
        rows = frame() if callable(frame) else frame.collect()
        write_kept_parquet(rows, path)  # readers see the whole file or none
        for old in self.folder.glob(f"{name}-*.parquet"):
            if old != path:
                remove_kept(old)
        self.computed.append(name)
        return path


NO_MEMO = Memo(None)
