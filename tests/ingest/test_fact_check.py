"""The `fact_schema` check of the ingest assets as a function
(`pipelines/ingest/fact_check.py`): which rows it reads, and what it finds."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.ingest.fact_check import fact_sample, fact_schema_failures
from tests.indicators.synthetic_facts import registry_frame


def numbered(n: int) -> pl.LazyFrame:
    return pl.LazyFrame({"i": list(range(n))})


def test_fewer_rows_than_the_limit_are_all_read():
    assert fact_sample(numbered(4), 4, limit=5)["i"].to_list() == [0, 1, 2, 3]


def test_from_the_limit_on_an_evenly_spread_sample_is_read():
    # 5 rows, limit 5: every 5 // 5 + 1 = 2nd row from the first
    assert fact_sample(numbered(5), 5, limit=5)["i"].to_list() == [0, 2, 4]
    # 11 rows, limit 5: every 11 // 5 + 1 = 3rd row
    assert fact_sample(numbered(11), 11, limit=5)["i"].to_list() == [0, 3, 6, 9]


def test_a_large_fact_is_sampled_slice_by_slice_with_the_same_rows(tmp_path):
    # every step-th row of the whole, whatever the slices: the offset carries over
    for n, limit in ((11, 5), (100, 7), (1001, 10)):
        step = n // limit + 1
        for slice_rows in (1, 3, 7, 50, 5000):
            got = fact_sample(numbered(n), n, limit=limit, slice_rows=slice_rows)["i"].to_list()
            assert got == list(range(0, n, step)), (n, limit, slice_rows)
    # from Parquet files, strings included (the sample is copied out of the pages read)
    for k in range(3):
        pl.DataFrame({"i": range(k * 1000, (k + 1) * 1000), "s": [f"p{j:06d}" for j in range(1000)]}
                     ).write_parquet(tmp_path / f"{k}.parquet")
    fact = pl.scan_parquet(tmp_path / "*.parquet")
    sample = fact_sample(fact, 3000, limit=100, slice_rows=250)
    assert sample["i"].to_list() == list(range(0, 3000, 31))
    assert sample["s"].to_list() == [f"p{i % 1000:06d}" for i in range(0, 3000, 31)]


def registry(n: int) -> pl.DataFrame:
    return registry_frame([{"uscc": f"91140823MA0K00000{i}", "town_code": "140823100",
                            "established": dt.date(2020, 1, 1), "source_row": i + 2} for i in range(n)])


def test_a_conforming_fact_has_no_failures():
    fact = registry(5)
    assert fact_schema_failures("registry", fact.lazy(), fact.height) is None


def test_a_malformed_code_fails_when_its_row_is_read():
    # the third row (index 2) has a town code of 4 digits
    fact = registry(5).with_columns(
        town_code=pl.when(pl.col("source_row") == 4).then(pl.lit("1408")).otherwise("town_code"))
    failures = fact_schema_failures("registry", fact.lazy(), fact.height)
    assert failures is not None
    assert failures.select("failure_case", "column").rows() == [("1408", "town_code")]
    # limit 3: every 5 // 3 + 1 = 2nd row, index 2 among them
    assert fact_schema_failures("registry", fact.lazy(), fact.height, limit=3) is not None
    # limit 2: every 3rd row (indexes 0 and 3), the bad row is not in the sample
    assert fact_schema_failures("registry", fact.lazy(), fact.height, limit=2) is None


def test_a_duplicate_key_fails():
    fact = registry(3)
    fact = pl.concat([fact, fact.head(1).with_columns(source_row=pl.lit(9, dtype=pl.Int64))])
    failures = fact_schema_failures("registry", fact.lazy(), fact.height)
    assert failures is not None and failures.height >= 1
