"""The reports a run writes into the reports folder, in the two parts that go beside other work.

The quality report and the dashboard are written by the run's own thread; the evaluation
workbook (of the latest evaluated year) by the run's worker process (`run_worker.py`), which
the run hands it to while its own thread does something else: `reports/drafts.py` says when.
At province scale the two parts take about as long: the quality report 1.7 s and the
dashboard 1.0 s, against the workbook's 2.4 s.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from pipelines.lazy import Frame, ReadWhenAsked, lazy
from pipelines.reports.dashboard import write_dashboard
from pipelines.reports.quality_report import write_quality_report
from pipelines.reports.workbook import write_evaluation_workbook

QUALITY = "quality.html"
DASHBOARD = "dashboard.html"


def latest_year(frames: Mapping[str, Frame]) -> int | None:
    """The workbook's year: the latest in `eval_specialty_town` (None: nothing evaluated)."""
    year = lazy(frames["eval_specialty_town"]).select(pl.col("year").max()).collect().item()
    return None if year is None else int(year)


def write_quality_and_dashboard(frames: Mapping[str, Frame], folder: str | Path,
                                snapshot: str | Path | None = None) -> dict[str, Path]:
    """The quality report (compared with the `snapshot` of the last one, by default the one in
    `folder`) and the dashboard; a scan is read here, when a report asks for its table."""
    tables = ReadWhenAsked(frames)
    folder = Path(folder)
    return {"quality_report": write_quality_report(tables, folder / QUALITY,
                                                   previous=None if snapshot is None else Path(snapshot)),
            "dashboard": write_dashboard(tables, folder / DASHBOARD)}


def write_workbook(frames: Mapping[str, Frame], folder: str | Path, year: int | None) -> dict[str, Path]:
    """The evaluation workbook of `year` (nothing when no year was evaluated); a scan is read
    here, when the workbook asks for its table (not the 620,000 rejected rows beside them)."""
    if year is None:
        return {}
    tables = ReadWhenAsked(frames)
    return {"workbook": write_evaluation_workbook(tables, year, Path(folder) / f"evaluation_{year}.xlsx")}
