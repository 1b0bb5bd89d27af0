"""Cell-by-cell comparison of two indicator tables (the Polars code against the SQL reference)."""

from __future__ import annotations

import math

import polars as pl


def assert_same_cells(got: pl.DataFrame, want: pl.DataFrame, key: list[str]) -> int:
    """Same columns, same keys, every cell equal (floats to 1e-9); returns the cells compared."""
    assert got.columns == want.columns
    assert got.height == want.height
    assert got.select(key).sort(key).equals(want.select(key).sort(key))
    got, want = got.sort(key), want.sort(key)
    compared = 0
    for column in got.columns:
        for i, (a, b) in enumerate(zip(got[column].to_list(), want[column].to_list(), strict=True)):
            where = f"{column} at {[got[k][i] for k in key]}: {a!r} vs {b!r}"
            if a is None or b is None:
                assert a is None and b is None, where
            elif isinstance(a, float) or isinstance(b, float):
                assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9), where
            else:
                assert a == b, where
            compared += 1
    return compared
