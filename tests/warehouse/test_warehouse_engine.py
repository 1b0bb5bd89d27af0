from __future__ import annotations

from pipelines.warehouse import DEFAULT_URL, make_engine, warehouse_url


def test_default_url_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    assert warehouse_url() == DEFAULT_URL == "sqlite:///warehouse/warehouse.sqlite"
    url = f"sqlite:///{tmp_path}/deep/er/w.sqlite"
    monkeypatch.setenv("WAREHOUSE_URL", url)
    assert warehouse_url() == url
    engine = make_engine()
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    finally:
        engine.dispose()
    assert (tmp_path / "deep" / "er" / "w.sqlite").exists()


def test_postgres_url_uses_psycopg(postgres_session_url):
    plain = postgres_session_url.replace("postgresql+psycopg://", "postgresql://")
    engine = make_engine(plain)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
    finally:
        engine.dispose()
