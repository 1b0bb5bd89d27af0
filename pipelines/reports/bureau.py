"""The reports a run writes into the reports folder, and which of them go beside the others.

The quality report is written by the run's own thread; the dashboard and the evaluation
workbook (of the latest evaluated year) by the run's worker process meanwhile
(`run_worker.py`), or after it by the same thread when there is no worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from pipelines import run_worker
from pipelines.lazy import Frame, lazy
from pipelines.reports.dashboard import write_dashboard
from pipelines.reports.workbook import write_evaluation_workbook

QUALITY = "quality.html"
DASHBOARD = "dashboard.html"


def latest_year(frames: Mapping[str, Frame]) -> int | None:
    """The workbook's year: the latest in `eval_specialty_town` (None: nothing evaluated)."""
    year = lazy(frames["eval_specialty_town"]).select(pl.col("year").max()).collect().item()
    return None if year is None else int(year)


def write_dashboard_and_workbook(frames: Mapping[str, Frame], root: str | Path,
                                 year: int | None) -> dict[str, Path]:
    """The dashboard and, when a year was evaluated, its workbook; scans are read here."""
    tables = run_worker.collected(frames)
    root = Path(root)
    written = {"dashboard": write_dashboard(tables, root / DASHBOARD)}
    if year is not None:
        written["workbook"] = write_evaluation_workbook(tables, year, root / f"evaluation_{year}.xlsx")
    return written
