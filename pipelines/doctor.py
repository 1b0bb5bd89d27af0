"""`townstat doctor`: is everything townstat needs installed and working? One screen.

Every line is ✓ (fine), ! (works, but look at it) or ✗ (missing or broken), Chinese first,
then English; under a ! or ✗ it says what to do. Exit 0 when no line is ✗, 1 otherwise.

`CHECKS` is the declaration: one `Check(name, function)` per group of lines, in screen
order; a check is a small function of the `Context` that returns its findings, each a
`Finding(status, zh, en, advice)`. A check that raises becomes one ✗ line; the others run.

Nothing here changes anything: the raw area is listed with `lstat` only (no file is opened,
a named pipe cannot block it; names are shown as dq_file shows them, person IDs masked), a
SQLite warehouse is opened read-only and never created (and leaves no -wal/-shm behind),
PostgreSQL gets a short connect timeout, and neither the PII key nor a password is printed.
Libraries are located, not imported (importing Great Expectations alone takes seconds); the
warehouse check imports `pipelines.warehouse` (SQLAlchemy, Polars, psycopg): about 0.5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import glob
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any

from pipelines import settings

PROJECT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "townstat"
#: seconds a warehouse (and the fc-list call) may take to answer
CONNECT_TIMEOUT_S = 3
#: (module, distribution) of the libraries townstat is built on, in screen order
KEY_PACKAGES = (
    ("dagster", "dagster"), ("polars", "polars"), ("pandera", "pandera"),
    ("sqlalchemy", "sqlalchemy"), ("great_expectations", "great-expectations"),
    ("xlsxwriter", "xlsxwriter"), ("plotly", "plotly"), ("psycopg", "psycopg"),
)
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
CHROMIUM = "chromium"
SYNC = ("在项目文件夹运行 uv sync（或 make run）", "run uv sync (or make run) in the project folder")
BEIJING = dt.timezone(dt.timedelta(hours=8))


class Status(Enum):
    OK = "✓"
    WARN = "!"
    FAIL = "✗"


@dataclass(frozen=True)
class Finding:
    """One line of the screen; `advice` (bilingual, may span lines) says what to do."""
    status: Status
    zh: str
    en: str
    advice: str = ""


def ok(zh: str, en: str) -> Finding:
    return Finding(Status.OK, zh, en)


def warn(zh: str, en: str, fix: tuple[str, str]) -> Finding:
    return Finding(Status.WARN, zh, en, _advice(fix))


def fail(zh: str, en: str, fix: tuple[str, str]) -> Finding:
    return Finding(Status.FAIL, zh, en, _advice(fix))


def _advice(fix: tuple[str, str]) -> str:
    return f"处理：{fix[0]} / fix: {fix[1]}"


# ------------------------------------------------------------------------------ context


@dataclass
class Context:
    """What the checks look at: the raw area and the warehouse URL (as given or the defaults)."""
    raw: Path
    url: str
    url_source: tuple[str, str]  # where the URL came from (zh, en): --warehouse, WAREHOUSE_URL, default

    @cached_property
    def warehouse(self) -> WarehouseProbe:
        """The warehouse, asked once (the warehouse and the reader-role checks share it)."""
        return probe_warehouse(self.url)


def context(raw: str | None, warehouse: str | None) -> Context:
    if warehouse:
        url, source = warehouse, ("--warehouse", "--warehouse")
    elif settings.warehouse_url_given():
        url, source = settings.warehouse_url(), ("WAREHOUSE_URL", "WAREHOUSE_URL")
    else:
        url, source = settings.warehouse_url(), ("默认值", "the default")
    return Context(Path(raw or settings.raw_dir()), url, source)


# ------------------------------------------------------------------------ Python, packages


def _project_requirements() -> tuple[str | None, dict[str, str]]:
    """Requires-Python and {distribution: version specifier} of the installed townstat."""
    try:
        python = importlib.metadata.metadata(DISTRIBUTION).get("Requires-Python")
        lines = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return None, {}
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:  # comparing versions needs `packaging`; without it, versions only
        return python, {}
    pins: dict[str, str] = {}
    for line in lines:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            pins[canonicalize_name(req.name)] = str(req.specifier)
    return python, pins


def _satisfies(version: str, specifier: str) -> bool:
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:
        return True
    return not specifier or SpecifierSet(specifier).contains(version, prereleases=True)


def check_python(ctx: Context) -> list[Finding]:
    version = ".".join(map(str, sys.version_info[:3]))
    required, _ = _project_requirements()
    if required:  # ">=3.11,<3.12" rather than the metadata's "<3.12,>=3.11"
        required = ",".join(sorted(required.split(","), key=lambda s: s.lstrip().startswith("<")))
    where = sys.executable
    if required and not _satisfies(version, required):
        return [fail(f"Python {version}（{where}）不符合项目要求 {required}",
                     f"Python {version} ({where}) does not satisfy the project's {required}",
                     SYNC)]
    need = f"，要求 {required}" if required else ""
    need_en = f", requires {required}" if required else ""
    return [ok(f"Python {version}（{where}{need}）", f"Python {version} ({where}{need_en})")]


def check_packages(ctx: Context) -> list[Finding]:
    """Each key package: found by the import system (not imported: that is slow) and its
    installed version against the project's pin."""
    _, pins = _project_requirements()
    out, fine = [], []
    for module, dist in KEY_PACKAGES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(fail(f"软件包 {dist} 未安装（无法导入 {module}）",
                            f"package {dist} is not installed ({module} cannot be imported)", SYNC))
            continue
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        pin = pins.get(dist, "")
        if version != "?" and not _satisfies(version, pin):
            out.append(warn(f"软件包 {dist} {version}，与项目要求 {pin} 不符",
                            f"package {dist} {version} differs from the project's {pin}", SYNC))
        else:
            fine.append(f"{dist} {version}")
    if fine:
        out.insert(0, ok("软件包", "packages: " + ", ".join(fine)))
    return out


