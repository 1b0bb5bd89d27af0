"""PostgreSQL readers across a publication (contract section 3, issue 12 item 7).

A `REPEATABLE READ` reader that read before a refresh keeps reading the same rows inside its
transaction while the refresh completes (the refresh does not wait for it), and a new
transaction sees the new rows. A session holding a swapped internal table makes the refresh
fail within the lock timeout, naming the table, with the previous state kept; the next
refresh succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import polars as pl
import psycopg
import pytest
from conftest import make_frame
from sqlalchemy.engine import make_url

from pipelines.warehouse import READER_ROLE, grant_reader, publish, read_table
from pipelines.warehouse.publish import PublishBlocked
from pipelines.warehouse.tables import SPEC_BY_NAME, TABLES

#: Seconds a publication that does not wait for anyone needs at most here (generous: the
#: machine is shared); a publication that waited for the reader would run until it ends.
DEADLINE_S = 60


def _rows(df: pl.DataFrame, name: str) -> list[tuple]:
    """The frame's rows in key order, as psycopg returns them."""
    return df.sort(list(SPEC_BY_NAME[name].key)).rows()


def _select(conn: psycopg.Connection, name: str) -> list[tuple]:
    cols = ", ".join(f'"{c.name}"' for c in TABLES[name].columns)
    keys = ", ".join(f'"{c}"' for c in SPEC_BY_NAME[name].key)
    return conn.execute(f'SELECT {cols} FROM "{name}" ORDER BY {keys}').fetchall()


def _in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - examined by the test
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def _dsn(server, url: str, user: str = "postgres") -> str:
    return server.dsn(make_url(url).database, user=user)


def _oid(server, url: str, name: str) -> int:
    with psycopg.connect(_dsn(server, url)) as conn:
        return conn.execute("SELECT to_regclass(%s)::oid", (name,)).fetchone()[0]


READER_TABLES = ("dim_town", "eval_specialty_town", "pub_town_year", "dq_file")
#: Read by the snapshot reader before the refresh (the others only after it).
READ_FIRST = ("dim_town", "pub_town_year")


def _old() -> dict[str, pl.DataFrame]:
    return {"dim_town": make_frame("dim_town", 4), "eval_specialty_town": make_frame("eval_specialty_town", 3),
            "pub_town_year": make_frame("pub_town_year", 5), "dq_file": make_frame("dq_file", 3),
            "fact_tax_month": make_frame("fact_tax_month", 6)}


def _new() -> dict[str, pl.DataFrame]:
    """Other row counts and other values than `_old` in every table."""
    return {"dim_town": make_frame("dim_town", 7, salt=1), "eval_specialty_town": make_frame("eval_specialty_town", 2, salt=1),
            "pub_town_year": make_frame("pub_town_year", 9, salt=1), "dq_file": make_frame("dq_file", 5, salt=1),
            "fact_tax_month": make_frame("fact_tax_month", 8, salt=1)}


@pytest.mark.parametrize("fingerprints", [None, {}], ids=["whole", "fingerprinted"])
def test_snapshot_reader_keeps_its_rows_and_does_not_block(postgres_server, postgres_url, monkeypatch,
                                                           fingerprints):
    monkeypatch.setenv("TOWNSTAT_LOCK_TIMEOUT", "30")
    old, new = _old(), _new()
    for name in READER_TABLES:  # the test compares different states
        assert _rows(old[name], name) != _rows(new[name], name)
    publish(postgres_url, old, fingerprints=fingerprints)
    grant_reader(postgres_url)
    oids = {n: _oid(postgres_server, postgres_url, n) for n in READER_TABLES}

    reader = psycopg.connect(_dsn(postgres_server, postgres_url, READER_ROLE))
    try:
        reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        # the snapshot is taken, and these tables' locks held, before the refresh; the other
        # tables are first read after it (a swapped table would then look empty)
        before = {n: _select(reader, n) for n in READ_FIRST}
        for name in READ_FIRST:
            assert before[name] == _rows(old[name], name)
            assert before[name]  # non-empty

        thread, out = _in_thread(lambda: publish(postgres_url, new, fingerprints=fingerprints))
        thread.join(DEADLINE_S)
        assert not thread.is_alive(), "the publication waited for the reader's open transaction"
        assert "error" not in out, out.get("error")
        assert out["result"] == {n: df.height for n, df in new.items()}

        # the same transaction, after the refresh committed: exactly the old rows
        assert reader.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        for name in READ_FIRST:
            assert _select(reader, name) == before[name]
        for name in READER_TABLES:
            assert _select(reader, name) == _rows(old[name], name), name
        reader.rollback()
        # a new transaction: the new rows
        for name in READER_TABLES:
            assert _select(reader, name) == _rows(new[name], name)
    finally:
        reader.close()
        if "thread" in locals():
            thread.join(DEADLINE_S)
    # the reader's tables were refilled, not replaced (same table, so grants and comments too);
    # the internal fact was swapped
    assert {n: _oid(postgres_server, postgres_url, n) for n in READER_TABLES} == oids
    assert read_table(postgres_url, "fact_tax_month").rows() == _rows(new["fact_tax_month"], "fact_tax_month")


