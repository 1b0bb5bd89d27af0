"""Reports drafted beside the GX suite and publication, moved in after publication (issue 16):
the same reports as those written after publication, and nothing in the reports folder before."""

from __future__ import annotations

import json
import re

import openpyxl
import polars as pl
from county_warehouse import county_warehouse
from dagster import DagsterEventType

from pipelines import run_worker
from pipelines.defs.reports import REPORT_TABLES
from pipelines.refresh import run_refresh
from pipelines.reports import drafts
from pipelines.reports.bureau import (
    QUALITY,
    latest_year,
    write_quality_and_dashboard,
    write_workbook,
)
from pipelines.reports.quality_report import REJECTED_CSV, SNAPSHOT_NAME, write_quality_report
from pipelines.status import open_instance
from pipelines.warehouse import read_table
from tests.ingest.rawfiles import TONGCHENG, uscc, write_csv


def _page(path) -> str:
    # the moment of writing is the one thing allowed to differ
    return re.sub(r"generated \d{4}-\d\d-\d\dT[\d:+]+", "generated T", path.read_text(encoding="utf-8"))


def _cells(path) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: [tuple(c.value for c in row) for row in ws.iter_rows()] for ws in wb.worksheets}


def _staged(tables: dict[str, pl.DataFrame], folder) -> dict[str, pl.LazyFrame]:
    folder.mkdir()
    for name, frame in tables.items():
        frame.write_parquet(folder / f"{name}.parquet")
    return {name: pl.scan_parquet(folder / f"{name}.parquet") for name in tables}


def test_drafts_moved_in_equal_reports_written_after(request, worker, tmp_path):
    url = county_warehouse(request, "sqlite")
    tables = {name: read_table(url, name) for name in REPORT_TABLES}
    scans = _staged(tables, tmp_path / "staged")
    year = latest_year(scans)
    root = tmp_path / "reports"
    # last night's reports: the snapshot the quality report compares with, one file less
    last = tables["dq_file"].head(tables["dq_file"].height - 1)
    write_quality_report({**tables, "dq_file": last}, root / QUALITY)
    before = {p.name: p.read_bytes() for p in root.iterdir()}
    (root / ".draft-earlier-run" / "quality").mkdir(parents=True)  # a run stopped before publication

    drafts.begin(root, "run-b")
    assert not (root / ".draft-earlier-run").exists()
    drafts.draft_beside_suite(scans, root, "run-b")
    assert drafts.draft_beside_publication(scans, root, "run-b", year)
    # nothing reaches the folder people read before `take`
    assert {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()} == before
    written, missing = drafts.take(root, "run-b")
    assert missing == set()
    assert written == {"quality_report": root / QUALITY, "dashboard": root / "dashboard.html",
                       "workbook": root / f"evaluation_{year}.xlsx"}
    assert not [p for p in root.iterdir() if p.name.startswith(".draft-")]

    # the same reports, written after publication the way the run wrote them before drafts
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / SNAPSHOT_NAME).write_bytes(before[SNAPSHOT_NAME])
    write_quality_and_dashboard(tables, ref)
    write_workbook(tables, ref, year)
    assert _page(root / QUALITY) == _page(ref / QUALITY)
    assert (root / REJECTED_CSV).read_bytes() == (ref / REJECTED_CSV).read_bytes()
    snapshots = [json.loads((f / SNAPSHOT_NAME).read_text(encoding="utf-8")) for f in (root, ref)]
    for snap in snapshots:  # the moment of writing may differ
        assert snap.pop("generated_at")
    assert snapshots[0] == snapshots[1]
    assert _page(root / "dashboard.html") == _page(ref / "dashboard.html")
    assert _cells(root / f"evaluation_{year}.xlsx") == _cells(ref / f"evaluation_{year}.xlsx")
    # and the draft did compare with last night's snapshot: without it the page differs
    alone = tmp_path / "alone"
    write_quality_report(tables, alone / QUALITY)
    assert _page(alone / QUALITY) != _page(root / QUALITY)


def test_undrafted_and_unfinished_parts_are_left_to_the_caller(tmp_path):
    root = tmp_path / "reports"
    root.mkdir()
    assert drafts.take(root, "run-a") == ({}, {"beside_suite", "beside_publication"})
    # a part whose drafting stopped half-way (no done.json) is not moved in
    part = root / ".draft-run-a" / "beside_publication"
    part.mkdir(parents=True)
    (part / "evaluation_2024.xlsx").write_text("half", encoding="utf-8")
    quality = root / ".draft-run-a" / "beside_suite"
    quality.mkdir()
    (quality / QUALITY).write_text("whole", encoding="utf-8")
    (quality / "done.json").write_text(json.dumps({"quality_report": QUALITY}), encoding="utf-8")
    written, missing = drafts.take(root, "run-a")
    assert written == {"quality_report": root / QUALITY} and missing == {"beside_publication"}
    assert (root / QUALITY).read_text(encoding="utf-8") == "whole"
    assert sorted(p.name for p in root.iterdir()) == [QUALITY]


def _materialisations(run_id: str) -> dict[str, dict]:
    with open_instance() as instance:
        records = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    return {r.dagster_event.asset_key.to_user_string(): r.dagster_event.event_specific_data.materialization.metadata
            for r in records}


def test_a_refresh_drafts_its_reports_and_a_failed_suite_leaves_none(tmp_path, monkeypatch, project_instance):
    raw = tmp_path / "raw"
    write_csv(raw / "enterprise" / "2024.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数,专利授权数",
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,100,100,10,2"])
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    reports = tmp_path / "r"
    monkeypatch.setenv("TOWNSTAT_GX", "on")
    monkeypatch.setattr(run_worker, "_pool", None)
    import pipelines.preload as preload

    monkeypatch.setattr(preload, "_started", type(preload._started)())
    try:
        first = run_refresh(raw, url, cache_dir=str(tmp_path / "cache"), reports_dir=str(reports))
        assert first.published and not first.failed_checks
        assert run_worker.started()
        meta = _materialisations(first.run_id)
        assert meta["dq/expectations"]["reports_drafted_beside_publication"].value is True
        assert meta["reports/bureau"]["drafted_before_publication"].value == ["beside_suite", "beside_publication"]
        assert {QUALITY, "dashboard.html", REJECTED_CSV, SNAPSHOT_NAME} <= {p.name for p in reports.iterdir()}
        assert not [p for p in reports.iterdir() if p.name.startswith(".draft-")]
        # the run's one file, read whole, in the snapshot moved in
        files = json.loads((reports / SNAPSHOT_NAME).read_text(encoding="utf-8"))
        assert "enterprise/2024.csv" in json.dumps(files, ensure_ascii=False)
        before = {p.name: p.stat().st_mtime_ns for p in reports.iterdir() if p.is_file()}

        import pipelines.defs.indicators as ind

        real = ind.town_year
        monkeypatch.setattr(ind, "town_year", lambda *a: real(*a).with_columns(
            pl.lit(-1, dtype=pl.Int64).alias("patents_granted")))
        second = run_refresh(raw, url, cache_dir=str(tmp_path / "cache"), reports_dir=str(reports))
        assert not second.published
        assert "dq/expectations:critical_expectations" in second.failed_checks
        # no report of the rejected tables: neither moved in nor left as a draft
        assert {p.name: p.stat().st_mtime_ns for p in reports.iterdir() if p.is_file()} == before
        assert not [p for p in reports.iterdir() if p.name.startswith(".draft-")]
    finally:
        run_worker.stop()