# ----------------------------------------------------------------------------- raw area

OUTSIDE_ZH = "不在任何来源文件夹中（应放入 enterprise/、tax/、employment/、registry/ 或 reference/）"
OUTSIDE_EN = "in no source folder (put it in enterprise/, tax/, employment/, registry/ or reference/)"
MAX_REASONS = 4


def check_raw_area(ctx: Context) -> list[Finding]:
    """Where the raw area is, files per source folder, and entries a refresh would refuse
    (links, pipes, devices, bad names, unreadable files, files outside the source folders),
    from `lstat` and `access` only: no file is opened."""
    from pipelines.echo import printable
    from pipelines.ingest.inventory import SOURCE_FOLDERS, list_raw_area, unreadable_problem

    root = ctx.raw
    shown = _absolute(root)
    given = ("用 --raw 或 TOWNSTAT_RAW_DIR 指定原始区；试用时可运行 townstat demo-data --out " + str(root),
             "give the raw area with --raw or TOWNSTAT_RAW_DIR; to try townstat, run townstat demo-data "
             "--out " + str(root))
    if not root.exists() and not root.is_symlink():
        return [fail(f"原始区 {shown} 不存在", f"raw area {shown} does not exist", given)]
    if not root.is_dir():
        return [fail(f"原始区 {shown} 不是文件夹", f"raw area {shown} is not a folder", given)]
    if not os.access(root, os.R_OK | os.X_OK):
        return [fail(f"原始区 {shown} 无法读取（权限）", f"raw area {shown} cannot be read (permissions)",
                     ("让运行 townstat 的用户可以读取该文件夹",
                      "let the user running townstat read the folder"))]
    counts = dict.fromkeys(SOURCE_FOLDERS, 0)
    refused: dict[str, list[str]] = {}
    for e in list_raw_area(root):
        problem = e.problem
        if problem is None and not os.access(e.path, os.R_OK):
            problem = unreadable_problem(PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
        if problem is None and e.source is None:
            problem = f"{OUTSIDE_ZH} / {OUTSIDE_EN}"
        if problem is None:
            counts[e.source] += 1
        else:
            refused.setdefault(problem, []).append(printable(e.relpath))  # as dq_file shows it
    per_zh = "、".join(f"{s} {n}" for s, n in counts.items())
    per_en = ", ".join(f"{s} {n}" for s, n in counts.items())
    total = sum(counts.values())
    if total == 0:
        out = [warn(f"原始区 {shown} 中没有可读的文件（{per_zh}）",
                    f"raw area {shown} holds no file to read ({per_en})",
                    ("把各来源的文件放入对应文件夹；试用时可运行 townstat demo-data --out " + str(root),
                     "put each source's files into its folder; to try townstat, run townstat "
                     "demo-data --out " + str(root)))]
    else:
        out = [ok(f"原始区 {shown}：文件数 {per_zh}", f"raw area {shown}: files {per_en}")]
    if refused:
        n = sum(len(v) for v in refused.values())
        reasons = sorted(refused.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        lines = [f"{len(paths)} × {paths[0]}{' 等 etc.' if len(paths) > 1 else ''}：{problem}"
                 for problem, paths in reasons[:MAX_REASONS]]
        if len(reasons) > MAX_REASONS:
            lines.append(f"… 另有 {len(reasons) - MAX_REASONS} 种原因 / … and {len(reasons) - MAX_REASONS} "
                         "more reasons (townstat status, dq_file)")
        out.append(Finding(Status.WARN, f"原始区中有 {n} 个条目刷新时会被拒收（不会读取）",
                           f"{n} entries of the raw area would be refused by a refresh (never read)",
                           "处理 fix:\n" + "\n".join(lines)))
    return out


def _absolute(path: Path) -> str:
    return str(path if path.is_absolute() else Path.cwd() / path)


# ---------------------------------------------------------------------------- warehouse


def masked_url(url: str) -> str:
    """The URL as it may be printed: its password (and any `password` query value) as ***."""
    try:
        from sqlalchemy.engine import make_url

        u = make_url(url)
    except Exception:  # an unparsable URL is never printed: it might be all password
        return "（无法解析的 URL / unparsable URL）"
    query = {k: ("***" if "password" in k.lower() else v) for k, v in u.query.items()}
    return u.set(query=query).render_as_string(hide_password=True)


def _secrets(url: str) -> list[str]:
    """The password of `url` in the forms an error message might quote it."""
    try:
        from urllib.parse import quote

        from sqlalchemy.engine import make_url

        u = make_url(url)
    except Exception:
        return [url]
    words = [str(u.password)] if u.password else []
    words += [str(v) for k, v in u.query.items() if "password" in k.lower()]
    words += [quote(w, safe="") for w in words]
    return [w for w in words if w]


def _scrub(text: str, url: str) -> str:
    """First line of an error message, without the URL's password."""
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "")
    for secret in _secrets(url):
        line = line.replace(secret, "***")
    return line[:300]


@dataclass(frozen=True)
class WarehouseProbe:
    """What asking the warehouse once found."""
    backend: str
    shown: str  # the masked URL
    problem: Finding | None = None  # what is wrong; without `server`: why it did not answer
    server: str = ""  # e.g. "PostgreSQL 15.8": it answered
    tables: int = 0  # townstat's tables in the warehouse (0: nothing published yet)
    rows: int | None = None  # their rows as the last publication recorded them (bookkeeping)
    files: dict[str, int] = field(default_factory=dict)  # dq_file: files by status
    written: float | None = None  # SQLite: when the file was last written
    role: bool | None = None  # PostgreSQL: does the reader role exist
    role_readable: int = 0  # published tables the reader may read, as it should
    role_wrong: tuple[str, ...] = ()  # tables where the reader's access breaks the contract


def probe_warehouse(url: str) -> WarehouseProbe:
    from sqlalchemy.engine import make_url

    shown = masked_url(url)
    where = ("检查 --warehouse 或 WAREHOUSE_URL", "check --warehouse or WAREHOUSE_URL")
    try:
        u = make_url(url)
    except Exception:
        return WarehouseProbe("?", shown, fail("URL 无法解析", "the URL cannot be parsed",
                                               where))
    backend = u.get_backend_name()
    if backend == "sqlite":
        return _probe_sqlite(url, u, shown)
    if backend == "postgresql":
        return _probe_postgres(url, u, shown)
    return WarehouseProbe(backend, shown, fail(
        f"不支持的类型 {backend}（只支持 sqlite 或 postgresql）",
        f"unsupported backend {backend} (sqlite or postgresql)", where))


def _probe_sqlite(url: str, u, shown: str) -> WarehouseProbe:
    import sqlite3

    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from pipelines.warehouse.engine import sqlite_file

    path = sqlite_file(url)
    if path is None:
        return WarehouseProbe("sqlite", shown, warn(
            "内存或 URI 形式的 SQLite，不会保存在文件中", "an in-memory or URI SQLite database: "
            "nothing is kept in a file",
            ("用 sqlite:///文件路径 或 PostgreSQL URL", "use sqlite:///path/to/file or a PostgreSQL URL")))
    path = Path(_absolute(path))
    folder = path.parent
    if not path.exists():
        if not folder.is_dir():
            return WarehouseProbe("sqlite", shown, fail(
                f"文件夹 {folder} 不存在，无法连接", f"the folder {folder} does not exist: nothing "
                "answers",
                ("检查 --warehouse 或 WAREHOUSE_URL 的路径是否写错；确实要新建时运行 townstat refresh",
                 "check the path in --warehouse or WAREHOUSE_URL for a typo; to create a new warehouse "
                 "there, run townstat refresh")))
        if not os.access(folder, os.W_OK | os.X_OK):
            return WarehouseProbe("sqlite", shown, fail(
                f"文件 {path} 不存在，且文件夹不可写", f"the file {path} does not exist and its folder "
                "is not writable",
                ("让运行 townstat 的用户可以写该文件夹", "let the user running townstat write the folder")))
        return WarehouseProbe("sqlite", shown, warn(
            f"文件 {path} 尚不存在", f"the file {path} does not exist yet",
            ("运行 townstat refresh 建立数据仓库", "run townstat refresh to create it")))
    if not os.access(folder, os.W_OK | os.X_OK) or not os.access(path, os.R_OK | os.W_OK):
        unwritable = fail(f"数据仓库文件 {path} 或其文件夹不可写，刷新无法发布",
                          f"the warehouse file {path} or its folder is not writable: a refresh cannot "
                          "publish", ("让运行 townstat 的用户可以读写该文件及其文件夹",
                                      "let the user running townstat read and write the file and folder"))
    else:
        unwritable = None
    # Read-only, and leaving no trace: a WAL database opened even read-only gets a -wal and a
    # -shm file. Without a -wal (no writer, last one closed cleanly) the main file holds every
    # commit and is read as immutable (no lock, no side file); with one, an ordinary read-only
    # connection reads through it (its -shm is there too).
    mode = "mode=ro" if Path(f"{path}-wal").exists() else "mode=ro&immutable=1"
    engine = create_engine(
        "sqlite://", poolclass=NullPool,
        creator=lambda: sqlite3.connect(f"{path.as_uri()}?{mode}", uri=True,
                                        timeout=CONNECT_TIMEOUT_S, check_same_thread=False))
    probe = _ask(engine, url, "sqlite", shown)
    if probe.problem is None and unwritable is not None:
        probe = replace(probe, problem=unwritable)
    written = max((p.stat().st_mtime for p in (path, Path(f"{path}-wal")) if p.exists()), default=None)
    return replace(probe, written=written)


def _probe_postgres(url: str, u, shown: str) -> WarehouseProbe:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    if importlib.util.find_spec("psycopg") is None:
        return WarehouseProbe("postgresql", shown, fail(
            "连接 PostgreSQL 需要 psycopg，但它未安装", "PostgreSQL needs psycopg, which is not installed",
            SYNC))
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    engine = create_engine(u, poolclass=NullPool,
                           connect_args={"connect_timeout": CONNECT_TIMEOUT_S,
                                         "options": "-c TimeZone=UTC"})
    return _ask(engine, url, "postgresql", shown)


def _ask(engine, url: str, backend: str, shown: str) -> WarehouseProbe:
    """SELECT 1, then what the last publication recorded, then (PostgreSQL) the reader role."""
    from sqlalchemy import inspect, text

    from pipelines.warehouse.bookkeeping import ROWS_TABLE
    from pipelines.warehouse.tables import table_names

    server = ""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar_one()
            if backend == "sqlite":  # SELECT 1 reads no page: is the file a database at all?
                conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one()
                server = "SQLite " + conn.execute(text("SELECT sqlite_version()")).scalar_one()
            else:
                server = "PostgreSQL " + conn.execute(text("SHOW server_version")).scalar_one().split()[0]
            names = set(inspect(conn).get_table_names())
            tables, rows, files = len(names & set(table_names())), None, None
            if ROWS_TABLE in names:
                rows = conn.execute(text(f"SELECT sum(row_count) FROM {ROWS_TABLE}")).scalar()
            if "dq_file" in names:
                files = dict(conn.execute(text(
                    "SELECT status, count(*) FROM dq_file GROUP BY status ORDER BY status")).all())
            role = readable = wrong = None
            if backend == "postgresql":
                role, readable, wrong = _reader_role(conn, names)
    except Exception as exc:
        reason = _scrub(getattr(exc, "orig", None) or exc, url)
        if server:  # it answered, then a query failed
            return WarehouseProbe(backend, shown, fail(
                f"数据仓库可连接，但无法读取：{reason}", f"the warehouse answers but cannot be read: {reason}",
                ("让该数据库用户可以读取 townstat 的表，或检查 --warehouse / WAREHOUSE_URL 的用户",
                 "let this database user read townstat's tables, or check the user in --warehouse / "
                 "WAREHOUSE_URL")), server)
        return WarehouseProbe(backend, shown, fail(
            f"无法连接：{reason}", f"does not answer: {reason}", _unreachable_fix(backend)))
    finally:
        engine.dispose()
    return WarehouseProbe(backend, shown, None, server, tables, rows, files or {}, None, role,
                          readable or 0, tuple(wrong or ()))


def _unreachable_fix(backend: str) -> tuple[str, str]:
    if backend == "postgresql":
        return ("确认 PostgreSQL 服务器已启动、主机和端口正确、用户名和密码有效（pg_isready -h 主机 -p 端口）",
                "check that the PostgreSQL server runs, the host and port are right and the user and "
                "password are valid (pg_isready -h HOST -p PORT)")
    return ("确认该文件是 townstat 的 SQLite 数据仓库且未损坏；否则检查 --warehouse 或 WAREHOUSE_URL",
            "check that the file is townstat's SQLite warehouse and not damaged; else check "
            "--warehouse or WAREHOUSE_URL")


def _reader_role(conn, names: set[str]) -> tuple[bool, int, list[str]]:
    """(the role exists, published tables it reads as it should, tables where its access breaks
    the contract: a readable table it cannot read, or a private table it can)."""
    from sqlalchemy import text

    from pipelines.warehouse.roles import READER_ROLE, reader_can_read
    from pipelines.warehouse.tables import table_names

    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READER_ROLE}).first()
    if exists is None:
        return False, 0, []
    q = conn.dialect.identifier_preparer.quote_identifier
    readable, wrong = 0, []
    for name in (n for n in table_names() if n in names):
        may = conn.execute(text("SELECT has_table_privilege(:r, CAST(:t AS regclass), 'SELECT')"),
                           {"r": READER_ROLE, "t": f"public.{q(name)}"}).scalar_one()
        if bool(may) != reader_can_read(name):
            wrong.append(name)
        elif may:
            readable += 1
    return True, readable, wrong


def _beijing(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, BEIJING).strftime("%Y-%m-%d %H:%M")


def check_warehouse(ctx: Context) -> list[Finding]:
    p = ctx.warehouse
    head_zh = f"数据仓库 {p.shown}（来自 {ctx.url_source[0]}）"
    head_en = f"warehouse {p.shown} (from {ctx.url_source[1]})"
    if p.problem is not None and not p.server:  # it did not answer (or is not there yet)
        return [Finding(p.problem.status, f"{head_zh}：{p.problem.zh}", f"{head_en}: {p.problem.en}",
                        p.problem.advice)]
    out = [ok(f"{head_zh} 可连接（{p.server}）", f"{head_en} answers ({p.server})")]
    if p.problem is not None:
        out.append(p.problem)
        if p.problem.status is Status.FAIL and not p.tables:
            return out
    if not p.tables:
        out.append(warn("数据仓库中还没有发布任何表", "nothing has been published yet",
                        ("运行 townstat refresh", "run townstat refresh")))
        return out
    files_zh = "、".join(f"{s} {n}" for s, n in p.files.items()) or "无"
    files_en = ", ".join(f"{s} {n}" for s, n in p.files.items()) or "none"
    if p.written is not None:
        when_zh = f"；最近写入 {_beijing(p.written)}（北京时间）"
        when_en = f"; last written {_beijing(p.written)} (Beijing time)"
    else:
        when_zh, when_en = "；发布时间见 townstat status", "; publication time: see townstat status"
    rows_zh = f"（共 {p.rows:,} 行）" if p.rows is not None else ""
    rows_en = f" ({p.rows:,} rows)" if p.rows is not None else ""
    out.append(ok(f"最近一次发布：{p.tables} 张表{rows_zh}，文件 {files_zh}{when_zh}",
                  f"last publication: {p.tables} tables{rows_en}, files {files_en}{when_en}"))
    return out


