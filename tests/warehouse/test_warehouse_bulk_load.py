"""The parallel SQLite load of large facts: same rows as the one-process path, key order kept."""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from pipelines.warehouse import publish, read_table
from pipelines.warehouse.sqlite_bulk import chunk_ranges

pub = importlib.import_module("pipelines.warehouse.publish")
bulk = importlib.import_module("pipelines.warehouse.sqlite_bulk")


def _employment(n: int, periods: list[str]) -> pl.DataFrame:
    i = pl.int_range(n, eager=True)
    return pl.DataFrame({"i": i}).select(
        period=pl.lit(pl.Series(periods)).gather(pl.col("i") % len(periods)),
        # descending keys: the loader must sort them
        person_key=(n - pl.col("i")).cast(pl.String).str.zfill(64),
        employer_uscc=pl.lit("91140823MA0K12345X"),
        year=pl.lit(2024, pl.Int32),
        hukou_code=pl.lit("140823100"),
        hukou_county_code=pl.lit("140823"),
        contribution_base=pl.col("i") * 1.5,
        source_file=pl.lit("employment/x.csv"),
        source_row=pl.col("i") + 2,
    )


def test_chunk_ranges_are_contiguous_and_balanced():
    counts = pl.DataFrame({"period": [f"2024-{m:02d}" for m in range(12, 0, -1)], "len": [10] * 12})
    ranges = chunk_ranges(counts, "period", 4)
    assert ranges == [[f"2024-{m:02d}" for m in range(a, a + 3)] for a in (1, 4, 7, 10)]
    # a single huge month is never split, no range is empty, never more ranges than asked
    skew = pl.DataFrame({"period": ["2024-01", "2024-02", "2024-03"], "len": [1000, 1, 1]})
    assert chunk_ranges(skew, "period", 4) == [["2024-01"], ["2024-02"], ["2024-03"]]
    assert chunk_ranges(skew, "period", 2) == [["2024-01"], ["2024-02", "2024-03"]]
    assert chunk_ranges(counts.head(1), "period", 4) == [["2024-12"]]


def test_parallel_load_equals_the_rows(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(bulk, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setenv("TOWNSTAT_LOAD_WORKERS", "2")
    df = _employment(30_000, ["2024-03", "2024-01", "2024-02", "2023-12", "2024-04"])
    src = tmp_path / "fact.parquet"
    df.write_parquet(src)
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    counts = publish(url, {"fact_employment_month": pl.scan_parquet(src)})
    assert counts == {"fact_employment_month": 30_000}
    got = read_table(url, "fact_employment_month")
    want = pub.prepare_frame("fact_employment_month", df).sort("period", "person_key", "employer_uscc")
    assert_frame_equal(got, want)
    con = sqlite3.connect(tmp_path / "w.sqlite")
    try:
        # physical order is the key order (WITHOUT ROWID), nothing is left attached or aside
        first = con.execute("SELECT period, person_key FROM fact_employment_month LIMIT 1").fetchone()
        assert first == ("2023-12", want["person_key"][0])
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not {n for n in names if n.endswith(("__new", "__old"))}
        assert [r[1] for r in con.execute("PRAGMA database_list")] == ["main"]
    finally:
        con.close()
    # the scratch files are gone
    assert not list(tmp_path.glob(".townstat-load-*"))


def test_parallel_load_failure_leaves_previous_state(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(bulk, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setenv("TOWNSTAT_LOAD_WORKERS", "2")
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    good = _employment(4_000, ["2024-01", "2024-02"])
    good.write_parquet(tmp_path / "good.parquet")
    publish(url, {"fact_employment_month": pl.scan_parquet(tmp_path / "good.parquet")})
    # a null person key in the last month: the worker building that range fails
    bad = _employment(4_000, ["2024-01", "2024-02"]).with_columns(
        person_key=pl.when(pl.col("source_row") == 4001).then(None).otherwise(pl.col("person_key")))
    bad.write_parquet(tmp_path / "bad.parquet")
    try:
        publish(url, {"fact_employment_month": pl.scan_parquet(tmp_path / "bad.parquet")})
    except pub.PublishError as exc:
        assert "person_key" in str(exc)
    else:
        raise AssertionError("a null key was published")
    assert_frame_equal(read_table(url, "fact_employment_month"),
                       pub.prepare_frame("fact_employment_month", good).sort("period", "person_key", "employer_uscc"))
    assert not list(tmp_path.glob(".townstat-load-*"))


def test_scratch_table_name_never_shadows_a_warehouse_table():
    # the publisher's DROP/ALTER TABLE names are unqualified: on a first load (no such table in
    # main yet) SQLite would resolve them in an attached scratch file of the same name
    from pipelines.warehouse.tables import table_names

    assert bulk.SCRATCH_TABLE not in table_names()
    assert not any(bulk.SCRATCH_TABLE.startswith(t) for t in table_names())
