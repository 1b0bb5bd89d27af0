"""No clear person ID anywhere after a refresh; production refuses the demo key."""

import hashlib
import hmac
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl

from pipelines.ingest.pseudonymise import DEMO_PII_KEY
from tests.ingest.rawfiles import person, uscc, write_csv


def _ids() -> list[str]:
    return [person(i) for i in range(1, 6)]


def _raw_area(root: Path) -> None:
    ids = _ids()
    lines = ["所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码,缴费基数"]
    lines += [f"2024-12,{pid},{uscc(1)},140823,3000" for pid in ids]
    lines.append(f"2024-12,{ids[0][:17]}{'0' if ids[0][17] != '0' else '1'},{uscc(1)},140823,3000")  # bad check digit
    lines.append(f"2024-12,{ids[1]},{uscc(1)},14,3000")  # valid ID, bad hukou: rejected row
    write_csv(root / "employment" / "2024-12.csv", lines)
    write_csv(root / "enterprise" / "2024.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值,营业收入,从业人员期末人数",
        f"2024,{uscc(1)},甲,140823100,3054,1,1,5"])


def _all_text(path: Path) -> str:
    """Every file's bytes as text, and every Parquet/SQLite string cell."""
    chunks = []
    for f in path.rglob("*"):
        if not f.is_file():
            continue
        data = f.read_bytes()
        chunks.append(data.decode("utf-8", errors="ignore"))
        if f.suffix == ".parquet":
            df = pl.read_parquet(f)
            chunks += [str(v) for c in df.columns if df[c].dtype == pl.String for v in df[c].to_list()]
        if data.startswith(b"SQLite format 3"):
            con = sqlite3.connect(f)
            for (t,) in con.execute("select name from sqlite_master where type='table'"):
                for row in con.execute(f'select * from "{t}"'):
                    chunks += [str(v) for v in row]
            con.close()
    return "\n".join(chunks)


def test_no_clear_person_id_in_warehouse_cache_staging_or_event_log(tmp_path):
    raw = tmp_path / "raw"
    _raw_area(raw)
    home = tmp_path / "dagster_home"
    home.mkdir()
    # the CLI in a fresh process, as the bureau runs it, with a persistent Dagster instance whose
    # event log is checked too
    env = {**os.environ, "DAGSTER_HOME": str(home), "TOWNSTAT_CACHE_DIR": str(tmp_path / "cache"),
           "TOWNSTAT_STAGING_DIR": str(tmp_path / "staging"), "TOWNSTAT_REPORTS_DIR": str(tmp_path / "r")}
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "refresh", "--raw", str(raw),
                           "--warehouse", f"sqlite:///{tmp_path / 'wh' / 'w.sqlite'}"],
                          capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1], timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text_out = proc.stdout + proc.stderr
    for pid in _ids():
        assert pid not in text_out  # nor in what it printed or logged
    text = _all_text(tmp_path / "wh") + _all_text(tmp_path / "cache") + _all_text(tmp_path / "staging") \
        + _all_text(home)
    # we did read the real content: the pseudonym of the first person is there
    key = hmac.new(DEMO_PII_KEY.encode(), _ids()[0].encode(), hashlib.sha256).hexdigest()
    assert key in text
    for pid in _ids():
        assert pid not in text
        assert pid[:17] not in text  # not even the invalid variant's first 17 digits


def test_production_refuses_the_demo_key(tmp_path):
    raw = tmp_path / "raw"
    _raw_area(raw)
    env = {"PATH": "/usr/bin:/bin", "TOWNSTAT_ENV": "production", "HOME": str(tmp_path)}
    # run in the test's folder: the defaults relative to the working directory (cache, reports)
    # land there, not in the checkout
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "refresh", "--raw", str(raw), "--warehouse",
                           f"sqlite:///{tmp_path / 'w.sqlite'}"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 1
    assert "TOWNSTAT_PII_KEY" in proc.stdout + proc.stderr
    env["TOWNSTAT_PII_KEY"] = "a-real-secret-of-the-bureau-0123456789"  # 38 bytes: production wants 32+
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "refresh", "--raw", str(raw), "--warehouse",
                           f"sqlite:///{tmp_path / 'w.sqlite'}", "--quiet"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