def check_reader_role(ctx: Context) -> list[Finding]:
    """PostgreSQL only: does townstat_reader exist and read what it should, nothing else."""
    p = ctx.warehouse
    if p.backend != "postgresql" or p.role is None:
        return []
    from pipelines.warehouse.roles import READER_ROLE

    fix = ("以数据库所有者运行 townstat db grant-reader --warehouse URL",
           "run townstat db grant-reader --warehouse URL as the database's owner")
    if not p.role:
        return [warn(f"只读角色 {READER_ROLE} 不存在：其他部门无法只读访问",
                     f"the read-only role {READER_ROLE} does not exist: other departments cannot read",
                     fix)]
    if p.role_wrong:
        shown = ", ".join(p.role_wrong[:6]) + (" …" if len(p.role_wrong) > 6 else "")
        return [warn(f"只读角色 {READER_ROLE} 对 {len(p.role_wrong)} 张表的权限不符合约定：{shown}",
                     f"the read-only role {READER_ROLE} has the wrong access to {len(p.role_wrong)} "
                     f"table(s): {shown}", fix)]
    return [ok(f"只读角色 {READER_ROLE} 存在，可读 {p.role_readable} 张已发布的表",
               f"the read-only role {READER_ROLE} exists and reads {p.role_readable} published "
               "table(s)")]


