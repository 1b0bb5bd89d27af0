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


_CYCLE = """
import sys
sys.path.insert(0, {root!r})
from pipelines import preload


class Cycle:
    # only the interpreter's final garbage collection finalises it: it refers to itself and is
    # kept by a module global until the modules are cleared
    def __init__(self, path):
        self.path, self.me = path, self

    def __del__(self, _open=open):
        _open(self.path, "w").write("collected")


if __name__ == "__main__":
    if {preload!r}:
        preload.preload_slow_imports(False)
    kept = Cycle({marker!r})
"""


def test_a_run_process_skips_its_final_garbage_collection(tmp_path):
    """The run's process ends without walking everything it made (0.9 s after a province night,
    measured): `gc.freeze()` at exit. Without the preload the same cycle is collected at exit."""
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    for started in (False, True):
        marker = tmp_path / f"marker-{started}"
        script = tmp_path / f"run-{started}.py"
        script.write_text(_CYCLE.format(root=root, preload=started, marker=str(marker)), encoding="utf-8")
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert marker.exists() is (not started), (started, done.stderr)
