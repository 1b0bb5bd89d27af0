"""townstat_reader on a real PostgreSQL server: reads dim_*, pub_*, eval_*, dq_file only."""

from __future__ import annotations

import psycopg
import pytest
from conftest import make_frame, make_frames
from sqlalchemy.engine import make_url

from pipelines.warehouse import READER_ROLE, grant_reader, publish, table_names

READABLE = ["pub_town_year", "dim_town", "dim_specialty_town", "eval_specialty_town", "eval_criterion", "dq_file"]
PRIVATE = [
    "ind_town_year", "ind_specialty_town_year", "fact_employment_month", "fact_enterprise_year",
    "fact_tax_month", "fact_market_entity", "dq_rejected_row", "dq_flag",
]


def _reader_conn(url: str, user: str = READER_ROLE) -> psycopg.Connection:
    u = make_url(url)
    return psycopg.connect(host=u.host, port=u.port, dbname=u.database, user=user, autocommit=True)


def _check_reader(url: str) -> None:
    with _reader_conn(url) as conn:
        for name in READABLE:
            assert conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] >= 1, name
        for name in PRIVATE:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {name} LIMIT 1")
        for name in table_names():
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)):
                conn.execute(f'DELETE FROM "{name}"')
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)):
            conn.execute("INSERT INTO dim_town (town_code, town_name, county_code) VALUES ('1','x','1')")
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)):
            conn.execute("CREATE TABLE mine (x int)")


def test_reader_grants_and_survival_across_publish(postgres_url):
    publish(postgres_url, make_frames(3))
    granted = grant_reader(postgres_url, password="s3cret'%:p")
    assert sorted(granted) == sorted(READABLE)
    assert grant_reader(postgres_url, None) == granted  # idempotent
    _check_reader(postgres_url)
    # even with the session's read-only default switched off, writes are refused by privileges
    with _reader_conn(postgres_url) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO pub_town_year (town_code, year) VALUES ('1', 2024)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE mine (x int)")
    # a publication replaces the tables: grants are re-applied inside the swap
    publish(postgres_url, make_frames(4, salt=1))
    _check_reader(postgres_url)
    publish(postgres_url, {"pub_town_year": make_frame("pub_town_year", 2), "ind_town_year": make_frame("ind_town_year", 2)})
    _check_reader(postgres_url)


def test_grant_before_any_publication(postgres_url):
    assert grant_reader(postgres_url, None) == []
    publish(postgres_url, make_frames(2))
    _check_reader(postgres_url)


def test_grant_reader_is_a_noop_on_sqlite(sqlite_url):
    assert grant_reader(sqlite_url, "x") == []
