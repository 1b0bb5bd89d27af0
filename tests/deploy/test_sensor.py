"""The raw-area sensor and the nightly schedule, tick by tick, on an ephemeral instance."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)
from dagster._core.test_utils import create_run_for_test

import pipelines.defs.sensors as sensors
from pipelines.defs.resources import RawArea
from pipelines.defs.schedules import nightly_refresh
from pipelines.defs.sensors import DIGEST_TAG, raw_area_sensor
from pipelines.ingest.inventory import scan_raw_area, state_digest
from tests.ingest.rawfiles import TONGCHENG, uscc, write_csv

ROOT = Path(__file__).parents[2]
HEADER = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数"


def _file(raw: Path, name: str, output: int) -> Path:
    return write_csv(raw / "enterprise" / name, [HEADER, f"2024,{uscc(1)},甲,{TONGCHENG},3054,{output},{output},10"])


@pytest.fixture
def area(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWNSTAT_QUIET_SECONDS", "0")
    monkeypatch.setenv("TOWNSTAT_RETRY_DELAY_SECONDS", "0")
    monkeypatch.delenv("TOWNSTAT_SENSOR_RETRIES", raising=False)
    sensors.HashCache._memory.clear()
    raw = tmp_path / "raw"
    raw.mkdir()
    with DagsterInstance.ephemeral() as instance:
        yield raw, RawArea(path=str(raw), cache_dir=str(tmp_path / "cache")), instance


def _tick(raw_area: RawArea, instance, cursor):
    # as a context manager: the context sets Dagster's current state storage and must reset it,
    # or a later test in this process resolves definitions against a disposed instance
    with build_sensor_context(instance=instance, cursor=cursor, resources={"raw_area": raw_area}) as ctx:
        result = raw_area_sensor(ctx)
        return result, ctx.cursor


def test_run_key_follows_the_files_and_only_the_files(area):
    raw, raw_area, instance = area
    result, cursor = _tick(raw_area, instance, None)
    assert isinstance(result, SkipReason) and "empty" in result.skip_message  # never wipe on an empty area

    _file(raw, "a.csv", 100)
    (raw / "enterprise" / "b.csv.part").write_text("copy under way")  # ignored
    result, cursor = _tick(raw_area, instance, cursor)
    assert isinstance(result, RunRequest)
    digest = state_digest(scan_raw_area(raw))  # what the run's raw/files asset reads
    assert result.run_key == digest and cursor == digest and len(cursor) == 64
    assert result.tags[DIGEST_TAG] == digest

    result, cursor = _tick(raw_area, instance, cursor)
    assert isinstance(result, SkipReason) and "unchanged" in result.skip_message

    keys = {digest}
    for change in (lambda: _file(raw, "b.csv", 5),                    # added
                   lambda: _file(raw, "a.csv", 999),                  # edited in place
                   lambda: (raw / "enterprise" / "b.csv").unlink()):  # removed
        time.sleep(0.01)
        change()
        result, cursor = _tick(raw_area, instance, cursor)
        assert isinstance(result, RunRequest), result
        assert result.run_key == state_digest(scan_raw_area(raw)) and result.run_key not in keys
        keys.add(result.run_key)


def test_a_new_or_edited_targets_file_requests_a_refresh(area):
    """Contract 6.2 / issue 14: reference/targets.csv is watched like every other file."""
    raw, raw_area, instance = area
    _file(raw, "a.csv", 100)
    result, cursor = _tick(raw_area, instance, None)
    assert isinstance(result, RunRequest)
    targets = raw / "reference" / "targets.csv"
    keys = {result.run_key}
    for target in ("100", "120"):  # the file arrives, then the office edits a target in place
        time.sleep(0.01)
        write_csv(targets, ["level,id,year,indicator,target", f"town,{TONGCHENG},2024,tax_total,{target}"])
        result, cursor = _tick(raw_area, instance, cursor)
        assert isinstance(result, RunRequest), result
        assert result.run_key == state_digest(scan_raw_area(raw)) and result.run_key not in keys
        keys.add(result.run_key)
    assert "reference/targets.csv" in {f.relpath for f in scan_raw_area(raw)}
    result, cursor = _tick(raw_area, instance, cursor)
    assert isinstance(result, SkipReason)


def _waiting_for(result, quiet: str, *busy: str) -> bool:
    """A skip that says it waits for exactly these files to be quiet for `quiet` seconds (not
    the 'raw area unchanged' skip, nor the empty-area one)."""
    if not isinstance(result, SkipReason):
        return False
    msg = result.skip_message
    return (f"waiting for {len(busy)} file(s) to be unchanged for {quiet}s" in msg
            and f"等待 {len(busy)} 个文件静置 {quiet} 秒" in msg
            and all(f"enterprise/{b}" in msg for b in busy)
            and "raw area unchanged" not in msg and "empty" not in msg)


def test_waits_until_every_file_is_quiet(area, monkeypatch):
    raw, raw_area, instance = area
    monkeypatch.setenv("TOWNSTAT_QUIET_SECONDS", "60")
    _file(raw, "a.csv", 100)
    result, cursor = _tick(raw_area, instance, None)
    assert _waiting_for(result, "60", "a.csv"), result
    assert cursor is None
    # mtime set to the past does not count: ctime says the file was just written.
    os.utime(raw / "enterprise" / "a.csv", (time.time() - 3600, time.time() - 3600))
    result, cursor = _tick(raw_area, instance, None)
    assert _waiting_for(result, "60", "a.csv"), result
    assert cursor is None
    monkeypatch.setenv("TOWNSTAT_QUIET_SECONDS", "2")
    time.sleep(2.1)
    # a.csv is quiet now, but b.csv was just written: one busy file holds back the whole area
    # (2 s: room for a slow tick on a busy machine)
    _file(raw, "b.csv", 200)
    result, cursor = _tick(raw_area, instance, None)
    assert _waiting_for(result, "2", "b.csv") and "a.csv" not in result.skip_message, result
    assert cursor is None
    time.sleep(2.1)
    result, cursor = _tick(raw_area, instance, None)
    assert isinstance(result, RunRequest)
    assert result.run_key == state_digest(scan_raw_area(raw)) == cursor  # both files in it


def test_hashes_are_cached_between_ticks(area, monkeypatch):
    raw, raw_area, instance = area
    for i in range(3):
        _file(raw, f"{i}.csv", i)
    calls = []
    real = sensors.file_sha256
    monkeypatch.setattr(sensors, "file_sha256", lambda p: calls.append(p) or real(p))
    _, cursor = _tick(raw_area, instance, None)
    assert len(calls) == 3
    _tick(raw_area, instance, cursor)
    assert len(calls) == 3  # nothing re-read
    sensors.HashCache._memory.clear()  # a restarted code server: the cache file is used
    _tick(raw_area, instance, cursor)
    assert len(calls) == 3
    _file(raw, "1.csv", 77)
    _tick(raw_area, instance, cursor)
    assert len(calls) == 4  # only the changed file


def test_a_failed_run_is_requested_again_once(area):
    raw, raw_area, instance = area
    _file(raw, "a.csv", 100)
    first, cursor = _tick(raw_area, instance, None)
    digest = first.run_key
    create_run_for_test(instance, job_name="refresh", status=DagsterRunStatus.FAILURE,
                        tags={DIGEST_TAG: digest, "dagster/run_key": digest})
    retry, cursor = _tick(raw_area, instance, cursor)
    assert isinstance(retry, RunRequest)
    assert retry.run_key == f"{digest}:1" and cursor == f"{digest}:1"
    create_run_for_test(instance, job_name="refresh", status=DagsterRunStatus.FAILURE,
                        tags={DIGEST_TAG: digest, "dagster/run_key": retry.run_key})
    result, cursor = _tick(raw_area, instance, cursor)
    assert isinstance(result, SkipReason) and "nightly" in result.skip_message
    # A success for the state (e.g. a manual re-run): nothing more to do.
    create_run_for_test(instance, job_name="refresh", status=DagsterRunStatus.SUCCESS,
                        tags={DIGEST_TAG: digest})
    result, _ = _tick(raw_area, instance, cursor)
    assert isinstance(result, SkipReason) and "unchanged" in result.skip_message


def test_nightly_schedule_skips_when_nothing_is_new(area):
    raw, raw_area, _ = area
    _file(raw, "a.csv", 100)
    with instance_for_test() as instance:  # a schedule context needs a persistent instance
        _nightly(raw, raw_area, instance)


def _nightly(raw, raw_area, instance):
    with build_schedule_context(instance=instance, resources={"raw_area": raw_area}) as ctx:
        _nightly_ticks(raw, instance, ctx)


def _nightly_ticks(raw, instance, ctx):
    request = nightly_refresh(ctx)
    assert isinstance(request, RunRequest)
    assert request.tags[DIGEST_TAG] == state_digest(scan_raw_area(raw)) and request.run_key is None
    create_run_for_test(instance, job_name="refresh", status=DagsterRunStatus.SUCCESS,
                        tags={DIGEST_TAG: request.tags[DIGEST_TAG]})
    skip = nightly_refresh(ctx)
    assert isinstance(skip, SkipReason) and "nothing new" in skip.skip_message
    assert nightly_refresh.cron_schedule == "0 2 * * *"
    assert nightly_refresh.execution_timezone == "Asia/Shanghai"


def test_running_by_default_only_in_production():
    code = ("from pipelines.definitions import defs; r = defs.get_repository_def(); "
            "print(r.get_sensor_def('raw_area_sensor').default_status.value, "
            "r.get_schedule_def('nightly_refresh').default_status.value, "
            "r.get_sensor_def('raw_area_sensor').minimum_interval_seconds)")
    for env, expected in (("production", "RUNNING RUNNING 30"), ("", "STOPPED STOPPED 30")):
        e = {k: v for k, v in os.environ.items() if not k.startswith("TOWNSTAT_")}
        e["TOWNSTAT_ENV"] = env
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=e, capture_output=True,
                             text=True, timeout=120)
        assert out.stdout.strip() == expected, out.stderr
