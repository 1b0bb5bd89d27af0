"""The parallel SQLite load of large facts: same rows as the one-process path, key order kept."""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.warehouse import publish, read_table
from pipelines.warehouse.frames import PublishError, prepare_frame
from pipelines.warehouse.sqlite_load import chunk_ranges

bulk = importlib.import_module("pipelines.warehouse.sqlite_load")


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
    want = prepare_frame("fact_employment_month", df).sort("period", "person_key", "employer_uscc")
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
    except PublishError as exc:
        assert "person_key" in str(exc)
    else:
        raise AssertionError("a null key was published")
    assert_frame_equal(read_table(url, "fact_employment_month"),
                       prepare_frame("fact_employment_month", good).sort("period", "person_key", "employer_uscc"))
    assert not list(tmp_path.glob(".townstat-load-*"))


def test_scratch_table_name_never_shadows_a_warehouse_table():
    # the publisher's DROP/ALTER TABLE names are unqualified: on a first load (no such table in
    # main yet) SQLite would resolve them in an attached scratch file of the same name
    from pipelines.warehouse.tables import table_names

    assert bulk.SCRATCH_TABLE not in table_names()
    assert not any(bulk.SCRATCH_TABLE.startswith(t) for t in table_names())


def test_parallel_load_keeps_nulls_and_storage_classes(tmp_path: Path, monkeypatch):
    # the workers bind Arrow columns (ADBC), the one-process path Python values (executemany):
    # a missing amount must stay NULL (not 0, not ''), numbers numbers, text text
    monkeypatch.setattr(bulk, "PARALLEL_MIN_ROWS", 0)
    n = 9_000
    i = pl.int_range(n, eager=True)
    tax = pl.DataFrame({"i": i}).select(
        period=pl.format("2024-{}", (pl.col("i") % 3 + 1).cast(pl.String).str.zfill(2)),
        uscc=pl.col("i").cast(pl.String).str.zfill(18),
        year=pl.lit(2024, pl.Int32),
        vat=pl.when(pl.col("i") % 5 == 0).then(None).otherwise(pl.col("i") * 0.25),
        corporate_income_tax=pl.lit(None, pl.Float64),
        other_tax=pl.lit(1.0),
        total_tax=pl.col("i") * 0.25 + 1.0,
        total_tax_reported=pl.lit(None, pl.Float64),
        invoice_sales=pl.col("i") * 2.0,
        source_file_id=pl.when(pl.col("i") % 7 == 0).then(None).otherwise(pl.lit("f1")),
        source_row=pl.col("i") + 2,
    )
    src = tmp_path / "tax.parquet"
    tax.write_parquet(src)
    tables = {}
    for workers in ("2", "1"):
        monkeypatch.setenv("TOWNSTAT_LOAD_WORKERS", workers)
        db = tmp_path / f"w{workers}.sqlite"
        publish(f"sqlite:///{db}", {"fact_tax_month": pl.scan_parquet(src)})
        con = sqlite3.connect(db)
        try:
            tables[workers] = con.execute(
                "SELECT period, uscc, typeof(year), typeof(vat), typeof(corporate_income_tax), vat, "
                "typeof(source_file_id), source_file_id, typeof(source_row), source_row "
                "FROM fact_tax_month ORDER BY period, uscc").fetchall()
        finally:
            con.close()
    assert tables["2"] == tables["1"]
    rows = tables["2"]
    assert len(rows) == n
    # i = 0: period 2024-01, uscc 0…0; vat NULL (i % 5 == 0), source_file_id NULL (i % 7 == 0)
    assert rows[0] == ("2024-01", "0" * 18, "integer", "null", "null", None, "null", None, "integer", 2)
    # i = 3: period 2024-01 (3 % 3 + 1), vat 0.75, file f1, row 5
    assert rows[1] == ("2024-01", "3".zfill(18), "integer", "real", "null", 0.75, "text", "f1", "integer", 5)
    assert sum(r[3] == "null" for r in rows) == n // 5


