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


def fact_sample(fact: pl.LazyFrame, rows: int, limit: int = SCHEMA_CHECK_ROWS) -> pl.DataFrame:
    """The rows of `fact` (`rows` of them) the check reads: all of them when fewer than
    `limit`, else every `rows // limit + 1`-th row from the first (at most `limit` rows)."""
    step = rows // limit + 1
    return fact.gather_every(step).collect() if step > 1 else fact.collect()


def fact_schema_failures(source: str, fact: pl.LazyFrame, rows: int,
                         limit: int = SCHEMA_CHECK_ROWS) -> pl.DataFrame | None:
    """None when the (sampled) fact of `source` conforms to its schema; else pandera's failure
    cases, one row per failure (`failure_case`, `column`, `check`, ...)."""
    return schema_failures(source, fact_sample(fact, rows, limit))
