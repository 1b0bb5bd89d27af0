"""The run's worker process ends with the process that started it, without tearing down its
interpreter (that teardown, of GX, pandas and plotly, had kept the run's process waiting)."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PARENT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {root!r})
    from pipelines import run_worker
    from tests.deploy.test_run_worker import leave_marker

    if __name__ == "__main__":
        run_worker.start(gx=False)
        done, pid = run_worker.result(run_worker.submit(leave_marker, {marker!r}))
        assert done
        print(pid, flush=True)
""")


class _Marker:
    """Writes its file when finalised: at an interpreter's teardown, not at os._exit."""

    def __init__(self, path: str):
        self.path = path

    def __del__(self) -> None:
        Path(self.path).write_text("torn down", encoding="utf-8")


_kept: list[_Marker] = []


def leave_marker(path: str) -> int:
    """In the worker: an object that only an interpreter teardown finalises; its pid."""
    import os

    _kept.append(_Marker(path))
    return os.getpid()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_worker_ends_without_teardown_when_its_process_ends(tmp_path):
    marker = tmp_path / "marker"
    script = tmp_path / "parent.py"
    script.write_text(PARENT.format(root=str(ROOT), marker=str(marker)), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    worker = int(done.stdout.split()[0])
    assert worker > 0
    assert not _alive(worker)  # the parent's exit waited for the worker to be gone
    assert not marker.exists()  # and the worker skipped its interpreter's teardown


def test_marker_is_written_by_a_normal_teardown(tmp_path):
    """The check above can fail: the same object in a process that ends normally writes it."""
    marker = tmp_path / "marker"
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            f"from tests.deploy.test_run_worker import leave_marker; leave_marker({str(marker)!r})")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=tmp_path)
    assert marker.read_text(encoding="utf-8") == "torn down"