# ------------------------------------------------------------------------------ PII key


def check_pii_key(ctx: Context) -> list[Finding]:
    """Where the key comes from; never the key itself."""
    from pipelines.ingest.pseudonymise import DEMO_PII_KEY, KEY_COMMAND, MIN_PRODUCTION_KEY_BYTES

    key = settings.pii_key()
    production = settings.production()
    size = len(key.encode("utf-8"))
    make = (f"用 {KEY_COMMAND} 生成密钥，保密保存，设为 TOWNSTAT_PII_KEY（以后每次刷新都用同一个）",
            f"make a key with {KEY_COMMAND}, keep it secret and set it as TOWNSTAT_PII_KEY (the same "
            "for every later refresh)")
    demo = not key or key == DEMO_PII_KEY
    if production and demo:
        return [fail("生产环境（TOWNSTAT_ENV=production）没有自己的 TOWNSTAT_PII_KEY：刷新会拒绝运行",
                     "production (TOWNSTAT_ENV=production) has no TOWNSTAT_PII_KEY of its own: a "
                     "refresh refuses to run", make)]
    if production and size < MIN_PRODUCTION_KEY_BYTES:
        return [fail(f"生产环境的 TOWNSTAT_PII_KEY 太短（{size} 字节，至少 {MIN_PRODUCTION_KEY_BYTES}）："
                     "刷新会拒绝运行", f"TOWNSTAT_PII_KEY is too short for production ({size} bytes, "
                     f"at least {MIN_PRODUCTION_KEY_BYTES}): a refresh refuses to run", make)]
    if demo:
        why = "未设置" if not key else "是内置演示密钥"
        why_en = "is unset" if not key else "is the built-in demo key"
        return [warn(f"TOWNSTAT_PII_KEY {why}：身份证号用公开的演示密钥假名化，只可用于演示和测试",
                     f"TOWNSTAT_PII_KEY {why_en}: person IDs are pseudonymised with the public demo "
                     "key, for demos and tests only", make)]
    if size < MIN_PRODUCTION_KEY_BYTES:
        return [warn(f"TOWNSTAT_PII_KEY 已设置，但少于 {MIN_PRODUCTION_KEY_BYTES} 字节：生产环境会拒绝它",
                     f"TOWNSTAT_PII_KEY is set but shorter than {MIN_PRODUCTION_KEY_BYTES} bytes: "
                     "production refuses it", make)]
    env = "（生产环境）" if production else ""
    env_en = " (production)" if production else ""
    return [ok(f"TOWNSTAT_PII_KEY 已设置：自己的密钥，至少 {MIN_PRODUCTION_KEY_BYTES} 字节{env}",
               f"TOWNSTAT_PII_KEY is set: a key of your own, at least {MIN_PRODUCTION_KEY_BYTES} "
               f"bytes{env_en}")]


