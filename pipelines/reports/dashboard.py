"""An offline HTML dashboard of the indicators and the evaluation (plotly, JS inlined).

``write_dashboard(url, out)`` writes one self-contained HTML file: plotly.js is inlined once
in the page head (no CDN, no network), followed by the charts, each in a
``<div class="chart" data-chart="...">``:

1. ``town_output``       各乡镇工业总产值（万元，分年度）— published ``pub_town_year``
2. ``town_enterprises``  各乡镇企业数（分年度）— published ``pub_town_year``
3. ``thresholds``        专业镇各项认定标准达标比（指标值/门槛）— ``eval_criterion``, latest year,
                         one panel per criteria set is not needed: the first set is shown
4. ``specialty_output``  专业镇总产值趋势（万元）— ``ind_specialty_town_year``
5. ``specialty_score``   专业镇综合得分趋势 — ``eval_specialty_town``
6. ``town_trend``        各乡镇参保人数趋势 — published ``pub_town_year``

Money is shown in 万元. Suppressed (NULL) published cells are simply absent from a bar.

Safe to open (contract v4 section 9): plotly writes the figures as JSON with ``<``, ``>`` and
``/`` escaped, but draws a label's ``<b>``, ``<a href>`` … as markup; every name taken from the
data (`_label`) is therefore HTML-escaped, and plotly shows it as the literal text.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs

from pipelines.reports.tables import TableSource, table_reader

WAN = 10_000.0
CRITERION_ZH = {"concentration": "产业集中度", "scale": "产业规模", "market": "市场占有率",
                "employment": "就业带动"}
FONT = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, WenQuanYi Micro Hei, sans-serif"

CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",Arial,sans-serif;margin:0;
 background:#f5f7fa;color:#1f2933}
header{background:#8b1a1a;color:#fff;padding:16px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.9;font-size:13px}
main{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px;padding:16px 28px}
@media (max-width:1000px){main{grid-template-columns:minmax(0,1fr)}}
.chart{background:#fff;border:1px solid #d9dee5;border-radius:6px;padding:8px;min-height:440px;min-width:0;overflow:hidden}
footer{padding:8px 28px 24px;color:#5f6b7a;font-size:12px}
"""


def _label(value: object) -> str:
    """A name from the data as a plotly label: escaped, so that plotly shows its characters and
    never reads them as markup (plotly decodes ``&lt;``, ``&gt;``, ``&amp;``, not ``&quot;``)."""
    return html.escape(str(value), quote=False)


def _layout(fig: go.Figure, title: str, ytitle: str) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.02}, font={"family": FONT, "size": 12},
                      yaxis_title=ytitle, legend={"orientation": "h", "y": -0.18},
                      margin={"l": 60, "r": 20, "t": 60, "b": 90}, height=440,
                      plot_bgcolor="#ffffff", paper_bgcolor="#ffffff")
    fig.update_yaxes(gridcolor="#e5e9ef", zerolinecolor="#c9d1db")
    return fig


def _town_bars(pub: pl.DataFrame, names: dict[str, str], col: str, scale: float,
               title: str, ytitle: str) -> go.Figure:
    fig = go.Figure()
    for year in sorted(pub["year"].unique().to_list()):
        part = pub.filter(pl.col("year") == year).sort("town_code")
        fig.add_trace(go.Bar(
            name=f"{year}年", x=[_label(names.get(c, c)) for c in part["town_code"]],
            y=[None if v is None else v / scale for v in part[col]]))
    fig.update_layout(barmode="group")
    return _layout(fig, title, ytitle)


