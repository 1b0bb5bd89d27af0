"""A run of the Dagster job starts the slow imports at once, as `townstat refresh` does (issue 16):
the sensor's and the schedule's runs do not wait 5 s for Great Expectations in the suite's step.
GX is imported by the run's worker process, not by a thread of the run's own process."""

from types import SimpleNamespace

from dagster import build_resources

from pipelines import preload, run_worker
from pipelines.defs.resources import Reports


def test_the_reports_resource_starts_the_preload_once(tmp_path, monkeypatch):
    monkeypatch.setattr(preload, "_started", type(preload._started)())  # a fresh process's state
    started, workers, imported = [], [], []
    monkeypatch.setattr(preload, "threading", SimpleNamespace(Thread=lambda target, daemon, name: SimpleNamespace(
        start=lambda: started.append((name, daemon, target)))))
    monkeypatch.setattr(run_worker, "start", lambda gx: workers.append(("run worker", gx)))
    with build_resources({"reports": Reports(path=str(tmp_path), expectations=True)}):
        pass
    assert [(n, d) for n, d, _ in started] == [("townstat-preload", True)]
    assert workers == [("run worker", True)]  # the run's worker process, which imports GX
    monkeypatch.setattr(preload, "importlib", SimpleNamespace(import_module=imported.append))
    started[0][2]()  # the thread's work: the ADBC driver only
    assert imported == ["adbc_driver_sqlite.dbapi"]
    preload.preload_slow_imports(True)  # a second call in the same process: nothing more
    assert len(started) == 1 and len(workers) == 1


def test_no_gx_import_when_the_suite_is_off(tmp_path, monkeypatch):
    monkeypatch.setattr(preload, "_started", type(preload._started)())
    imported = []
    monkeypatch.setattr(preload, "importlib", SimpleNamespace(import_module=imported.append))
    monkeypatch.setattr(preload, "threading", SimpleNamespace(
        Thread=lambda target, daemon, name: SimpleNamespace(start=lambda: (imported.append("thread"), target()))))
    monkeypatch.setattr(run_worker, "start", lambda gx: imported.append(("run worker", gx)))
    with build_resources({"reports": Reports(path=str(tmp_path), expectations=False)}):
        pass
    # the modules the run's own thread shares with GX first, in the caller's thread; then the
    # thread, which imports the ADBC driver; the run's worker, with the suite off, without GX
    assert imported == ["sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql",
                        "thread", "adbc_driver_sqlite.dbapi", ("run worker", False)]