# ------------------------------------------------------------------------------- Dagster


def dagster_home() -> tuple[Path, bool]:
    """(the instance folder, whether DAGSTER_HOME names it): the setting's folder (DAGSTER_HOME,
    else its default), or the project's dagster_home when the setting has no default."""
    folder = settings.DAGSTER_HOME.get() or PROJECT / "dagster_home"
    return Path(folder), bool(settings.DAGSTER_HOME.raw())


def _env_refs(node: Any) -> list[str]:
    """The names of every `{env: NAME}` in a piece of dagster.yaml."""
    if isinstance(node, dict):
        if set(node) == {"env"} and isinstance(node["env"], str):
            return [node["env"]]
        return [n for v in node.values() for n in _env_refs(v)]
    if isinstance(node, list):
        return [n for v in node for n in _env_refs(v)]
    return []


def _storage(conf: dict) -> tuple[str, list[str]]:
    """The storage kind of a dagster.yaml and the variables it reads."""
    storage = conf.get("storage")
    if isinstance(storage, dict) and storage:
        return str(next(iter(storage))), _env_refs(storage)
    parts = [conf.get(k) for k in ("run_storage", "event_log_storage", "schedule_storage")]
    parts = [p for p in parts if isinstance(p, dict)]
    if parts:
        kinds = sorted({str(p.get("class", "?")) for p in parts})
        return "、".join(kinds), _env_refs(parts)
    return "", []


