"""Publication on SQLite and PostgreSQL: round trip, replacement, failures, atomicity."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from conftest import make_frame, make_frames
from polars.testing import assert_frame_equal
from sqlalchemy import inspect

from pipelines.warehouse import PublishError, make_engine, publish, read_table, table_names

# the package re-exports the function `publish`, which shadows the submodule attribute
pub = importlib.import_module("pipelines.warehouse.publish")
REPO = Path(__file__).resolve().parents[2]


def _same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert got.schema == want.schema
    assert_frame_equal(got.sort(got.columns), want.sort(want.columns))


def _physical_tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_round_trip_every_table(warehouse_url):
    frames = make_frames(20)
    counts = publish(warehouse_url, frames)
    assert counts == {n: 20 for n in table_names()}
    for name, df in frames.items():
        _same(read_table(warehouse_url, name), df)
    assert _physical_tables(warehouse_url) == set(table_names())
    # spot checks of the awkward values
    ent = read_table(warehouse_url, "fact_market_entity")
    assert ent["deregistered"].null_count() == 6
    assert ent.schema["established"] == pl.Date
    dqf = read_table(warehouse_url, "dq_file")
    assert dqf.schema["mtime"] == pl.Datetime("us", "UTC")
    rej = read_table(warehouse_url, "dq_rejected_row")
    assert set(rej["value"].drop_nulls()) >= {"", "\\N", "line\nbreak", "全角（括号）・中文"}


def test_indexes_and_keys_exist(warehouse_url):
    publish(warehouse_url, make_frames(3))
    engine = make_engine(warehouse_url)
    try:
        insp = inspect(engine)
        ix = {i["name"] for i in insp.get_indexes("ind_town_year")}
        assert "ix_ind_town_year_year" in ix
        assert insp.get_pk_constraint("dq_rejected_row")["constrained_columns"] == [
            "file_id", "source_row", "column", "rule",
        ]
    finally:
        engine.dispose()
    # republish: index names are reused without clashes
    publish(warehouse_url, make_frames(4, salt=1))


def test_missing_nullable_columns_become_null_and_extras_dropped(warehouse_url):
    df = pl.DataFrame({"source": ["employment"], "key": ["2024|x"], "rule": ["yoy_jump"], "extra": [1]})
    assert publish(warehouse_url, {"dq_flag": df}) == {"dq_flag": 1}
    got = read_table(warehouse_url, "dq_flag")
    assert got.columns == ["source", "key", "rule", "detail"]
    assert got["detail"].to_list() == [None]


def test_publish_replaces_whole_state_and_leaves_other_tables(warehouse_url):
    publish(warehouse_url, make_frames(8))
    new_flag = make_frame("dq_flag", 3, salt=5)
    new_town = make_frame("dim_town", 2, salt=5)
    assert publish(warehouse_url, {"dq_flag": new_flag, "dim_town": new_town}) == {
        "dim_town": 2, "dq_flag": 3,
    }
    _same(read_table(warehouse_url, "dq_flag"), new_flag)
    _same(read_table(warehouse_url, "dim_town"), new_town)
    _same(read_table(warehouse_url, "dq_file"), make_frame("dq_file", 8))  # untouched


def _assert_state(url: str, frames: dict[str, pl.DataFrame]) -> None:
    for name, df in frames.items():
        _same(read_table(url, name), df)


def test_missing_required_column_is_an_error_and_changes_nothing(warehouse_url):
    before = make_frames(5)
    publish(warehouse_url, before)
    bad = make_frame("ind_town_year", 3, salt=1).drop("revenue")
    with pytest.raises(PublishError, match=r"ind_town_year: required column 'revenue'"):
        publish(warehouse_url, {"dim_town": make_frame("dim_town", 2, 1), "ind_town_year": bad})
    nulls = make_frame("dq_flag", 3, 1).with_columns(rule=pl.lit(None, pl.String))
    with pytest.raises(PublishError, match=r"dq_flag: NOT NULL.*rule"):
        publish(warehouse_url, {"dq_flag": nulls})
    with pytest.raises(PublishError, match=r"unknown warehouse table"):
        publish(warehouse_url, {"nope": nulls})
    with pytest.raises(PublishError, match=r"dim_town.town_code: value of 12 characters"):
        publish(warehouse_url, {"dim_town": make_frame("dim_town", 1).with_columns(town_code=pl.lit("140823100000"))})
    _assert_state(warehouse_url, before)


def test_failure_after_loading_leaves_previous_state(warehouse_url, monkeypatch):
    before = make_frames(5)
    publish(warehouse_url, before)
    seen = []

    def boom(conn, names, pg):
        seen.append(_count_inside(conn, "dim_town__new"))
        raise RuntimeError("injected after loading the aside tables")

    monkeypatch.setattr(pub, "_swap", boom)
    with pytest.raises(RuntimeError, match="injected"):
        publish(warehouse_url, make_frames(11, salt=2))
    assert seen == [11]  # the aside tables were loaded when it failed
    monkeypatch.undo()
    _assert_state(warehouse_url, before)
    assert _physical_tables(warehouse_url) == set(table_names())


def test_duplicate_key_fails_in_database_and_changes_nothing(warehouse_url):
    before = make_frames(4)
    publish(warehouse_url, before)
    dup = pl.concat([make_frame("dq_file", 3, 1), make_frame("dq_file", 1, 1)])
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        publish(warehouse_url, {"dim_town": make_frame("dim_town", 9, 1), "dq_file": dup})
    _assert_state(warehouse_url, before)


def _count_inside(conn, table: str) -> int:
    return conn.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar()


def test_leftover_aside_tables_are_cleaned(warehouse_url):
    publish(warehouse_url, make_frames(2))
    engine = make_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE "dim_town__new" (x integer)')
            conn.exec_driver_sql('CREATE TABLE "dq_flag__old" (x integer)')
    finally:
        engine.dispose()
    publish(warehouse_url, {"dq_file": make_frame("dq_file", 3)})
    assert _physical_tables(warehouse_url) == set(table_names())


def test_concurrent_reader_never_sees_a_mix(warehouse_url):
    """Two tables whose row counts always match: every read sees both old or both new."""
    a, b = "fact_tax_month", "ind_town_year"
    sizes = [2000, 3500, 2000, 3500, 2000, 3500]
    publish(warehouse_url, {a: make_frame(a, 1000), b: make_frame(b, 1000)})
    stop = threading.Event()
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def reader(two_statements: bool) -> None:
        engine = make_engine(warehouse_url)
        try:
            with engine.connect() as conn:
                while not stop.is_set():
                    if two_statements:  # one transaction, two statements
                        x = conn.exec_driver_sql(f"SELECT count(*) FROM {a}").scalar()
                        time.sleep(0.001)
                        y = conn.exec_driver_sql(f"SELECT count(*) FROM {b}").scalar()
                    else:
                        x, y = conn.exec_driver_sql(
                            f"SELECT (SELECT count(*) FROM {a}), (SELECT count(*) FROM {b})"
                        ).one()
                    conn.rollback()
                    seen.append((x, y))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=reader, args=(m,)) for m in (False, True)]
    for t in threads:
        t.start()
    try:
        for i, n in enumerate(sizes):
            publish(warehouse_url, {a: make_frame(a, n, i), b: make_frame(b, n, i)})
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    mixed = [s for s in seen if s[0] != s[1]]
    assert not mixed, mixed[:5]
    assert len({s[0] for s in seen}) >= 2, "the reader saw only one state: test is vacuous"


KILL_SCRIPT = r"""
import logging, sys
import importlib
import polars as pl
pub = importlib.import_module("pipelines.warehouse.publish")
if sys.argv[2] == "executemany":
    importlib.import_module("pipelines.warehouse.sqlite_load").FRAME_MIN_ROWS = 10**9
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
importlib.import_module("pipelines.warehouse.sql").BATCH_ROWS = 20_000
n = 1_000_000
i = pl.int_range(n, eager=True)
df = pl.DataFrame({"i": i}).select(
    period=pl.lit("2024-12"),
    person_key=pl.col("i").cast(pl.String).str.zfill(64),
    employer_uscc=pl.lit("91140823MA0K12345X"),
    year=pl.lit(2024, pl.Int32),
    hukou_code=pl.lit("140823"),
    hukou_county_code=pl.lit("140823"),
    contribution_base=pl.col("i") * 1.5,
)
print("starting", file=sys.stderr, flush=True)
pub.publish(sys.argv[1], {"dim_town": pl.DataFrame({"town_code": ["140823999"], "town_name": ["杀"], "county_code": ["140823"]}),
                          "fact_employment_month": df})