def build_figures(url: TableSource) -> list[tuple[str, go.Figure]]:
    """The dashboard's charts, in page order, as (id, figure)."""
    read = table_reader(url)
    pub = read("pub_town_year")
    towns = read("dim_town")
    stowns = read("dim_specialty_town")
    crit = read("eval_criterion")
    ev = read("eval_specialty_town")
    ind_s = read("ind_specialty_town_year")
    tname = dict(towns.select("town_code", "town_name").iter_rows())
    sname = dict(stowns.select("id", "name").iter_rows())
    figs: list[tuple[str, go.Figure]] = []

    figs.append(("town_output", _town_bars(pub, tname, "output_value", WAN,
                                           "各乡镇工业总产值（万元，分年度；披露控制后）", "万元")))
    figs.append(("town_enterprises", _town_bars(pub, tname, "enterprises", 1.0,
                                                "各乡镇报表企业数（家，分年度）", "家")))

    # each specialty town against its thresholds: value / threshold per criterion, latest year
    fig = go.Figure()
    if crit.height:
        latest = crit["year"].max()
        first_set = sorted(crit["criteria_set"].unique().to_list())[0]
        part = crit.filter((pl.col("year") == latest) & (pl.col("criteria_set") == first_set))
        ids = sorted(part["specialty_town_id"].unique().to_list())
        for c in ["concentration", "scale", "market", "employment"]:
            sub = part.filter(pl.col("criterion") == c)
            if sub.height == 0:
                continue
            by = {r["specialty_town_id"]: r for r in sub.iter_rows(named=True)}
            ratios = [
                (by[i]["value"] / by[i]["threshold"]) if i in by and by[i]["value"] is not None
                and by[i]["threshold"] else None for i in ids]
            fig.add_trace(go.Bar(name=CRITERION_ZH.get(c, c), x=[_label(sname.get(i, i)) for i in ids],
                                 y=ratios, text=[None if r is None else f"{r:.2f}" for r in ratios],
                                 textposition="outside"))
        fig.add_hline(y=1.0, line_dash="dash", line_color="#c82333",
                      annotation_text="门槛 = 1", annotation_position="top left")
        title = f"{latest}年各专业镇认定标准达标比（指标值/门槛，{_label(first_set)}）"
    else:
        title = "各专业镇认定标准达标比（无评价数据）"
    fig.update_layout(barmode="group")
    figs.append(("thresholds", _layout(fig, title, "指标值 / 门槛")))

    fig = go.Figure()
    for sid in sorted(ind_s["specialty_town_id"].unique().to_list()):
        part = ind_s.filter(pl.col("specialty_town_id") == sid).sort("year")
        fig.add_trace(go.Scatter(name=_label(sname.get(sid, sid)), x=part["year"].to_list(),
                                 y=[v / WAN for v in part["output_value"]], mode="lines+markers"))
    fig.update_xaxes(dtick=1)
    figs.append(("specialty_output", _layout(fig, "专业镇总产值趋势（万元）", "万元")))

    fig = go.Figure()
    for (cs, sid), part in sorted(ev.sort("year").group_by(["criteria_set", "specialty_town_id"],
                                                             maintain_order=True),
                                  key=lambda kv: kv[0]):
        fig.add_trace(go.Scatter(name=_label(f"{sname.get(sid, sid)}（{cs}）"), x=part["year"].to_list(),
                                 y=part["score"].to_list(), mode="lines+markers"))
    fig.update_xaxes(dtick=1)
    fig.update_yaxes(range=[0, 100])
    figs.append(("specialty_score", _layout(fig, "专业镇综合得分趋势（0-100）", "得分")))

    fig = go.Figure()
    for code in sorted(pub["town_code"].unique().to_list()):
        part = pub.filter(pl.col("town_code") == code).sort("year")
        fig.add_trace(go.Scatter(name=_label(tname.get(code, code)), x=part["year"].to_list(),
                                 y=part["insured_persons"].to_list(), mode="lines+markers"))
    fig.update_xaxes(dtick=1)
    figs.append(("town_trend", _layout(fig, "各乡镇12月参保人数趋势（人）", "人")))
    return figs


def write_dashboard(url: TableSource, out: Path) -> Path:
    """Write the dashboard to ``out`` (one HTML file, plotly.js inlined); returns ``out``.

    ``url``: the warehouse, or the published frames by table name (`reports/tables.py`)."""
    read = table_reader(url)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figs = build_figures(url)
    dq_file = read("dq_file")
    mtime = dq_file["mtime"].max() if dq_file.height else None
    config = {"displaylogo": False, "responsive": True,
              "modeBarButtonsToRemove": ["sendDataToCloud"]}
    divs = []
    for i, (name, fig) in enumerate(figs):
        body = fig.to_html(full_html=False, include_plotlyjs=False, config=config,
                           div_id=f"chart-{name}", default_width="100%")
        divs.append(f'<div class="chart" data-chart="{name}" data-index="{i}">{body}</div>')
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    page = (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>专业镇统计监测看板 / Specialty-town dashboard</title>"
        f"<style>{CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        "<header><h1>专业镇统计监测看板 <span style='font-weight:normal;font-size:15px'>"
        "Specialty-town dashboard</span></h1>"
        f"<p>数据截至 / data as of {html.escape(str(mtime))} · 生成 / generated {now} · "
        "乡镇数据为披露控制后的对外数据 / town figures are the published (disclosure-controlled) "
        "table</p></header><main>" + "".join(divs) + "</main>"
        "<footer>来源 / sources: pub_town_year, eval_criterion, eval_specialty_town, "
        "ind_specialty_town_year · 金额单位：万元</footer></body></html>")
    out.write_text(page, encoding="utf-8")
    return out
