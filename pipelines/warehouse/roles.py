"""The `townstat_reader` PostgreSQL role (contract section 3).

It may LOGIN, CONNECT to the warehouse database, use the `public` schema and SELECT the
published tables (`dim_*`, `pub_*`, `eval_*`, `dq_file`) and nothing else; it owns nothing,
gets no write privilege, and its sessions default to read-only transactions.

Grants survive publication because `publish` re-grants SELECT on the readable tables inside
the swap transaction whenever the role exists: a reader never sees a moment where a newly
swapped-in table is not yet readable, and a table that must stay private is created fresh
without any grant. (Default privileges were rejected: they would also grant the private
tables the publisher creates.)
"""

from __future__ import annotations

from psycopg import sql as psql
from sqlalchemy import text

from .engine import is_postgres, make_engine, warehouse_url
from .tables import READER_ROLE, table_names
from .tables import reader_can_read as reader_can_read

__all__ = ["READER_ROLE", "grant_reader", "reader_can_read"]


def grant_reader(url: str | None, password: str | None = None) -> list[str]:
    """Create (idempotently) the `townstat_reader` role and grant it its tables.

    `password` sets (or, when None, leaves) the role's password. Returns the tables it may
    read that exist now; tables published later are granted by `publish`. On SQLite (no
    roles) nothing is done and an empty list is returned.
    """
    url = warehouse_url(url)
    if not is_postgres(url):
        return []
    engine = make_engine(url)
    granted: list[str] = []
    try:
        with engine.begin() as conn:
            q = conn.dialect.identifier_preparer.quote_identifier
            role = q(READER_ROLE)
            # Serialise concurrent calls (CREATE ROLE is cluster-wide).
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('townstat_reader'))"))
            exists = conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READER_ROLE}
            ).first()
            if not exists:
                conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
            conn.exec_driver_sql(
                f"ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
                "NOREPLICATION NOBYPASSRLS"
            )
            if password is not None:
                # ALTER ROLE takes no bind parameters: compose the literal with psycopg.
                stmt = psql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    psql.Identifier(READER_ROLE), psql.Literal(password)
                )
                with conn.connection.driver_connection.cursor() as cur:
                    cur.execute(stmt)
            conn.exec_driver_sql(f"ALTER ROLE {role} SET default_transaction_read_only = on")
            db = conn.execute(text("SELECT current_database()")).scalar_one()
            conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {q(db)} TO {role}")
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
            conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA public FROM {role}")
            for name in table_names():
                if not conn.execute(text("SELECT to_regclass(:n)"), {"n": q(name)}).scalar():
                    continue
                conn.exec_driver_sql(f"REVOKE ALL ON {q(name)} FROM {role}")
                if reader_can_read(name):
                    conn.exec_driver_sql(f"GRANT SELECT ON {q(name)} TO {role}")
                    granted.append(name)
    finally:
        engine.dispose()
    return granted
