"""The reports written by the run's worker process, from scans of Parquet files, are the ones
written in process from the warehouse's tables (issue 16)."""

from __future__ import annotations

import re

import openpyxl
import polars as pl
import pytest
from county_warehouse import county_warehouse

from pipelines import run_worker
from pipelines.defs.reports import REPORT_TABLES
from pipelines.reports.bureau import latest_year, write_quality_and_dashboard, write_workbook
from pipelines.warehouse import read_table


def _cells(path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [tuple(c.value for c in row) for row in ws.iter_rows()] for ws in wb.worksheets}


def _page(path) -> str:
    # the moment of writing is the one thing allowed to differ
    return re.sub(r"generated \d{4}-\d\d-\d\dT[\d:+]+", "generated T", path.read_text(encoding="utf-8"))


def test_written_beside_as_in_process(request, worker, tmp_path):
    url = county_warehouse(request, "sqlite")
    tables = {name: read_table(url, name) for name in REPORT_TABLES}
    staged = tmp_path / "staged"
    staged.mkdir()
    for name, frame in tables.items():
        frame.write_parquet(staged / f"{name}.parquet")
    scans = {name: pl.scan_parquet(staged / f"{name}.parquet") for name in REPORT_TABLES}
    year = latest_year(scans)
    assert year == int(tables["eval_specialty_town"]["year"].max())
    here = {**write_quality_and_dashboard(tables, tmp_path / "here"), **write_workbook(tables, tmp_path / "here", year)}
    there = {}
    for write, args in ((write_quality_and_dashboard, ()), (write_workbook, (year,))):
        future = run_worker.submit(write, scans, tmp_path / "there", *args)
        assert future is not None
        done, part = run_worker.result(future)
        assert done
        there.update(part)
    assert sorted(there) == sorted(here) == ["dashboard", "quality_report", "workbook"]
    assert there["workbook"] == tmp_path / "there" / f"evaluation_{year}.xlsx"
    assert _page(there["dashboard"]) == _page(here["dashboard"])
    assert _page(there["quality_report"]) == _page(here["quality_report"])
    assert _cells(there["workbook"]) == _cells(here["workbook"])


def test_no_year_evaluated_no_workbook(tmp_path):
    empty = {"eval_specialty_town": pl.LazyFrame(schema={"year": pl.Int32})}
    assert latest_year(empty) is None
    assert write_workbook(empty, tmp_path, None) == {}
    assert list(tmp_path.iterdir()) == []


def test_a_table_is_read_only_when_a_report_asks_for_it(tmp_path):
    from pipelines.lazy import ReadWhenAsked

    pl.DataFrame({"x": [1, 2]}).write_parquet(tmp_path / "a.parquet")
    pl.DataFrame({"x": [3]}).write_parquet(tmp_path / "b.parquet")
    frames = {"a": pl.scan_parquet(tmp_path / "a.parquet"), "b": pl.scan_parquet(tmp_path / "b.parquet")}
    (tmp_path / "b.parquet").unlink()  # reading b now fails: so it must not be read
    tables = ReadWhenAsked(frames)
    assert tables["a"]["x"].to_list() == [1, 2]
    assert "b" in tables and sorted(tables) == ["a", "b"] and len(tables) == 2
    assert tables["a"] is tables["a"]  # read once
    with pytest.raises(FileNotFoundError):
        tables["b"]