def test_first_publication_builds_a_new_file_then_links_it(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(bulk, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setenv("TOWNSTAT_LOAD_WORKERS", "2")
    db = tmp_path / "wh" / "w.sqlite"
    url = f"sqlite:///{db}"
    # a failed first publication leaves no warehouse file and no hidden one
    bad = _employment(3_000, ["2024-01", "2024-02"]).with_columns(
        person_key=pl.when(pl.col("source_row") == 2001).then(None).otherwise(pl.col("person_key")))
    bad.write_parquet(tmp_path / "bad.parquet")
    try:
        publish(url, {"fact_employment_month": pl.scan_parquet(tmp_path / "bad.parquet")})
    except PublishError:
        pass
    else:
        raise AssertionError("a null key was published")
    assert sorted(p.name for p in db.parent.iterdir()) == []
    good = _employment(3_000, ["2024-01", "2024-02"])
    good.write_parquet(tmp_path / "good.parquet")
    assert publish(url, {"fact_employment_month": pl.scan_parquet(tmp_path / "good.parquet")}) == \
        {"fact_employment_month": 3_000}
    assert sorted(p.name for p in db.parent.iterdir() if not p.name.endswith(("-wal", "-shm"))) == ["w.sqlite"]
    con = sqlite3.connect(db)
    try:
        # readers get the usual WAL file, and the rows are all there
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert con.execute("SELECT count(*), sum(source_row) FROM fact_employment_month").fetchone() == \
            (3_000, sum(range(2, 3_002)))
    finally:
        con.close()
    # the second publication goes into the existing file, in one transaction as before
    assert publish(url, {"fact_employment_month": pl.scan_parquet(tmp_path / "good.parquet").head(1_000)}) == \
        {"fact_employment_month": 1_000}
    assert read_table(url, "fact_employment_month").height == 1_000


def test_a_frame_in_memory_through_a_scratch_file_equals_executemany(tmp_path: Path, monkeypatch):
    # dq_rejected_row as the refresh publishes it: a DataFrame, text with NULLs, a composite key
    n = 3_000
    i = pl.int_range(n, eager=True)
    rej = pl.DataFrame({"i": i}).select(
        file_id=pl.format("f{}", pl.col("i") % 4), path=pl.format("tax/2024/税收明细_{}.csv", pl.col("i") % 4),
        source_row=pl.col("i") // 4 + 2, column=pl.lit("vat"), rule=pl.lit("value_invalid"),
        value=pl.when(pl.col("i") % 3 == 0).then(None).otherwise(pl.format("值{}", pl.col("i"))),
        message=pl.lit("无法读取 / cannot read"))
    dumps = {}
    for label, threshold in (("scratch", 0), ("executemany", 10**9)):
        monkeypatch.setattr(bulk, "FRAME_MIN_ROWS", threshold)
        db = tmp_path / f"{label}.sqlite"
        db.touch()  # an existing (empty) file: the ordinary transaction, not the first-build path
        assert publish(f"sqlite:///{db}", {"dq_rejected_row": rej}) == {"dq_rejected_row": n}
        con = sqlite3.connect(db)
        try:
            dumps[label] = con.execute(
                "SELECT file_id, source_row, \"column\", rule, path, typeof(value), value, message, "
                "typeof(source_row) FROM dq_rejected_row").fetchall()  # physical (key) order
            assert [r[1] for r in con.execute("PRAGMA database_list")] == ["main"]
        finally:
            con.close()
        assert not list(tmp_path.glob(".townstat-load-*"))
    assert dumps["scratch"] == dumps["executemany"]
    assert dumps["scratch"][0] == ("f0", 2, "vat", "value_invalid", "tax/2024/税收明细_0.csv", "null", None,
                                   "无法读取 / cannot read", "integer")
    assert dumps["scratch"][1][:7] == ("f0", 3, "vat", "value_invalid", "tax/2024/税收明细_0.csv", "text", "值4")


def test_a_plan_over_rows_in_memory_is_told_from_a_scan_of_files(tmp_path: Path):
    # the workers get a plan; one over rows in memory is first written to Parquet, a scan is not
    df = pl.DataFrame({"period": ["2024-01", "2024-02"], "n": [1, 2]})
    df.write_parquet(tmp_path / "f.parquet")
    scan = pl.scan_parquet(tmp_path / "f.parquet")
    assert bulk._holds_data(df.lazy())
    assert bulk._holds_data(scan.join(df.lazy(), on="period"))
    assert not bulk._holds_data(scan.filter(pl.col("n") > 1).sort("period"))


def test_length_limits_count_characters_not_bytes():
    """A declared length is in characters (PostgreSQL's varchar(n)); the same error on both
    backends. Six Chinese characters are 18 UTF-8 bytes and still fit city_code String(6)."""
    base = {"town_code": "140823100", "town_name": "桐城镇", "county_code": "140823"}
    fits = prepare_frame("dim_town", pl.DataFrame([{**base, "city_code": "运城市运城市"}]))
    assert fits["city_code"].to_list() == ["运城市运城市"]
    with pytest.raises(PublishError, match="city_code: value of 7 characters, at most 6 allowed"):
        prepare_frame("dim_town", pl.DataFrame([{**base, "city_code": "运城市运城市市"}]))
    with pytest.raises(PublishError, match="town_code: value of 10 characters, at most 9 allowed"):
        prepare_frame("dim_town", pl.DataFrame([{**base, "town_code": "1408231000"}]))
