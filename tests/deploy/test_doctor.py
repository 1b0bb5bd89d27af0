"""`townstat doctor` against real parts, no mocks: a raw area on disk (with a symbolic link, a
named pipe and a stray file a refresh refuses; the pipe would hang a doctor that opened it), a
SQLite warehouse a real refresh published, a warehouse that cannot answer (a SQLite file in a
missing folder, PostgreSQL on a closed port), and the tests' real PostgreSQL with and without
the reader role. `run` is called through a parser built by `add_parser`, as `townstat` does."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from pipelines import doctor
from pipelines.ingest.inventory import SOURCE_FOLDERS
from pipelines.ingest.pseudonymise import DEMO_PII_KEY
from pipelines.refresh import run_refresh
from pipelines.warehouse import grant_reader, make_engine, publish
from tests.evaluation.test_goals_refresh import _write_area
from tests.ingest.rawfiles import person
from tests.warehouse.conftest import make_frame

OWN_KEY = "k3y-of-the-bureau-" + "x" * 30  # 48 bytes, never to be printed
PASSWORD = "Pa55-w0rd-n3ver-shown"
ID = person(9)  # a person ID as a file name: shown masked, as dq_file shows it
ROOT = Path(__file__).parents[2]


def _doctor(capsys, *args: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="townstat")
    doctor.add_parser(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args(["doctor", *args])
    code = ns.func(ns)
    return code, capsys.readouterr().out


def _line(out: str, *parts: str) -> str:
    """The one line holding every part (fails, showing the output, when there is none)."""
    found = [ln for ln in out.splitlines() if all(p in ln for p in parts)]
    assert found, f"no line with {parts!r} in:\n{out}"
    return found[0]


def _snapshot(*folders: Path) -> dict[str, tuple]:
    """Every entry under the folders: kind, size, mtime (links not followed)."""
    out = {}
    for top in folders:
        for folder, dirs, files in os.walk(top):
            for name in dirs + files:
                st = os.lstat(Path(folder) / name)
                out[str(Path(folder) / name)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, str, dict[str, int]]:
    """(raw area, SQLite URL, readable files per source folder): a small real area refreshed,
    plus three entries a refresh refuses: a link, a named pipe, a file outside the folders."""
    root = tmp_path_factory.mktemp("doctor")
    raw = root / "raw"
    _write_area(raw)
    per_source = {s: sum(len(f) for _, _, f in os.walk(raw / s)) for s in SOURCE_FOLDERS}
    (raw / "enterprise" / f"{ID}.csv").symlink_to(raw / "tax" / "tax.csv")
    os.mkfifo(raw / "tax" / "pipe.csv")
    (raw / "notes.txt").write_text("说明", encoding="utf-8")
    url = f"sqlite:///{root / 'warehouse' / 'warehouse.sqlite'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("TOWNSTAT_PII_KEY", OWN_KEY)
    try:
        outcome = run_refresh(raw, url, cache_dir=str(root / "cache"), reports_dir=str(root / "reports"))
    finally:
        mp.undo()
    assert outcome.published, outcome.summary_text()
    return raw, url, per_source


@pytest.fixture
def own_key(monkeypatch):
    monkeypatch.setenv("TOWNSTAT_PII_KEY", OWN_KEY)
    monkeypatch.delenv("TOWNSTAT_ENV", raising=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_working_set_up_exits_0_and_changes_nothing(published, own_key, capsys):
    raw, url, per_source = published
    warehouse_dir = Path(make_url(url).database).parent
    before = _snapshot(raw, warehouse_dir)
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert code == 0, out
    assert _snapshot(raw, warehouse_dir) == before  # nothing read-write, nothing created

    assert out.splitlines()[0] == "townstat doctor：环境检查 / set-up check"
    assert _line(out, "Python 3.11").startswith("✓ ")
    packages = _line(out, "软件包 / packages:")
    assert packages.startswith("✓ ")
    for dist in ("dagster", "polars", "pandera", "sqlalchemy", "great-expectations", "xlsxwriter",
                 "plotly", "psycopg"):
        assert f"{dist} " in packages

    counts = "、".join(f"{s} {n}" for s, n in per_source.items())
    assert _line(out, f"原始区 {raw}：文件数") == (
        f"✓ 原始区 {raw}：文件数 {counts} / raw area {raw}: files "
        + ", ".join(f"{s} {n}" for s, n in per_source.items()))
    refused = _line(out, "条目刷新时会被拒收")
    assert refused.startswith("! 原始区中有 3 个条目刷新时会被拒收"), refused
    assert "3 entries of the raw area would be refused" in refused
    assert "符号链接" in _line(out, "enterprise/***.csv")
    assert ID not in out
    assert "命名管道" in _line(out, "tax/pipe.csv")
    assert "不在任何来源文件夹中" in _line(out, "notes.txt")

    assert _line(out, "数据仓库", "可连接").startswith(f"✓ 数据仓库 {url}（来自 --warehouse） 可连接（SQLite 3.")
    last = _line(out, "最近一次发布：")
    assert last.startswith("✓ 最近一次发布：") and "张表" in last and "loaded" in last, last
    assert "行）" in last and "最近写入" in last and "last written" in last
    assert "townstat_reader" not in out  # SQLite has no roles

    assert _line(out, "TOWNSTAT_PII_KEY").startswith("✓ TOWNSTAT_PII_KEY 已设置")
    assert OWN_KEY not in out and OWN_KEY[:12] not in out
    assert _line(out, "Dagster 实例").startswith(("✓ ", "! "))
    assert _line(out, "结果：").startswith("结果：没有错误")


def test_the_demo_key_is_a_warning(published, monkeypatch, capsys):
    raw, url, _ = published
    monkeypatch.delenv("TOWNSTAT_ENV", raising=False)
    monkeypatch.delenv("TOWNSTAT_PII_KEY", raising=False)
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert code == 0, out  # warnings allowed
    assert _line(out, "TOWNSTAT_PII_KEY 未设置").startswith("! TOWNSTAT_PII_KEY 未设置：身份证号用公开的演示密钥假名化")
    assert "secrets.token_urlsafe(32)" in _line(out, "处理：用 python -c")

    monkeypatch.setenv("TOWNSTAT_PII_KEY", DEMO_PII_KEY)
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert code == 0
    assert _line(out, "TOWNSTAT_PII_KEY 是内置演示密钥").startswith("! ")
    assert DEMO_PII_KEY not in out


@pytest.mark.parametrize("key", ["", DEMO_PII_KEY, "short-secret-key"])
def test_production_refuses_the_demo_or_a_short_key(published, monkeypatch, capsys, key):
    raw, url, _ = published
    monkeypatch.setenv("TOWNSTAT_ENV", "production")
    monkeypatch.setenv("TOWNSTAT_PII_KEY", key)
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert code == 1, out
    line = _line(out, "生产环境")
    assert line.startswith("✗ ") and "刷新会拒绝运行" in line and "a refresh refuses to run" in line
    assert "secrets.token_urlsafe(32)" in out
    if key:
        assert key not in out


def test_a_sqlite_warehouse_in_a_missing_folder_fails(published, own_key, tmp_path, capsys):
    raw, _, _ = published
    missing = tmp_path / "no-such-folder"
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", f"sqlite:///{missing}/w.sqlite")
    assert code == 1, out
    line = _line(out, "数据仓库")
    assert line.startswith(f"✗ 数据仓库 sqlite:///{missing}/w.sqlite（来自 --warehouse）：文件夹 {missing} 不存在")
    assert "检查 --warehouse 或 WAREHOUSE_URL" in out
    assert _line(out, "结果：").startswith("结果：1 项错误")
    assert not missing.exists()  # the doctor creates nothing


def test_a_file_that_is_no_database_fails(published, own_key, tmp_path, capsys):
    raw, _, _ = published
    (tmp_path / "w.sqlite").write_bytes(b"not a database, just bytes " * 100)
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", f"sqlite:///{tmp_path}/w.sqlite")
    assert code == 1, out
    assert _line(out, "数据仓库").startswith(f"✗ 数据仓库 sqlite:///{tmp_path}/w.sqlite（来自 --warehouse）：无法连接：")
    assert "确认该文件是 townstat 的 SQLite 数据仓库且未损坏" in out


def test_postgres_on_a_closed_port_fails_without_showing_the_password(published, own_key, capsys):
    raw, _, _ = published
    url = f"postgresql+psycopg://townstat:{PASSWORD}@127.0.0.1:{_closed_port()}/townstat"
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert code == 1, out
    line = _line(out, "数据仓库")
    assert line.startswith("✗ 数据仓库 postgresql+psycopg://townstat:***@127.0.0.1:"), line
    assert "无法连接" in line and "does not answer" in line
    assert "pg_isready" in out
    assert PASSWORD not in out


def test_postgres_and_the_reader_role(postgres_url, own_key, tmp_path, capsys):
    raw = tmp_path / "raw"
    (raw / "enterprise").mkdir(parents=True)
    (raw / "enterprise" / "2024.csv").write_text("year\n", encoding="utf-8")
    publish(postgres_url, {"dim_town": make_frame("dim_town", 3),
                           "fact_tax_month": make_frame("fact_tax_month", 5)})
    u = make_url(postgres_url)
    url = u.set(password=PASSWORD).render_as_string(hide_password=False)  # trust: ignored

    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert PASSWORD not in out
    assert _line(out, "数据仓库", "可连接").startswith(
        f"✓ 数据仓库 postgresql+psycopg://postgres:***@{u.host}:{u.port}/{u.database}（来自 --warehouse） "
        "可连接（PostgreSQL 15")
    assert _line(out, "最近一次发布：").startswith("✓ 最近一次发布：2 张表，文件 无；发布时间见 townstat status")
    assert code == 0, out  # a missing role is a warning
    role = _line(out, "只读角色 townstat_reader")
    # roles are cluster-wide: when another test made it, publish granted it dim_town already
    assert role.startswith(("! 只读角色 townstat_reader 不存在：其他部门无法只读访问",
                            "✓ 只读角色 townstat_reader 存在，可读 1 张")), role
    if role.startswith("! "):
        assert "townstat db grant-reader --warehouse URL" in out

    grant_reader(postgres_url)
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert code == 0, out
    assert _line(out, "只读角色") == ("✓ 只读角色 townstat_reader 存在，可读 1 张已发布的表 / the read-only "
                                   "role townstat_reader exists and reads 1 published table(s)")

    engine = make_engine(postgres_url)  # a private table granted by hand breaks the contract
    with engine.begin() as conn:
        conn.execute(text("GRANT SELECT ON fact_tax_month TO townstat_reader"))
    engine.dispose()
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert code == 0, out  # a warning: the pipeline works, the role needs fixing
    line = _line(out, "只读角色")
    assert line.startswith("! 只读角色 townstat_reader 对 1 张表的权限不符合约定：fact_tax_month"), line
    assert "townstat db grant-reader" in out


def test_the_dagster_instance_and_its_storage_variables(published, own_key, monkeypatch, tmp_path, capsys):
    raw, url, _ = published
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_bytes((ROOT / "deploy" / "dagster.yaml").read_bytes())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for part in ("HOST", "PORT", "USERNAME", "PASSWORD", "DB"):
        monkeypatch.delenv(f"DAGSTER_PG_{part}", raising=False)
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert code == 1, out
    assert _line(out, "Dagster 实例") == (f"✓ Dagster 实例 {home}（来自 DAGSTER_HOME），dagster.yaml 存储：postgres / "
                                       f"Dagster instance {home} (from DAGSTER_HOME), dagster.yaml storage: postgres")
    assert _line(out, "dagster.yaml 的存储需要的环境变量未设置").startswith(
        "✗ dagster.yaml 的存储需要的环境变量未设置：DAGSTER_PG_HOST、DAGSTER_PG_PORT")

    for part in ("HOST", "PORT", "USERNAME", "PASSWORD", "DB"):
        monkeypatch.setenv(f"DAGSTER_PG_{part}", "set")
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert code == 0, out
    assert "DAGSTER_PG_HOST" not in out

    (home / "dagster.yaml").unlink()
    code, out = _doctor(capsys, "--raw", str(raw), "--warehouse", url)
    assert code == 0, out
    assert _line(out, "Dagster 实例").startswith(f"! Dagster 实例 {home}（来自 DAGSTER_HOME）：没有 dagster.yaml")


def test_a_check_that_raises_is_one_failed_line_and_the_others_run(published):
    raw, url, _ = published

    def broken(ctx):
        raise RuntimeError(f"boom {PASSWORD}")

    ctx = doctor.Context(raw, f"postgresql://u:{PASSWORD}@127.0.0.1:1/x", ("--warehouse", "--warehouse"))
    findings = doctor.run_checks(ctx, (doctor.Check("broken", broken), doctor.Check("python", doctor.check_python)))
    assert [f.status for f in findings] == [doctor.Status.FAIL, doctor.Status.OK]
    assert findings[0].zh.startswith("检查 broken 本身出错：RuntimeError: boom ***")
    assert PASSWORD not in doctor.render(findings, 0.1)
