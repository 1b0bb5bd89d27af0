"""The `townstat_reader` PostgreSQL role (contract section 3).

It may LOGIN, CONNECT to the warehouse database, use the `public` schema and SELECT the
published tables (`dim_*`, `pub_*`, `eval_*` except `eval_target`, and `dq_file`) and nothing
else; it owns nothing, belongs to no other role, gets no write privilege, and its sessions
default to read-only transactions.

Grants survive publication because `publish` re-grants SELECT on the readable tables inside
the swap transaction whenever the role exists: a reader never sees a moment where a newly
swapped-in table is not yet readable, and a table that must stay private is created fresh
without any grant. (Default privileges were rejected: they would also grant the private
tables the publisher creates.)

`grant_reader` needs no superuser: the owner of the warehouse database (the role that
publishes, so it owns the tables) with CREATEROLE is enough on PostgreSQL 15. Such a user may
create and alter non-superuser roles but may not name the SUPERUSER, REPLICATION or BYPASSRLS
attributes at all (even to switch them off), so those are only checked; GRANT on the database
and on the `public` schema work through its ownership of the database (`public` belongs to
`pg_database_owner` since PostgreSQL 15); tables it does not own are left alone when they are
already right, and reported when they are not.
"""

from __future__ import annotations

from psycopg import sql as psql
from sqlalchemy import Connection, text

from .engine import is_postgres, make_engine, warehouse_url
from .tables import READER_ROLE, table_names
from .tables import reader_can_read as _prefix_readable

__all__ = ["NEVER_READABLE", "READER_ROLE", "ReaderRoleError", "grant_reader", "reader_can_read"]

# Contract v4 section 3: eval_target holds a town's unsuppressed actual and to-date values.
NEVER_READABLE = frozenset({"eval_target"})

_WRITE_PRIVILEGES = "INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"


class ReaderRoleError(RuntimeError):
    """The role or a table is in a state this database user may not fix (bilingual message)."""


def reader_can_read(name: str) -> bool:
    """Contract section 3: dim_*, pub_*, eval_* (not eval_target) and dq_file only."""
    return _prefix_readable(name) and name not in NEVER_READABLE


def _tables(conn: Connection) -> list[tuple[str, str, bool]]:
    """(name, owner, owned by the current user or a role it belongs to) of every table or
    view in the `public` schema."""
    rows = conn.execute(text(
        "SELECT c.relname, pg_get_userbyid(c.relowner), pg_has_role(current_user, c.relowner, 'USAGE') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname"
    )).all()
    return [(r[0], r[1], bool(r[2])) for r in rows]


def _privileges(conn: Connection, name: str, q) -> tuple[bool, bool]:
    """(may SELECT, may write) for the reader on table `name` (directly or through PUBLIC)."""
    row = conn.execute(
        text("SELECT has_table_privilege(:r, CAST(:t AS regclass), 'SELECT'), "
             "has_table_privilege(:r, CAST(:t AS regclass), :w)"),
        {"r": READER_ROLE, "t": f"public.{q(name)}", "w": _WRITE_PRIVILEGES},
    ).one()
    return bool(row[0]), bool(row[1])


