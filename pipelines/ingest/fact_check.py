"""The blocking `fact_schema` check of an ingest asset: a source's current fact against its
pandera schema (`schemas.facts`: columns and dtypes, key unique, codes in their shape, the
ranges of `schemas.columns`).

Every row already passed the same column rules in ingest; the check guards the ingest code
itself. A fact of `SCHEMA_CHECK_ROWS` rows or more is checked on an evenly spread sample
(every `rows // SCHEMA_CHECK_ROWS + 1`-th row, the first one included), so the 35 million
enrolment rows of a province are not all run through every regex. The key's uniqueness is
then checked on the sample too: the whole-frame duplicate count of `schema_failures` applies
to a frame of more than `SCHEMA_CHECK_ROWS` rows, which a sample never is.
"""

from __future__ import annotations

import polars as pl

from schemas.facts import SCHEMA_CHECK_ROWS, schema_failures

#: Rows read at a time while sampling a large fact.
SLICE_ROWS = 4_000_000


def fact_sample(fact: pl.LazyFrame, rows: int, limit: int = SCHEMA_CHECK_ROWS,
                slice_rows: int = SLICE_ROWS) -> pl.DataFrame:
    """The rows of `fact` (`rows` of them) the check reads: all of them when fewer than
    `limit`, else every `rows // limit + 1`-th row from the first (at most `limit` rows).

    A large fact is sampled `slice_rows` rows at a time, each slice's sample copied into
    buffers of its own: a sample taken in one go keeps the decompressed Parquet pages of
    every row alive through its string views (2.8 GB for 41.6 million enrolment rows, the
    peak of a cold province refresh; memray, bench/README.md)."""
    step = rows // limit + 1
    if step == 1:
        return fact.collect()
    parts = []
    for start in range(0, rows, slice_rows):
        first = -start % step  # the first row of this slice whose index is a multiple of step
        if first < min(slice_rows, rows - start):
            part = fact.slice(start, slice_rows).gather_every(step, offset=first).collect()
            parts.append(pl.from_arrow(part.to_arrow()))  # fresh buffers, not views of the pages
    return pl.concat(parts)  # never empty: the first slice holds row 0


def fact_schema_failures(source: str, fact: pl.LazyFrame, rows: int,
                         limit: int = SCHEMA_CHECK_ROWS) -> pl.DataFrame | None:
    """None when the (sampled) fact of `source` conforms to its schema; else pandera's failure
    cases, one row per failure (`failure_case`, `column`, `check`, ...)."""
    return schema_failures(source, fact_sample(fact, rows, limit))
