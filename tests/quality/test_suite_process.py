"""The GX suite in the run's worker process gives what it gives in process (issue 16: the
import of GX moved off the run's GIL), reads scans of staged Parquet itself, and survives the
worker's death."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
from county_warehouse import county_warehouse  # noqa: E402

from pipelines import run_worker  # noqa: E402
from pipelines.quality import suite_process  # noqa: E402
from pipelines.quality.staging import REBUILT_MESSAGE, validate_staged  # noqa: E402
from pipelines.warehouse import read_table  # noqa: E402

TABLES = ["dim_town", "dim_specialty_town", "fact_enterprise_year", "ind_town_year",
          "ind_specialty_town_year", "eval_criterion", "eval_specialty_town", "pub_town_year",
          "dq_file", "dq_rejected_row", "dq_flag"]


@pytest.fixture()
def worker(monkeypatch):
    """A worker of this test's own (the process's usual one, if any, is put back after)."""
    monkeypatch.setattr(run_worker, "_pool", None)
    run_worker.start(gx=True)
    assert run_worker.started()
    yield suite_process
    run_worker.stop()


@pytest.fixture(scope="module")
def county_frames(request) -> dict[str, pl.DataFrame]:
    url = county_warehouse(request, "sqlite")
    return {name: read_table(url, name) for name in TABLES}


def _damaged(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The county's tables with one more town, a letter in its code: a critical failure."""
    towns = frames["dim_town"]
    return {**frames, "dim_town": pl.concat([towns, towns.head(1).with_columns(town_code=pl.lit("14082399X"))])}


def test_the_worker_gives_the_in_process_result(worker, county_frames, tmp_path):
    frames = _damaged(county_frames)
    said_here: list[str] = []
    here = validate_staged(frames, tmp_path / "c1", tmp_path / "d1", warn=said_here.append)
    # the largest table crosses as a scan of a Parquet file, read in the worker
    staged = tmp_path / "dq_rejected_row.parquet"
    frames["dq_rejected_row"].write_parquet(staged)
    said_there: list[str] = []
    there = worker.validate({**frames, "dq_rejected_row": pl.scan_parquet(staged)}, tmp_path / "c2",
                            tmp_path / "d2", warn=said_there.append)
    # worked out independently: the code with a letter is the one critical failure
    assert here.critical_failed == ["dim_town.town_code.nine_digits"]
    assert there.critical_failed == here.critical_failed and there.warnings == here.warnings
    assert there.results == here.results and len(there.results) == len(here.results) > 100
    # a critical failure on a kept copy is checked again on a fresh one, in both places
    assert said_there == said_here and len(said_here) == 1 and said_here[0].startswith(REBUILT_MESSAGE)
    assert sorted(p.relative_to(tmp_path / "d2") for p in (tmp_path / "d2").rglob("*.html")) \
        and (tmp_path / "d2" / "index.html").exists()
    assert (tmp_path / "c2" / "gx-staging.sqlite").exists()  # the worker used the cache it was given


def test_relative_folders_are_the_callers(worker, county_frames, tmp_path, monkeypatch):
    # the worker started in another working folder: "cache" and "docs" are the caller's
    monkeypatch.chdir(tmp_path)
    result = worker.validate(county_frames, "cache", Path("docs"), warn=print)
    assert result.critical_failed == []
    assert (tmp_path / "cache" / "gx-staging.sqlite").exists() and (tmp_path / "docs" / "index.html").exists()


def test_a_dead_worker_leaves_the_suite_to_this_process(worker, county_frames, tmp_path):
    worker.validate(county_frames, None, tmp_path / "d0", warn=print)  # the worker is up
    for pid in list(run_worker._pool._processes):
        os.kill(pid, signal.SIGKILL)
    said: list[str] = []
    result = worker.validate(_damaged(county_frames), None, tmp_path / "d1", warn=said.append)
    # the worker's loss said first, then what the suite says of a critical failure
    assert said[0] == suite_process.WORKER_LOST and len(said) == 2 and said[1].startswith(REBUILT_MESSAGE)
    assert result.critical_failed == ["dim_town.town_code.nine_digits"]
    assert not run_worker.started()  # later calls run here, without waiting for a dead process