def _set_up_role(conn: Connection, password: str | None) -> None:
    q = conn.dialect.identifier_preparer.quote_identifier
    role = q(READER_ROLE)
    me_super = bool(conn.execute(
        text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar())
    attrs = conn.execute(
        text("SELECT rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = :r"),
        {"r": READER_ROLE},
    ).first()
    if attrs is None:
        # the defaults are NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN NOINHERIT")
    elif any(attrs) and not me_super:
        raise ReaderRoleError(
            f"角色 {READER_ROLE} 已存在且带有 SUPERUSER、REPLICATION 或 BYPASSRLS 属性，只有超级用户能去掉："
            f"请超级用户执行 ALTER ROLE {role} NOSUPERUSER NOREPLICATION NOBYPASSRLS，再运行 "
            f"townstat db grant-reader / the role {READER_ROLE} exists with SUPERUSER, REPLICATION or "
            f"BYPASSRLS, which only a superuser may remove: have a superuser run ALTER ROLE {role} "
            "NOSUPERUSER NOREPLICATION NOBYPASSRLS, then run townstat db grant-reader again"
        )
    # A non-superuser may not even name SUPERUSER, REPLICATION or BYPASSRLS (checked above).
    extra = " NOSUPERUSER NOREPLICATION NOBYPASSRLS" if me_super else ""
    conn.exec_driver_sql(f"ALTER ROLE {role} LOGIN NOCREATEDB NOCREATEROLE NOINHERIT{extra}")
    if password is not None:
        # ALTER ROLE takes no bind parameters: compose the literal with psycopg.
        stmt = psql.SQL("ALTER ROLE {} PASSWORD {}").format(
            psql.Identifier(READER_ROLE), psql.Literal(password)
        )
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute(stmt)
    conn.exec_driver_sql(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    # No way around the grants through another role's privileges (SET ROLE, pg_read_all_data).
    for (group,) in conn.execute(text(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :r ORDER BY 1"), {"r": READER_ROLE}):
        conn.exec_driver_sql(f"REVOKE {q(group)} FROM {role}")


def _grant_database_and_schema(conn: Connection) -> None:
    q = conn.dialect.identifier_preparer.quote_identifier
    role = q(READER_ROLE)
    db = conn.execute(text("SELECT current_database()")).scalar_one()
    may = conn.execute(text(
        "SELECT has_database_privilege(current_database(), 'CONNECT WITH GRANT OPTION'), "
        "has_schema_privilege('public', 'USAGE WITH GRANT OPTION'), "
        "pg_has_role(current_user, (SELECT nspowner FROM pg_namespace WHERE nspname = 'public'), 'USAGE'), "
        "has_database_privilege(:r, current_database(), 'CONNECT'), "
        "has_schema_privilege(:r, 'public', 'USAGE'), has_schema_privilege(:r, 'public', 'CREATE')"),
        {"r": READER_ROLE}).one()
    grant_connect, grant_usage, own_schema, has_connect, has_usage, has_create = map(bool, may)
    if grant_connect:
        conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {q(db)} TO {role}")
        has_connect = True
    if grant_usage:
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
        has_usage = True
    if own_schema:
        conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA public FROM {role}")
        has_create = conn.execute(
            text("SELECT has_schema_privilege(:r, 'public', 'CREATE')"), {"r": READER_ROLE}).scalar()
    if not (has_connect and has_usage) or has_create:
        raise ReaderRoleError(
            f"无法为 {READER_ROLE} 设置数据库 {db} 或 public 模式的权限（需要 CONNECT、USAGE，不得有 CREATE）："
            "请以数据库所有者或超级用户运行 townstat db grant-reader / cannot set the privileges of "
            f"{READER_ROLE} on database {db} or schema public (CONNECT and USAGE, never CREATE): run "
            "townstat db grant-reader as the database owner or a superuser"
        )


def grant_reader(url: str | None, password: str | None = None) -> list[str]:
    """Create (idempotently) the `townstat_reader` role and grant it its tables.

    `password` sets (or, when None, leaves) the role's password. Returns the tables it may
    read that exist now; tables published later are granted by `publish`. On SQLite (no
    roles) nothing is done and an empty list is returned. Raises `ReaderRoleError` when the
    database user running it cannot bring the role or a table it does not own into line.
    """
    url = warehouse_url(url)
    if not is_postgres(url):
        return []
    engine = make_engine(url)
    granted: list[str] = []
    known = set(table_names())
    try:
        with engine.begin() as conn:
            q = conn.dialect.identifier_preparer.quote_identifier
            role = q(READER_ROLE)
            # Serialise concurrent calls (CREATE ROLE is cluster-wide).
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('townstat_reader'))"))
            _set_up_role(conn, password)
            _grant_database_and_schema(conn)
            wrong: list[str] = []
            for name, owner, mine in _tables(conn):
                readable = name in known and reader_can_read(name)
                if mine:
                    # every table of the schema, so that a table granted by hand is taken back
                    conn.exec_driver_sql(f"REVOKE ALL ON {q(name)} FROM {role}")
                    if readable:
                        conn.exec_driver_sql(f"GRANT SELECT ON {q(name)} TO {role}")
                can_select, can_write = _privileges(conn, name, q)
                if can_select != readable or can_write:
                    wrong.append(f"{name} ({owner})")
                elif readable:
                    granted.append(name)
            if wrong:
                raise ReaderRoleError(
                    f"{READER_ROLE} 对以下表的权限不符合约定（读 dim_*、pub_*、eval_*（eval_target 除外）和 "
                    "dq_file，其他一概不能读写），而当前用户不是这些表的所有者（或权限来自 PUBLIC）：请以表的所有者"
                    f"或超级用户运行 townstat db grant-reader / the privileges of {READER_ROLE} on these tables "
                    "break the contract (it reads dim_*, pub_*, eval_* except eval_target, and dq_file, "
                    "and nothing else, and writes nothing) and the current user does not own them (or "
                    "they come from PUBLIC): run townstat db grant-reader as their owner or a "
                    f"superuser: {', '.join(wrong)}"
                )
    finally:
        engine.dispose()
    return [n for n in table_names() if n in granted]