print("FINISHED", file=sys.stderr, flush=True)
"""


# where the kill lands: in the rows' executemany, or in the copy from a scratch file
KILL_AT = {"executemany": "fact_employment_month: loaded 100000/",
           "scratch": "fact_employment_month: 1000000 rows written to a scratch file"}


def test_publish_killed_mid_load_leaves_previous_state(warehouse_url):
    _killed_mid_load(warehouse_url, "executemany")


def test_publish_killed_while_copying_a_scratch_file_leaves_previous_state(sqlite_url):
    _killed_mid_load(sqlite_url, "scratch")


def _killed_mid_load(warehouse_url: str, path: str) -> None:
    before = {
        "dim_town": make_frame("dim_town", 6),
        "fact_employment_month": make_frame("fact_employment_month", 10),
    }
    publish(warehouse_url, before)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, warehouse_url, path],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(KILL_AT[path]):
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(60)
    assert proc.returncode == -signal.SIGKILL, "".join(lines)
    assert not any("FINISHED" in ln for ln in lines)
    _assert_state(warehouse_url, before)
    after = {"dim_town": make_frame("dim_town", 3, 7), "dq_flag": make_frame("dq_flag", 2)}
    assert publish(warehouse_url, after) == {"dim_town": 3, "dq_flag": 2}
    _assert_state(warehouse_url, after)
    _same(read_table(warehouse_url, "fact_employment_month"), before["fact_employment_month"])
    assert _physical_tables(warehouse_url) == set(table_names()) - {
        n for n in table_names() if n not in (*before, *after)
    }
