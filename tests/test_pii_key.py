"""The PII key (contract section 4): a bilingual warning when the demo key is used outside
production, once per process; production refuses a key shorter than 32 UTF-8 bytes."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.ingest import pseudonymise
from pipelines.ingest.pseudonymise import DEMO_PII_KEY, UnsafePIIKey, pii_key

ROOT = Path(__file__).parents[1]
ZH = "TOWNSTAT_PII_KEY 未设置（或为演示密钥）"
EN = "warning: TOWNSTAT_PII_KEY is unset (or the demo key)"
COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
REAL_KEY = "k" * 32


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TOWNSTAT_PII_KEY", "TOWNSTAT_ENV")}
    env.update(extra)
    return env


def _python(code: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=_env(**extra), timeout=120)


@pytest.fixture
def fresh_process_state(monkeypatch):
    """As in a new process: the once-per-process warning not given yet."""
    monkeypatch.delenv("TOWNSTAT_PII_KEY", raising=False)
    monkeypatch.delenv("TOWNSTAT_ENV", raising=False)
    pseudonymise._warned.clear()
    yield monkeypatch
    pseudonymise._warned.clear()


@pytest.mark.parametrize("key", [None, DEMO_PII_KEY])
def test_demo_key_warns_in_the_log(fresh_process_state, caplog, key):
    if key is not None:
        fresh_process_state.setenv("TOWNSTAT_PII_KEY", key)
    with caplog.at_level(logging.WARNING, logger="pipelines.ingest.pseudonymise"):
        assert pii_key() == b"townstat-demo-key-NOT-FOR-PRODUCTION"
        assert pii_key() == b"townstat-demo-key-NOT-FOR-PRODUCTION"
    warnings = [r for r in caplog.records if r.name == "pipelines.ingest.pseudonymise"]
    assert len(warnings) == 1  # once per process
    assert warnings[0].levelno == logging.WARNING
    assert ZH in warnings[0].getMessage() and EN in warnings[0].getMessage()
    assert COMMAND in warnings[0].getMessage()


def test_a_real_key_does_not_warn(fresh_process_state, caplog):
    fresh_process_state.setenv("TOWNSTAT_PII_KEY", "my-own-key")
    with caplog.at_level(logging.DEBUG):
        assert pii_key() == b"my-own-key"
    assert caplog.records == []


def test_warning_reaches_stderr_once_per_process():
    code = "from pipelines.ingest.pseudonymise import pii_key; pii_key(); pii_key(); pii_key()"
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count(ZH) == 1 and proc.stderr.count(EN) == 1
    assert proc.stdout == ""
    proc = _python(code, TOWNSTAT_PII_KEY=DEMO_PII_KEY)
    assert proc.stderr.count(ZH) == 1 and proc.stderr.count(EN) == 1
    proc = _python(code, TOWNSTAT_PII_KEY="a-real-secret-of-the-bureau")
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == ""


def test_cli_refresh_prints_the_warning(tmp_path):
    """`townstat refresh --quiet` with the demo key: the warning is in what it printed, once."""
    (tmp_path / "raw").mkdir()
    env = _env(TOWNSTAT_CACHE_DIR=str(tmp_path / "cache"), TOWNSTAT_STAGING_DIR=str(tmp_path / "staging"),
               TOWNSTAT_REPORTS_DIR=str(tmp_path / "reports"), DAGSTER_HOME=str(tmp_path / "dg"))
    (tmp_path / "dg").mkdir()
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "refresh", "--quiet", "--raw",
                           str(tmp_path / "raw"), "--warehouse", f"sqlite:///{tmp_path / 'w.sqlite'}"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert out.count(ZH) == 1 and out.count(EN) == 1, out[-3000:]


def test_production_refuses_a_key_shorter_than_32_bytes(fresh_process_state, caplog):
    mp = fresh_process_state
    mp.setenv("TOWNSTAT_ENV", "production")
    # "密" * 10 + "a": 11 characters, 31 UTF-8 bytes
    for short, size in [("k" * 31, 31), ("x", 1), ("密" * 10 + "a", 31)]:
        mp.setenv("TOWNSTAT_PII_KEY", short)
        with pytest.raises(UnsafePIIKey) as err:
            pii_key()
        msg = str(err.value)
        assert f"太短：{size} 字节（UTF-8）" in msg and f"too short for production: {size} bytes (UTF-8)" in msg
        assert "至少需要 32 字节" in msg and "at least 32 are required" in msg
        assert COMMAND in msg
        assert short not in msg  # the key itself is never shown
    for key in ["k" * 32, "密" * 10 + "ab", "k" * 43]:  # "密" * 10 + "ab": 12 characters, 32 bytes
        mp.setenv("TOWNSTAT_PII_KEY", key)
        assert pii_key() == key.encode("utf-8")
    for refused in ["", DEMO_PII_KEY]:  # the demo key is 36 bytes, and still refused
        mp.setenv("TOWNSTAT_PII_KEY", refused)
        with pytest.raises(UnsafePIIKey, match="TOWNSTAT_PII_KEY"):
            pii_key()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_production_cli_refuses_a_31_byte_key(tmp_path):
    (tmp_path / "raw").mkdir()
    args = [sys.executable, "-m", "pipelines.cli", "refresh", "--quiet", "--raw", str(tmp_path / "raw"),
            "--warehouse", f"sqlite:///{tmp_path / 'w.sqlite'}"]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env=_env(TOWNSTAT_ENV="production", TOWNSTAT_PII_KEY="k" * 31))
    assert proc.returncode == 1
    assert "31 字节" in proc.stdout and "31 bytes (UTF-8), at least 32 are required" in proc.stdout
    assert COMMAND in proc.stdout
    assert "NOT published" in proc.stdout
    if (tmp_path / "w.sqlite").exists():  # the status line may open it: it holds no table
        with sqlite3.connect(tmp_path / "w.sqlite") as conn:
            assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []
