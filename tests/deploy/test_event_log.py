"""The shipped instance's event log (`pipelines/event_log.py`, issue 16): Dagster's own SQLite
files, written with connections kept open, read back by Dagster's own storage class."""

from __future__ import annotations

import sqlite3
import time

from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    EventRecordsFilter,
    Output,
    asset,
    materialize,
)
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines import event_log
from pipelines.event_log import PooledSqliteEventLogStorage
from pipelines.status import make_instance_folder


@asset(check_specs=[AssetCheckSpec("positive", asset="numbers_out")])
def numbers_out():
    yield Output([1, 2, 3])
    yield AssetCheckResult(check_name="positive", passed=True)


def _engine_event(run_id: str) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=20, user_message="", run_id=run_id, timestamp=time.time(),
                         dagster_event=DagsterEvent(DagsterEventType.ENGINE_EVENT.value, "job",
                                                    event_specific_data=EngineEventData()))


def test_the_shipped_instance_writes_what_dagster_reads(tmp_path, monkeypatch):
    home = make_instance_folder(tmp_path / "home")  # the shipped dagster.yaml
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        assert storage._base_dir == str(home / "history" / "runs")  # where Dagster keeps it
        result = materialize([numbers_out], instance=instance)
        assert result.success
        events = instance.all_logs(result.run_id)
    # the run's file and the index in SQLite's write-ahead mode, synced at checkpoints
    for name in (result.run_id, "index"):
        with sqlite3.connect(home / "history" / "runs" / f"{name}.db") as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    # a second method: an instance with Dagster's own storage class on the same files
    other = tmp_path / "plain"
    other.mkdir()
    (other / "dagster.yaml").write_text(
        "event_log_storage:\n  module: dagster._core.storage.event_log\n  class: SqliteEventLogStorage\n"
        f"  config:\n    base_dir: {home / 'history' / 'runs'}\ntelemetry:\n  enabled: false\n")
    with DagsterInstance.from_config(str(other)) as plain:
        assert type(plain.event_log_storage) is SqliteEventLogStorage
        again = plain.all_logs(result.run_id)
        assert [e.dagster_event_type for e in again] == [e.dagster_event_type for e in events]
        types = [e.dagster_event_type for e in again]
        assert types.count(DagsterEventType.ASSET_MATERIALIZATION) == 1
        assert types.count(DagsterEventType.ASSET_CHECK_EVALUATION) == 1
        assert types[-1] == DagsterEventType.RUN_SUCCESS
        # the cross-run index, which the UI and `townstat status` read
        records = plain.event_log_storage.get_event_records(
            EventRecordsFilter(DagsterEventType.ASSET_MATERIALIZATION, asset_key=AssetKey("numbers_out")))
        assert [r.event_log_entry.run_id for r in records] == [result.run_id]
        checks = plain.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey("numbers_out"), "positive"), limit=5)
        assert [(c.run_id, c.status.value) for c in checks] == [(result.run_id, "SUCCEEDED")]


def test_a_few_runs_kept_open_and_wipe_closes_them(tmp_path, monkeypatch):
    monkeypatch.setattr(event_log, "KEPT_RUNS", 2)
    storage = PooledSqliteEventLogStorage(str(tmp_path / "runs"))
    for run in ("a", "b", "c", "d"):
        storage.store_event(_engine_event(run))
        storage.store_event(_engine_event(run))
    # the index and the two runs written last
    assert list(storage._engines) == ["index", "c", "d"]
    storage.store_event(_engine_event("a"))  # a closed run's file opened again
    assert [len(storage.get_logs_for_run(r)) for r in "abcd"] == [3, 2, 2, 2]
    storage.wipe()
    assert storage._engines == {} or list(storage._engines) == ["index"]
    assert not (tmp_path / "runs" / "a.db").exists()
    storage.store_event(_engine_event("a"))  # a new file, not the deleted one still open
    assert len(storage.get_logs_for_run("a")) == 1
    assert len(SqliteEventLogStorage(str(tmp_path / "runs")).get_logs_for_run("a")) == 1
    storage.dispose()
    assert storage._engines == {}


def test_default_folder_follows_dagster_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    storage = PooledSqliteEventLogStorage.from_config_value(None, {})
    assert storage._base_dir == str(tmp_path / "elsewhere" / "history" / "runs")
    storage.dispose()
