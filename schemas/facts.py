"""Pandera schemas (polars backend) of the validated fact tables.

They state what ingest guarantees downstream: the columns and dtypes, the key unique, the
codes in their shape, the ranges of `schemas.columns`. Ingest splits rows with the same
column declarations; these schemas check the result as a Dagster asset check.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from schemas.columns import SOURCES

FACT_KEYS = {
    "enterprise": ["year", "uscc"],
    "tax": ["period", "uscc"],
    "employment": ["period", "person_key", "employer_uscc"],
    "registry": ["uscc"],
}

_PATTERNS = {
    "uscc": r"^[0-9A-HJ-NPQRTUWXY]{18}$",
    "employer_uscc": r"^[0-9A-HJ-NPQRTUWXY]{18}$",
    "town_code": r"^\d{9}$",
    "industry_code": r"^\d{4}$",
    "period": r"^\d{4}-(0[1-9]|1[0-2])$",
    "person_key": r"^[0-9a-f]{64}$",
    "hukou_county_code": r"^\d{6}$",
}


@cache
def fact_schema(source: str):
    """The pandera DataFrameSchema of one source's fact (pandera imported only here: slow)."""
    import pandera.polars as pa

    from pipelines.ingest.sources import FACT_SCHEMAS

    spec = SOURCES[source]
    declared = {c.name: c for c in spec.columns}
    columns: dict[str, pa.Column] = {}
    for name, dtype in FACT_SCHEMAS[source].items():
        checks = []
        if name in _PATTERNS:
            checks.append(pa.Check.str_matches(_PATTERNS[name]))
        col = declared.get(name)
        if col is not None and col.minimum is not None:
            checks.append(pa.Check.ge(col.minimum))
        if col is not None and col.maximum is not None:
            checks.append(pa.Check.le(col.maximum))
        nullable = not (col is not None and col.required) and name not in ("source_file_id", "source_row")
        if name in ("above_scale", "high_tech", "specialized_sme", "little_giant", "tech_center_level",
                    "person_key", "year", "hukou_county_code"):
            nullable = False
        if name == "tech_center_level":
            checks.append(pa.Check.isin(["none", "municipal", "provincial", "national"]))
        if name == "entity_type":
            checks.append(pa.Check.isin(["enterprise", "individual", "cooperative"]))
        columns[name] = pa.Column(dtype, checks=checks, nullable=nullable)
    return pa.DataFrameSchema(columns, unique=FACT_KEYS[source], strict=True,
                              name=f"fact_{source}")


#: Rows pandera checks at most. Every row already passed the same column rules in ingest;
#: this check guards the ingest code itself, and on 35 million enrolment rows a full pass of
#: every regex costs minutes, so large facts are checked on an evenly spread sample (the key's
#: uniqueness is checked on all rows, by Polars).
SCHEMA_CHECK_ROWS = 1_000_000


def schema_failures(source: str, frame: pl.DataFrame) -> pl.DataFrame | None:
    """None when the frame conforms; else pandera's failure cases."""
    key = FACT_KEYS[source]
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
