"""Frames for every warehouse table, built from the declarations (so they follow them)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from pipelines.warehouse.tables import SPEC_BY_NAME, polars_schema, table_names

TRICKY_TEXT = ["", "\\N", 'quote " and , comma', "line\nbreak", "全角（括号）・中文", "tab\there"]


def make_frame(name: str, n: int, salt: int = 0) -> pl.DataFrame:
    """`n` rows for table `name`: unique keys, Chinese and awkward text, nulls in every
    nullable column, dates, timestamps, booleans, large integers, awkward floats."""
    spec = SPEC_BY_NAME[name]
    schema = polars_schema(name)
    cols: dict[str, pl.Series] = {}
    for col in spec.columns:
        dtype = schema[col.name]
        key = col.name in spec.key
        vals: list
        length = getattr(col.type, "length", None)
        if dtype == pl.String and length:
            vals = [str((i * 7919 + (0 if key else salt)) % 10**length).zfill(length) for i in range(n)]
        elif dtype == pl.String:
            if key:
                vals = [f"{col.name[:3]}{i:07d}" for i in range(n)]
            else:
                vals = [
                    TRICKY_TEXT[(i // 3) % len(TRICKY_TEXT)] if i % 3 == 1 else f"太原市{col.name}{i}-{salt}"
                    for i in range(n)
                ]
        elif dtype == pl.Int32:
            vals = [2000 + i for i in range(n)] if key else [2000 + (i + salt) % 25 for i in range(n)]
        elif dtype == pl.Int64:
            vals = [i + 1 for i in range(n)] if key else [(i + salt) * 1_000_003 + 2**40 for i in range(n)]
        elif dtype == pl.Float64:
            pool = [0.1, -3.5, 1234567.89, 1e20, 2.5e-8, 0.0, 1 / 3, -0.0]
            vals = [pool[i % len(pool)] + salt for i in range(n)]
        elif dtype == pl.Boolean:
            vals = [(i + salt) % 2 == 0 for i in range(n)]
        elif dtype == pl.Date:
            vals = [dt.date(1999, 12, 31) + dt.timedelta(days=37 * i + salt) for i in range(n)]
        elif isinstance(dtype, pl.Datetime):
            vals = [
                dt.datetime(2024, 3, 15, 8, 30, tzinfo=dt.UTC) + dt.timedelta(seconds=3601 * i + salt, microseconds=123457)
                for i in range(n)
            ]
        else:  # pragma: no cover
            raise AssertionError(dtype)
        if not col.required:
            vals = [None if i % 3 == 2 else v for i, v in enumerate(vals)]
        cols[col.name] = pl.Series(col.name, vals, dtype=dtype)
    return pl.DataFrame(list(cols.values()))


def make_frames(n: int = 7, salt: int = 0) -> dict[str, pl.DataFrame]:
    return {name: make_frame(name, n, salt) for name in table_names()}


@pytest.fixture
def frames_factory():
    return make_frames
