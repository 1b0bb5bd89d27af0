"""Pandera schemas (polars backend) of the validated fact tables.

They state what ingest guarantees downstream: the columns and dtypes, the key unique, the
codes in their shape, the ranges, all generated from the source specs of `schemas.columns`.
Ingest splits rows with the same column declarations; these schemas check the result as a
Dagster asset check.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from pipelines.ingest.cells import ENTITY_TYPES, LEVELS
from pipelines.ingest.sources import FACT_DTYPES
from schemas.columns import SOURCES

#: The shape of a code in a fact, by kind (a hukou code is kept as given: 6, 9 or 12 digits).
_PATTERNS = {
    "uscc": r"^[0-9A-HJ-NPQRTUWXY]{18}$",
    "town": r"^\d{9}$",
    "industry": r"^\d{4}$",
    "period": r"^\d{4}-(0[1-9]|1[0-2])$",
    "person_key": r"^[0-9a-f]{64}$",
    "county": r"^\d{6}$",
}

#: The values a column of these kinds may hold in a fact: what their parsers give.
_VALUES = {
    "level": list(dict.fromkeys(LEVELS.values())),
    "entity_type": list(dict.fromkeys(ENTITY_TYPES.values())),
}


@cache
def fact_schema(source: str):
    """The pandera DataFrameSchema of one source's fact, from its spec (schemas.columns);
    pandera imported only here: slow."""
    import pandera.polars as pa

    spec = SOURCES[source]
    columns: dict[str, pa.Column] = {}
    for col in spec.fact_columns:
        checks = []
        if col.kind in _PATTERNS:
            checks.append(pa.Check.str_matches(_PATTERNS[col.kind]))
        if col.minimum is not None:
            checks.append(pa.Check.ge(col.minimum))
        if col.maximum is not None:
            checks.append(pa.Check.le(col.maximum))
        if col.kind in _VALUES:
            checks.append(pa.Check.isin(_VALUES[col.kind]))
        columns[col.name] = pa.Column(FACT_DTYPES[col.kind], checks=checks, nullable=not col.not_null)
    return pa.DataFrameSchema(columns, unique=list(spec.fact_key), strict=True,
                              name=f"fact_{source}")


#: Rows pandera checks at most. Every row already passed the same column rules in ingest;
#: this check guards the ingest code itself, and on 35 million enrolment rows a full pass of
#: every regex costs minutes, so large facts are checked on an evenly spread sample (the key's
#: uniqueness is checked on all rows, by Polars).
SCHEMA_CHECK_ROWS = 1_000_000


def schema_failures(source: str, frame: pl.DataFrame) -> pl.DataFrame | None:
    """None when the frame conforms; else pandera's failure cases."""
    key = list(SOURCES[source].fact_key)
    if frame.height > SCHEMA_CHECK_ROWS:
        duplicates = frame.height - frame.select(key).n_unique()
        if duplicates:
            return pl.DataFrame({"failure_case": [f"{duplicates} duplicate keys"],
                                 "column": [";".join(key)], "check": ["unique"]})
        frame = frame.gather_every(frame.height // SCHEMA_CHECK_ROWS + 1)
    import pandera.errors

    try:
        fact_schema(source).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return exc.failure_cases
    return None
