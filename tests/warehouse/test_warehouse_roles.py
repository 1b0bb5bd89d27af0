"""townstat_reader on a real PostgreSQL server: reads dim_*, pub_*, eval_*, dq_file only."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from conftest import make_frame, make_frames
from sqlalchemy.engine import make_url

from pipelines.warehouse import READER_ROLE, grant_reader, publish, table_names
from pipelines.warehouse.roles import ReaderRoleError

ROOT = Path(__file__).parents[2]
OWNER = "owner_cr"  # a database owner with CREATEROLE, not a superuser

READABLE = ["pub_town_year", "dim_town", "dim_specialty_town", "eval_specialty_town", "eval_criterion", "eval_gap",
            "dq_file"]
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


def _owner_database(postgres_server) -> tuple[str, str]:
    """A fresh database owned by `owner_cr` (LOGIN CREATEROLE NOSUPERUSER): (its name, the URL
    that connects as owner_cr)."""
    name = f"cr_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.dsn("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [OWNER]).fetchone():
            conn.execute(f"CREATE ROLE {OWNER} LOGIN CREATEROLE NOSUPERUSER")
        conn.execute(f'CREATE DATABASE "{name}" OWNER {OWNER} TEMPLATE template0 ENCODING \'UTF8\'')
        su, cr = conn.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = %s", [OWNER]).fetchone()
        assert (su, cr) == (False, True)
    return name, postgres_server.url(name, user=OWNER)


def _grant_reader_cli(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "db", "grant-reader", "--warehouse", url],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_grant_reader_by_a_createrole_database_owner(postgres_server):
    name, url = _owner_database(postgres_server)
    try:
        publish(url, make_frames(3))  # as owner_cr: it owns the tables
        # the role may exist from an earlier test (cluster-wide); give it a way round the
        # grants that grant-reader must take back, as a careless administrator might
        with psycopg.connect(postgres_server.dsn("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [READER_ROLE]).fetchone():
                conn.execute(f"CREATE ROLE {READER_ROLE} LOGIN")
            conn.execute(f"GRANT pg_read_all_data TO {READER_ROLE}")
        granted = grant_reader(url, password="pw")
        assert granted == ["dim_town", "dim_specialty_town", "eval_criterion", "eval_specialty_town",
                           "eval_gap", "pub_town_year", "dq_file"]
        _check_reader(url)
        with _reader_conn(url) as conn:
            assert conn.execute("SELECT count(*) FROM pub_town_year").fetchone()[0] == 3
            assert conn.execute("SELECT count(*) FROM dq_file").fetchone()[0] == 3
            for private in ("fact_tax_month", "dq_rejected_row"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT 1 FROM {private} LIMIT 1")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SET ROLE pg_read_all_data")
            conn.execute("SET default_transaction_read_only = off")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO dq_file (file_id) VALUES ('x')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE mine (x int)")
        with psycopg.connect(postgres_server.dsn(name), autocommit=True) as conn:
            attrs = conn.execute(
                "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolinherit, rolreplication, "
                "rolbypassrls, rolconfig FROM pg_roles WHERE rolname = %s", [READER_ROLE]).fetchone()
            assert attrs == (True, False, False, False, False, False, False, ["default_transaction_read_only=on"])
            assert conn.execute("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
                                "WHERE r.rolname = %s", [READER_ROLE]).fetchone()[0] == 0

        # eval_target (contract v4 section 3) is never readable, even when granted by hand
        with psycopg.connect(postgres_server.dsn(name, user=OWNER), autocommit=True) as conn:
            conn.execute("INSERT INTO eval_target (level, id, year, indicator, target, met) "
                         "VALUES ('town', '140823100', 2024, 'output_value', 1.5, false)")
            conn.execute(f"GRANT SELECT ON eval_target TO {READER_ROLE}")
        proc = _grant_reader_cli(url)  # `townstat db grant-reader`, as owner_cr
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.strip() == ("townstat_reader 可读 / may read: dim_town, dim_specialty_town, "
                                       "eval_criterion, eval_specialty_town, eval_gap, pub_town_year, dq_file")
        with _reader_conn(url) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM eval_target")
        _check_reader(url)

        # a later publication by owner_cr keeps the grants
        publish(url, make_frames(4, salt=1))
        _check_reader(url)
        with _reader_conn(url) as conn:
            assert conn.execute("SELECT count(*) FROM pub_town_year").fetchone()[0] == 4
    finally:
        postgres_server.drop_database(name)


def test_grant_reader_reports_tables_it_does_not_own(postgres_server):
    name, url = _owner_database(postgres_server)
    try:
        su_url = postgres_server.url(name)
        publish(su_url, make_frames(2))  # published by the superuser: owner_cr owns no table
        grant_reader(su_url, None)
        with psycopg.connect(postgres_server.dsn(name), autocommit=True) as conn:
            conn.execute(f"REVOKE SELECT ON pub_town_year FROM {READER_ROLE}")
        with pytest.raises(ReaderRoleError, match=r"pub_town_year \(postgres\)"):
            grant_reader(url, None)
        proc = _grant_reader_cli(url)
        assert proc.returncode == 1
        assert "pub_town_year (postgres)" in proc.stderr and "superuser" in proc.stderr and "超级用户" in proc.stderr
        assert "Traceback" not in proc.stderr
        grant_reader(su_url, None)  # the owner puts it right; then owner_cr finds nothing to fix
        assert grant_reader(url, None) == ["dim_town", "dim_specialty_town", "eval_criterion",
                                           "eval_specialty_town", "eval_gap", "pub_town_year", "dq_file"]
        _check_reader(url)
    finally:
        postgres_server.drop_database(name)
