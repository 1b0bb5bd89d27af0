"""Reports drafted while the run waits, moved into the reports folder after publication.

In the nightly province case the three reports took 4 s after publication, while the run's
thread had sat idle for 2.7 s waiting for the GX suite in the worker process, and the worker
sat idle while the run's thread published (issue 16, bench/README.md). So:

- while the worker runs the suite, the run's thread drafts the quality report and the
  dashboard (`SUITE_PART`);
- when the suite passed, the worker drafts the workbook while the run's thread publishes
  (`PUBLICATION_PART`);
- after publication, `bureau_reports` moves the drafts into the reports folder (a rename a
  file) and writes itself what was not drafted (no worker, a worker that died, the suite off,
  steps run in separate processes).

A draft is made of the same staged frames as a report written after publication, so it is
the same report (`tests/reports/test_report_drafts.py`). Drafts live in
`<reports>/.draft-<run id>/<part>/`; nothing reaches the folder people read before the
warehouse holds the tables. A part counts only once its `done.json` (its files) is written.
A run whose suite fails removes its draft at once; one stopped otherwise before publication
leaves it, and the next run's drafting removes it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path

from pipelines import run_worker
from pipelines.lazy import Frame
from pipelines.reports.bureau import write_quality_and_dashboard, write_workbook
from pipelines.reports.quality_report import SNAPSHOT_NAME

PREFIX = ".draft-"
DONE = "done.json"
#: The two parts of a run's reports, by what they are drafted beside (said above).
SUITE_PART, PUBLICATION_PART = "beside_suite", "beside_publication"
PARTS = (SUITE_PART, PUBLICATION_PART)

_pending: dict[str, Future] = {}  # run id -> the worker's draft of the workbook


def _folder(root: Path, run_id: str) -> Path:
    """The run's drafts."""
    return root / f"{PREFIX}{run_id}"


def _part(root: Path, run_id: str, part: str) -> Path:
    return _folder(root, run_id) / part


def _finish(folder: Path, written: Mapping[str, Path]) -> dict[str, str]:
    """Stamp a part whole: `done.json` names its reports' files."""
    names = {k: Path(v).name for k, v in written.items()}
    (folder / DONE).write_text(json.dumps(names), encoding="utf-8")
    return names


def begin(root: Path, run_id: str) -> None:
    """Remove the drafts of earlier runs (stopped before publication)."""
    if root.is_dir():
        for old in root.glob(f"{PREFIX}*"):
            if old != _folder(root, run_id):
                shutil.rmtree(old, ignore_errors=True)


def discard(root: Path, run_id: str) -> None:
    """Remove this run's drafts (its suite failed: nothing is published or reported)."""
    shutil.rmtree(_folder(root, run_id), ignore_errors=True)


def draft_beside_suite(frames: Mapping[str, Frame], root: Path, run_id: str) -> None:
    """The quality report (compared with the snapshot now in the reports folder, the one a
    report written after publication would compare with) and the dashboard of `frames`."""
    folder = _part(root, run_id, SUITE_PART)
    folder.mkdir(parents=True, exist_ok=True)
    _finish(folder, write_quality_and_dashboard(frames, folder, root / SNAPSHOT_NAME))


def _draft_workbook(frames: Mapping[str, Frame], folder: str, year: int | None) -> dict[str, str]:
    """In the worker: the workbook drafted, then stamped."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return _finish(Path(folder), write_workbook(frames, folder, year))


def draft_beside_publication(frames: Mapping[str, Frame], root: Path, run_id: str, year: int | None) -> bool:
    """Hand the workbook to the run's worker and return at once (False: no worker; it is
    written after publication)."""
    future = run_worker.submit(_draft_workbook, dict(frames), str(_part(root, run_id, PUBLICATION_PART)), year)
    if future is None:
        return False
    _pending[run_id] = future
    return True


def take(root: Path, run_id: str, warn: Callable[[str], object] = print) -> tuple[dict[str, Path], set[str]]:
    """Move this run's finished drafts into `root`: (report -> its path there, the parts not
    drafted, for the caller to write). Waits for the worker's part when it is still drafting."""
    future = _pending.pop(run_id, None)
    if future is not None:
        try:
            run_worker.result(future)  # (False, None) when the worker died: its part is missing
        except Exception as exc:  # noqa: BLE001 - a draft that failed is written again after publication
            warn(f"报告草稿失败，发布后重写 / a report draft failed and is written again: {exc}")
    written: dict[str, Path] = {}
    missing = set()
    for part in PARTS:
        folder = _part(root, run_id, part)
        stamp = folder / DONE
        if not stamp.is_file():
            missing.add(part)
            continue
        names = json.loads(stamp.read_text(encoding="utf-8"))
        for f in sorted(folder.iterdir()):
            if f.name != DONE:
                f.replace(root / f.name)
        written.update({k: root / name for k, name in names.items()})
    discard(root, run_id)
    return written, missing