def test_reader_holding_a_swapped_table_fails_the_refresh_in_time(postgres_server, postgres_url, monkeypatch):
    monkeypatch.setenv("TOWNSTAT_LOCK_TIMEOUT", "1.5")
    old, new = _old(), _new()
    publish(postgres_url, old)
    staff = psycopg.connect(_dsn(postgres_server, postgres_url))  # the bureau's staff read facts too
    try:
        staff.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        assert _select(staff, "fact_tax_month") == _rows(old["fact_tax_month"], "fact_tax_month")
        started = time.monotonic()
        thread, out = _in_thread(lambda: publish(postgres_url, new))
        thread.join(DEADLINE_S)
        elapsed = time.monotonic() - started
        assert not thread.is_alive(), "the publication waited past its lock timeout"
        err = out.get("error")
        assert isinstance(err, PublishBlocked), out
        assert 1.5 <= elapsed < DEADLINE_S
        assert err.table == "fact_tax_month"
        assert "fact_tax_month" in str(err) and "1.5s" in str(err) and "rolled back" in str(err)
        assert "表 fact_tax_month 的锁超过 1.5 秒" in str(err) and "已回滚" in str(err)
        # rolled back: the previous state everywhere, for the holder and for a new reader
        assert _select(staff, "fact_tax_month") == _rows(old["fact_tax_month"], "fact_tax_month")
        staff.rollback()
        for name, df in old.items():
            assert read_table(postgres_url, name).rows() == _rows(df, name), name
    finally:
        staff.close()
        if "thread" in locals():
            thread.join(DEADLINE_S)
    # the reader gone, the next trigger publishes
    assert publish(postgres_url, new) == {n: df.height for n, df in new.items()}
    for name, df in new.items():
        assert read_table(postgres_url, name).rows() == _rows(df, name), name


def test_changed_layout_is_swapped_back_to_the_declared_one(postgres_server, postgres_url):
    old, new = _old(), _new()
    publish(postgres_url, old)
    with psycopg.connect(_dsn(postgres_server, postgres_url)) as conn:
        conn.execute('ALTER TABLE "dim_town" ADD COLUMN "stray" integer')
        conn.execute("COMMENT ON COLUMN \"pub_town_year\".\"year\" IS 'edited by hand'")
    oids = {n: _oid(postgres_server, postgres_url, n) for n in ("dim_town", "pub_town_year", "dq_file")}
    publish(postgres_url, {n: new[n] for n in ("dim_town", "pub_town_year", "dq_file")})
    after = {n: _oid(postgres_server, postgres_url, n) for n in oids}
    assert after["dim_town"] != oids["dim_town"]  # replaced by the declared table
    assert after["pub_town_year"] != oids["pub_town_year"]  # a comment is layout too
    assert after["dq_file"] == oids["dq_file"]  # unchanged layout: refilled in place
    with psycopg.connect(_dsn(postgres_server, postgres_url)) as conn:
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'dim_town' "
            "ORDER BY ordinal_position")]
        comment = conn.execute(
            "SELECT col_description('pub_town_year'::regclass, attnum) FROM pg_attribute "
            "WHERE attrelid = 'pub_town_year'::regclass AND attname = 'year'").fetchone()[0]
    assert cols == [c.name for c in TABLES["dim_town"].columns]
    assert comment == "统计年度 | statistical year"
    for name in ("dim_town", "pub_town_year", "dq_file"):
        assert read_table(postgres_url, name).rows() == _rows(new[name], name), name


def test_lock_timeout_setting_is_checked(postgres_url, monkeypatch):
    monkeypatch.setenv("TOWNSTAT_LOCK_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="TOWNSTAT_LOCK_TIMEOUT"):
        publish(postgres_url, {"dim_town": make_frame("dim_town", 2)})
