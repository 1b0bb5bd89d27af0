"""Distinct counts in passes (`indicators/passes.py`): every group in exactly one pass, the
same counts as one group-by, and as many passes as there are PASS_ROWS rows to read."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.indicators import passes
from pipelines.indicators.passes import grouped_in_passes, passes_for

# persons p1..p4 enrolled at towns A, B, C; p1 twice at A (two employers), p2 at A and B
ROWS = pl.LazyFrame({
    "town": ["A", "A", "A", "B", "B", "C", "C", "C", "C"],
    "year": [2024] * 9,
    "person": ["p1", "p1", "p2", "p2", "p3", "p1", "p2", "p3", "p4"],
})
BY_HAND = {("A", 2024): 2, ("B", 2024): 2, ("C", 2024): 4}


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20])
def test_counts_equal_the_hand_worked_ones_in_any_number_of_passes(n):
    got = grouped_in_passes(ROWS, ["town", "year"], [pl.col("person").n_unique().alias("persons")], n)
    assert {(t, y): c for t, y, c in got.iter_rows()} == BY_HAND
    assert got.height == 3  # no group split between passes, none lost


def test_the_share_column_may_be_another_than_the_first_key():
    got = grouped_in_passes(ROWS, ["year", "town"], [pl.len().alias("rows")], 3, share="town")
    assert sorted(got.rows()) == [(2024, "A", 3), (2024, "B", 2), (2024, "C", 4)]


def test_one_pass_per_pass_rows_rows(monkeypatch):
    assert passes_for(ROWS) == 1
    monkeypatch.setattr(passes, "PASS_ROWS", 4)
    assert passes_for(ROWS) == 3  # 9 rows: ceil(9 / 4)
    assert passes_for(ROWS.head(0)) == 1
