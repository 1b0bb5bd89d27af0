"""A report written from the published frames equals the one read back from the warehouse."""

from __future__ import annotations

import re

import polars as pl
from openpyxl import load_workbook

from pipelines.defs.reports import REPORT_TABLES
from pipelines.reports.dashboard import write_dashboard
from pipelines.reports.quality_report import write_quality_report
from pipelines.reports.workbook import write_evaluation_workbook
from pipelines.warehouse.read import read_table


def _frames(url: str) -> dict[str, pl.DataFrame]:
    """The tables as the pipeline stages them: rows in another order, timestamps naive."""
    out = {}
    for name in REPORT_TABLES:
        df = read_table(url, name).reverse()
        out[name] = df.with_columns(pl.col(c).dt.replace_time_zone(None) for c, t in df.schema.items()
                                    if isinstance(t, pl.Datetime))
    return out


def _strip_generated(html: str) -> str:
    # the generation time and plotly's random element ids differ between two writes
    html = re.sub(r"generated [^<·]*", "generated ", html)
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", html)


def test_reports_from_frames_equal_reports_from_the_warehouse(county_url, tmp_path):
    frames = _frames(county_url)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    qa = write_quality_report(county_url, a / "quality.html").read_text(encoding="utf-8")
    qb = write_quality_report(frames, b / "quality.html").read_text(encoding="utf-8")
    assert "拒收" in qa and _strip_generated(qa) == _strip_generated(qb)
    da = write_dashboard(county_url, a / "dashboard.html").read_text(encoding="utf-8")
    db = write_dashboard(frames, b / "dashboard.html").read_text(encoding="utf-8")
    assert _strip_generated(da) == _strip_generated(db)
    year = int(frames["eval_specialty_town"]["year"].max())
    wa = load_workbook(write_evaluation_workbook(county_url, year, a / "e.xlsx"))
    wb = load_workbook(write_evaluation_workbook(frames, year, b / "e.xlsx"))
    assert wa.sheetnames == wb.sheetnames
    for name in wa.sheetnames:
        va = [[c.value for c in row] for row in wa[name].iter_rows()]
        vb = [[c.value for c in row] for row in wb[name].iter_rows()]
        assert va == vb, name
