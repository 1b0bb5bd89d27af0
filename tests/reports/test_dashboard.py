"""The dashboard, rendered in a real headless Chromium (Debian's ``chromium`` package)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from pipelines.reports.dashboard import build_figures, write_dashboard
from pipelines.warehouse import read_table

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--virtual-time-budget=10000"]


def _chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        pytest.fail("headless Chromium is required for the dashboard test and was not found: "
                    "install it with `apt-get update && apt-get install -y chromium`",
                    pytrace=False)
    return path


def _run(args: list[str], tmp: Path, what: str) -> subprocess.CompletedProcess:
    return subprocess.run([_chromium(), *FLAGS, f"--user-data-dir={tmp / ('profile-' + what)}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_dashboard_renders_every_chart_offline(county_url, tmp_path):
    out = write_dashboard(county_url, tmp_path / "dashboard.html")
    source = out.read_text(encoding="utf-8")
    # offline: no CDN, plotly.js inlined
    assert not re.search(r"""<script[^>]+src=["']?https?://""", source)
    assert "Plotly.newPlot" in source and source.count("<script") == 1 + 8  # plotly.js + a call per chart
    n_charts = source.count('<div class="chart"')
    assert n_charts == 8
    url = out.as_uri()

    dom = _run(["--dump-dom", url], tmp_path, "dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert len(re.findall(r'class="[^"]*\bjs-plotly-plot\b', html)) == n_charts
    for name in ("town_output", "town_enterprises", "thresholds", "specialty_output",
                 "specialty_score", "town_trend", "target_progress", "gap"):
        block = html.split(f'id="chart-{name}"')[1].split('data-chart=')[0]
        assert 'class="main-svg"' in block, name
    assert html.count('class="main-svg"') >= n_charts
    # the charts carry the data: one bar per year in the first chart, the Chinese titles
    years = read_table(county_url, "pub_town_year")["year"].n_unique()
    first = html.split('id="chart-town_output"')[1].split('data-chart=')[0]
    assert first.count('class="trace bars"') == years
    assert "各乡镇工业总产值" in html and "专业镇综合得分趋势" in html
    # the goals: a bar per target of the latest target year, or the note when there is no target
    targets = read_table(county_url, "eval_target")
    block = html.split('id="chart-target_progress"')[1].split('data-chart=')[0]
    if targets.height:
        assert block.count('class="trace bars"') == 1 and "年度目标进度" in block
    else:
        assert "尚无目标 / no targets yet" in block and 'class="trace bars"' not in block
    # the gap: a bar group per indicator the first criteria set reads, in the latest year
    gap = read_table(county_url, "eval_gap")
    first = gap.filter((pl.col("year") == gap["year"].max())
                       & (pl.col("criteria_set") == gap["criteria_set"].min()))
    block = html.split('id="chart-gap"')[1].split('data-chart=')[0]
    assert gap.height and block.count('class="trace bars"') == first["indicator"].n_unique()
    assert "认定差距" in block

    shot = tmp_path / "dashboard.png"
    log = _run(["--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1400,2000",
                url], tmp_path, "shot")
    assert shot.exists() and shot.stat().st_size > 50_000, log.stderr[-2000:]
    console = [line for line in log.stderr.splitlines() if "CONSOLE" in line]
    errors = [line for line in console if re.search(r"error|uncaught|failed", line, re.I)]
    assert not errors, errors


def test_threshold_chart_ratios_equal_value_over_threshold(county_url):
    figs = dict(build_figures(county_url))
    crit = read_table(county_url, "eval_criterion")
    latest = crit["year"].max()
    part = crit.filter((pl.col("year") == latest) & (pl.col("criteria_set") == "municipal_yuncheng"))
    names = dict(read_table(county_url, "dim_specialty_town").select("id", "name").iter_rows())
    scale = {names[r["specialty_town_id"]]: r["value"] / r["threshold"]
             for r in part.filter(pl.col("criterion") == "scale").iter_rows(named=True)}
    trace = next(t for t in figs["thresholds"].data if t.name == "产业规模")
    got = dict(zip(trace.x, trace.y, strict=True))
    assert got == pytest.approx(scale)