def check_dagster(ctx: Context) -> list[Finding]:
    """The instance folder, its dagster.yaml and storage, and the variables that storage reads."""
    home, given = dagster_home()
    shown = _absolute(home)
    zh, en = (f"Dagster 实例 {shown}（来自 DAGSTER_HOME）", f"Dagster instance {shown} (from DAGSTER_HOME)") \
        if given else (f"Dagster 实例 {shown}（默认）", f"Dagster instance {shown} (the default)")
    restore = ("设置 DAGSTER_HOME 指向带 dagster.yaml 的文件夹（生产环境见 docs/deployment.md）",
               "point DAGSTER_HOME at a folder holding a dagster.yaml (production: docs/deployment.md)") \
        if given else ("恢复项目自带的 dagster_home/dagster.yaml（git checkout -- dagster_home/dagster.yaml）",
                       "restore the project's dagster_home/dagster.yaml (git checkout -- "
                       "dagster_home/dagster.yaml)")
    writable = ("让运行 townstat 的用户可以写该文件夹", "let the user running townstat write the folder")
    if not home.is_dir():
        parent = next((p for p in Path(shown).parents if p.exists()), Path("/"))
        if home.exists() or not os.access(parent, os.W_OK | os.X_OK):
            return [fail(f"{zh}：不是文件夹，也无法创建", f"{en}: not a folder, and it cannot be made",
                         writable)]
        return [warn(f"{zh}：尚不存在，首次刷新时创建，但没有 dagster.yaml（Dagster 默认设置）",
                     f"{en}: does not exist yet; the first refresh makes it, without a dagster.yaml "
                     "(Dagster's defaults)", restore)]
    if not os.access(home, os.W_OK | os.X_OK):
        return [fail(f"{zh}：文件夹不可写", f"{en}: the folder is not writable", writable)]
    yaml_file = home / "dagster.yaml"
    if not yaml_file.is_file():
        return [warn(f"{zh}：没有 dagster.yaml，使用 Dagster 默认设置（SQLite 存于该文件夹，不限制同时刷新）",
                     f"{en}: no dagster.yaml, Dagster's defaults (SQLite in that folder, no limit on "
                     "refreshes at the same time)", restore)]
    import yaml

    try:
        conf = yaml.safe_load(yaml_file.read_text(encoding="utf-8")) or {}
        if not isinstance(conf, dict):
            raise ValueError("not a mapping")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        reason = _scrub(exc, "")
        return [fail(f"{yaml_file} 无法读取：{reason}", f"{yaml_file} cannot be read: {reason}",
                     ("改正 dagster.yaml（参照 deploy/dagster.yaml）", "fix dagster.yaml (see "
                      "deploy/dagster.yaml)"))]
    kind, refs = _storage(conf)
    unset = [n for n in refs if n in settings.BY_NAME and not settings.BY_NAME[n].raw()]
    line = ok(f"{zh}，dagster.yaml 存储：{kind or 'SQLite（Dagster 默认，存于该文件夹）'}",
              f"{en}, dagster.yaml storage: {kind or 'SQLite (the default, in that folder)'}")
    if unset:
        names = "、".join(unset)
        return [line, fail(f"dagster.yaml 的存储需要的环境变量未设置：{names}",
                           f"variables dagster.yaml's storage reads are unset: {', '.join(unset)}",
                           ("设置这些变量（见 docs/deployment.md）", "set them (see docs/deployment.md)"))]
    return [line]


# ---------------------------------------------------------------------- programs, fonts


def check_postgres_binaries(ctx: Context) -> list[Finding]:
    found = sorted((Path(d) for d in glob.glob(POSTGRES_BIN_GLOB)
                    if (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file()),
                   key=lambda d: d.parent.name)
    if not found:
        return [warn(f"未找到 PostgreSQL 服务器程序（initdb、pg_ctl，{POSTGRES_BIN_GLOB}）：只在运行 PostgreSQL 测试"
                     "或本机 PostgreSQL 时需要",
                     f"no PostgreSQL server binaries (initdb, pg_ctl in {POSTGRES_BIN_GLOB}): needed only "
                     "for the PostgreSQL tests or a PostgreSQL on this machine",
                     ("apt-get install postgresql-15", "apt-get install postgresql-15"))]
    where = ", ".join(str(d) for d in found)
    return [ok(f"PostgreSQL 服务器程序 {where}", f"PostgreSQL server binaries {where}")]


def check_chromium(ctx: Context) -> list[Finding]:
    path = shutil.which(CHROMIUM)
    if path is None:
        return [warn("PATH 中没有 chromium：只有图表页面的测试需要它",
                     "no chromium on PATH: only the dashboard test needs it",
                     ("apt-get install chromium", "apt-get install chromium"))]
    return [ok(f"Chromium {path}（图表测试用）", f"Chromium {path} (for the dashboard test)")]


def check_cjk_font(ctx: Context) -> list[Finding]:
    fix = ("apt-get install fonts-noto-cjk", "apt-get install fonts-noto-cjk")
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return [warn("没有 fc-list（fontconfig），无法检查中文字体", "no fc-list (fontconfig): cannot check "
                     "for a CJK font", ("apt-get install fontconfig fonts-noto-cjk",
                                       "apt-get install fontconfig fonts-noto-cjk"))]
    try:
        proc = subprocess.run([fc_list, ":lang=zh", "family"], capture_output=True, text=True,
                              timeout=CONNECT_TIMEOUT_S, check=False)
        families = sorted({f.split(",")[0].strip() for f in proc.stdout.splitlines() if f.strip()})
    except (OSError, subprocess.TimeoutExpired):
        families = []
    if not families:
        return [warn("没有中文字体：浏览器中的图表和截图会把汉字画成方框",
                     "no CJK font: browsers draw Chinese as boxes in the dashboard and screenshots", fix)]
    sample = next((f for f in families if "SC" in f), families[0])
    return [ok(f"中文字体 {len(families)} 种，例如 {sample}", f"{len(families)} CJK font families, e.g. {sample}")]


# -------------------------------------------------------------------------- declaration


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Context], Iterable[Finding]]


