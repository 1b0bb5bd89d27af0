"""End to end: the production profile's real `dagster-daemon run` against a real PostgreSQL
(Dagster's storage and the warehouse, two databases) refreshes the warehouse by itself
when a file is dropped into the raw area, and again when that file is edited."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from pipelines.warehouse.read import read_table
from tests.ingest.rawfiles import TONGCHENG, uscc, write_csv

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "deploy" / "start-production.sh"
DEADLINE = 240  # seconds for the first refresh (daemon start, code load, run)
PII_KEY = "test-only-production-key-0123456789"


def _enterprise(raw: Path, output: int) -> Path:
    return write_csv(raw / "enterprise" / "2024.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数",
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,{output},{output},10"])


def _output_values(url: str) -> list[float] | None:
    try:
        return read_table(url, "fact_enterprise_year")["output_value"].to_list()
    except Exception:  # not published yet: the table does not exist
        return None


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the daemon, then SIGKILL whatever is left of its process group."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # code server and run workers, if any survived
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.fixture
def production(postgres_server, tmp_path, monkeypatch):
    tag = uuid.uuid4().hex[:12]
    dagster_db, warehouse_db = f"dg_{tag}", f"wh_{tag}"
    warehouse_url = postgres_server.create_database(warehouse_db)
    postgres_server.create_database(dagster_db)
    # In the test's temporary folder: a test writes nothing into the checkout (a production
    # DAGSTER_HOME stays out of /tmp, docs/deployment.md; a test's lasts as long as the test).
    home = tmp_path / "dagster_home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "TOWNSTAT_"))}
    env.update({
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(postgres_server.port),
        "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "unused-trust-auth",
        "DAGSTER_PG_DB": dagster_db,
        "WAREHOUSE_URL": warehouse_url,
        "TOWNSTAT_PII_KEY": PII_KEY,
        "TOWNSTAT_RAW_DIR": str(tmp_path / "raw"),
        "TOWNSTAT_CACHE_DIR": str(tmp_path / "cache"),
        "TOWNSTAT_STAGING_DIR": str(tmp_path / "staging"),
        "TOWNSTAT_REPORTS_DIR": str(tmp_path / "reports"),  # the script runs in the checkout
        "TOWNSTAT_QUIET_SECONDS": "1",
        "TOWNSTAT_SENSOR_INTERVAL": "2",
        "TOWNSTAT_EXECUTOR": "in_process",  # one process per run: ~10 s less per step on 2 cores
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
    })
    (tmp_path / "raw").mkdir()
    for k, v in env.items():
        if k.startswith(("DAGSTER_", "TOWNSTAT_")):
            monkeypatch.setenv(k, v)  # so this process can open the same instance
    yield env, warehouse_url, tmp_path / "raw", home
    shutil.rmtree(home, ignore_errors=True)
    postgres_server.drop_database(warehouse_db)
    postgres_server.drop_database(dagster_db)


def test_start_script_refuses_a_missing_environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "TOWNSTAT_", "WAREHOUSE"))}
    out = subprocess.run([str(SCRIPT), "daemon"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "WAREHOUSE_URL" in out.stderr and "TOWNSTAT_PII_KEY" in out.stderr


def test_daemon_refreshes_the_warehouse_when_a_file_is_dropped(production, tmp_path):
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    from pipelines.defs.sensors import DIGEST_TAG, refresh_job
    from pipelines.ingest.inventory import scan_raw_area, state_digest
    from pipelines.status import status_report

    env, warehouse_url, raw, home = production
    log = (tmp_path / "daemon.log").open("wb")
    proc = subprocess.Popen([str(SCRIPT), "daemon"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for(values: list[float], deadline: float) -> None:
        while time.time() < deadline:
            if _output_values(warehouse_url) == values:
                return
            if proc.poll() is not None:
                pytest.fail(f"the daemon exited ({proc.returncode}):\n{_tail(tmp_path / 'daemon.log')}")
            time.sleep(2)
        pytest.fail(f"the warehouse did not reach {values} in time; daemon log:\n"
                    f"{_tail(tmp_path / 'daemon.log')}")

    try:
        t0 = time.time()
        _enterprise(raw, 100)
        wait_for([100.0], t0 + DEADLINE)
        first = time.time() - t0

        # The bureau corrects the file in place: the next state refreshes again, by itself.
        time.sleep(1.1)  # another mtime second
        _enterprise(raw, 250)
        wait_for([250.0], time.time() + 120)

        instance = DagsterInstance.from_config(str(home))
        try:
            # The run ends a moment after publishing; then a few more sensor ticks, in which
            # the same state must not start again.
            until = time.time() + 60
            while time.time() < until and any(
                    not r.is_finished for r in instance.get_runs(filters=RunsFilter(job_name="refresh"))):
                time.sleep(1)
            time.sleep(5)
            runs = instance.get_runs(filters=RunsFilter(job_name=refresh_job.name))
            assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS] * 2
            digest = state_digest(scan_raw_area(raw))
            assert runs[0].tags[DIGEST_TAG] == digest
            assert runs[0].tags["dagster/run_key"] == digest
            report = status_report(warehouse_url, raw, instance=instance)
            assert "最近一次成功刷新" in report and runs[0].run_id[:8] in report
            assert "待处理文件：无" in report
        finally:
            instance.dispose()
        print(f"first refresh after {first:.0f}s")
    finally:
        _stop(proc)
        log.close()
    assert proc.returncode is not None


def _tail(path: Path, n: int = 6000) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    return text[-n:]
