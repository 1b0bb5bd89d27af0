"""A large fact read in key order in bounded slices (`warehouse/slices.py`): the slices one
after another are the rows a single sort gives, none lost, none twice; and a fact loaded so
into SQLite (worker processes) and by the one-process path equals its rows."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.warehouse import publish, read_table
from pipelines.warehouse.frames import prepare_frame
from pipelines.warehouse.slices import key_ordered_slices, slice_bounds

slices = importlib.import_module("pipelines.warehouse.slices")
bulk = importlib.import_module("pipelines.warehouse.sqlite_load")
KEY = ["period", "person_key", "employer_uscc"]


def _hex(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def test_bounds_cut_a_known_histogram_where_the_running_count_reaches_each_share():
    # prefixes 0000 x2, 4000 x2, 8000 x2, c000 x2 (8 rows): four slices of two rows each
    rows = pl.LazyFrame({"k": [p + s for p in ("0000", "4000", "8000", "c000") for s in ("a", "b")]})
    assert slice_bounds(rows, "k", 4) == ["4000", "8000", "c000"]
    assert slice_bounds(rows, "k", 2) == ["8000"]
    # 0000 x5, 4000 x1, 8000 x2: half of the 8 rows is reached only after 0000 (5 rows)
    skew = pl.LazyFrame({"k": ["0000"] * 5 + ["4000", "8000", "8000"]})
    assert slice_bounds(skew, "k", 2) == ["4000"]
    # one prefix for every row: no bound, one slice
    assert slice_bounds(pl.LazyFrame({"k": ["abcd1", "abcd2", "abcd3"]}), "k", 3) == []


def test_slices_in_order_are_the_sorted_rows_of_the_value():
    n = 1_000
    df = pl.DataFrame({
        "period": ["2024-01" if i % 3 else "2024-02" for i in range(n)],
        "person_key": [_hex(i) for i in range(n)],
        "employer_uscc": [f"U{i % 7}" for i in range(n)],
        "row": list(range(n)),
    })
    want = df.filter(pl.col("period") == "2024-01").sort(KEY)  # a second method: one sort
    got = list(key_ordered_slices(df.lazy(), KEY, "2024-01", slice_rows=100))
    assert want.height == 666  # i % 3 != 0 for 666 of 0..999
    assert len(got) == 7  # ceil(666 / 100) ranges: the 4-character prefixes of 666 hashes differ
    assert max(s.height for s in got) < 200
    assert_frame_equal(pl.concat(got), want)
    # rows counted when not given; a few rows only: one slice
    assert len(list(key_ordered_slices(df.lazy(), KEY, "2024-01", slice_rows=10_000))) == 1
    assert_frame_equal(pl.concat(key_ordered_slices(df.lazy(), KEY, "2024-02", slice_rows=50)),
                       df.filter(pl.col("period") == "2024-02").sort(KEY))


def test_a_value_chosen_by_another_column_or_an_integer_second_key_is_one_slice():
    df = pl.DataFrame({"year": [2024, 2024, 2023, 2024], "town": ["b", "a", "c", "a"],
                       "n": [4, 3, 2, 1], "k": ["x", "y", "z", "w"]})
    by_year = list(key_ordered_slices(df.lazy(), ["town", "n"], 2024, column="year", slice_rows=1))
    assert len(by_year) == 1
    assert by_year[0]["k"].to_list() == ["w", "y", "x"]  # (a,1), (a,3), (b,4)
    by_int = list(key_ordered_slices(df.lazy(), ["year", "n"], 2024, slice_rows=1))
    assert [s["n"].to_list() for s in by_int] == [[1, 3, 4]]


def _employment(n: int) -> pl.DataFrame:
    return pl.DataFrame({
        "period": [("2024-01", "2024-02", "2023-12")[i % 3] for i in range(n)],
        "person_key": [_hex(i) for i in range(n)],
        "employer_uscc": "91140823MA0K12345X",
        "year": pl.Series([2024] * n, dtype=pl.Int32),
        "hukou_code": "140823100",
        "hukou_county_code": "140823",
        "contribution_base": [i * 1.5 for i in range(n)],
        "source_file": "employment/x.csv",
        "source_row": [i + 2 for i in range(n)],
    })


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_fact_loaded_in_slices_equals_its_rows(tmp_path: Path, monkeypatch, workers):
    monkeypatch.setattr(bulk, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(slices, "SLICE_ROWS", 500)  # the workers are handed it
    monkeypatch.setenv("TOWNSTAT_LOAD_WORKERS", workers)
    df = _employment(6_000)  # 2,000 rows a month: four slices each
    src = tmp_path / "fact.parquet"
    df.write_parquet(src)
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    assert publish(url, {"fact_employment_month": pl.scan_parquet(src)}) == {"fact_employment_month": 6_000}
    want = prepare_frame("fact_employment_month", df).sort(KEY)
    assert_frame_equal(read_table(url, "fact_employment_month"), want)