#: Every check, in screen order: a new check is one function and one line here.
CHECKS: tuple[Check, ...] = (
    Check("python", check_python),
    Check("packages", check_packages),
    Check("raw_area", check_raw_area),
    Check("warehouse", check_warehouse),
    Check("reader_role", check_reader_role),
    Check("pii_key", check_pii_key),
    Check("dagster", check_dagster),
    Check("postgresql", check_postgres_binaries),
    Check("chromium", check_chromium),
    Check("cjk_font", check_cjk_font),
)


def run_checks(ctx: Context, checks: Iterable[Check] = CHECKS) -> list[Finding]:
    """Every check's findings; a check that raises is one ✗ line (the others still run)."""
    out: list[Finding] = []
    for check in checks:
        try:
            out.extend(check.run(ctx))
        except Exception as exc:  # the doctor reports, it does not crash
            reason = _scrub(f"{type(exc).__name__}: {exc}", ctx.url)
            out.append(fail(f"检查 {check.name} 本身出错：{reason}", f"the check {check.name} itself "
                            f"failed: {reason}", ("请把这一行报告给维护者", "report this line to the maintainers")))
    return out


def render(findings: list[Finding], seconds: float) -> str:
    lines = ["townstat doctor：环境检查 / set-up check"]
    for f in findings:
        lines.append(f"{f.status.value} {f.zh} / {f.en}")
        lines += [f"    {a}" for a in f.advice.splitlines()] if f.status is not Status.OK else []
    errors = sum(f.status is Status.FAIL for f in findings)
    warnings = sum(f.status is Status.WARN for f in findings)
    if errors:
        lines.append(f"结果：{errors} 项错误（✗），{warnings} 项提醒（!），用时 {seconds:.1f} 秒 / result: "
                     f"{errors} problem(s) (✗), {warnings} warning(s) (!), {seconds:.1f}s")
    else:
        lines.append(f"结果：没有错误，{warnings} 项提醒（!），用时 {seconds:.1f} 秒 / result: no problem, "
                     f"{warnings} warning(s) (!), {seconds:.1f}s")
    return "\n".join(lines)


# -------------------------------------------------------------------------- command line


def run(args: argparse.Namespace) -> int:
    """`townstat doctor`: print the checks; 0 when no line is ✗, else 1."""
    t0 = time.perf_counter()
    findings = run_checks(context(args.raw, args.warehouse))
    print(render(findings, time.perf_counter() - t0), flush=True)
    return 1 if any(f.status is Status.FAIL for f in findings) else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `doctor` to `townstat`'s subcommands."""
    d = sub.add_parser(
        "doctor", help="检查安装和配置 / check that everything townstat needs works",
        description="一屏检查：Python 和主要软件包、原始区、数据仓库（能否连接、最近一次发布）、PII 密钥来源、"
                    "Dagster 实例、PostgreSQL 程序和只读角色、Chromium 和中文字体；每行 ✓ 正常、! 提醒、✗ 错误，"
                    "并说明如何处理。不读取原始区的文件内容，不修改任何东西，不显示密钥和密码。 / One screen: "
                    "Python and the key packages, the raw area, the warehouse (does it answer, the last "
                    "publication), where the PII key comes from, the Dagster instance, the PostgreSQL "
                    "binaries and the reader role, Chromium and a CJK font; each line ✓ fine, ! warning, "
                    "✗ problem, with what to do. Reads no file content, changes nothing, never shows the "
                    "key or a password. Exit 0: no ✗; 1: at least one ✗.")
    d.add_argument("--raw", metavar="DIR", help="原始区 raw area (default: TOWNSTAT_RAW_DIR or ./raw)")
    d.add_argument("--warehouse", metavar="URL",
                   help="SQLAlchemy URL (default: WAREHOUSE_URL or sqlite:///warehouse/warehouse.sqlite)")
    d.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="townstat")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["doctor", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
