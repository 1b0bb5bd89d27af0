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
7. ``target_progress``   年度目标进度 — ``eval_target``, latest target year: one horizontal bar per
                         target, its completion in % (actual/target once the year's indicator
                         exists, else to_date/target for tax_total and insured_persons), a dashed
                         line at 100 %, the pace mark expected_to_date/target for flows, laggards
                         in red; hover: target, actual / to date, 累计同比, status. Completion,
                         status, pace, laggard and 累计同比 are `pipelines.evaluation.progress`'s
8. ``gap``               认定差距 — ``eval_gap``, latest year, one panel per criteria set (a
                         dropdown when there are several): per specialty town, each indicator's
                         shortfall / threshold in % (0 when met), grouped; the hover carries the
                         town's line from `pipelines.evaluation.gap.gap_lines`

A chart whose table is empty (no targets file) shows its panel with a note (尚无目标 / no
targets yet) instead of failing; so does one whose table the caller's frames do not include.
The target chart shows eval_target's actual and to-date values, which are not
disclosure-controlled: the dashboard is an internal report (contract section 3).

Money is shown in 万元. Suppressed (NULL) published cells are simply absent from a bar.

Safe to open (contract v4 section 9): plotly writes the figures as JSON with ``<``, ``>`` and
``/`` escaped, but draws a label's ``<b>``, ``<a href>`` … as markup; every name taken from the
data (`_label`) is therefore HTML-escaped, and plotly shows it as the literal text.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs

from pipelines.evaluation.gap import SPECIALTY_TABLE, gap_lines
from pipelines.evaluation.progress import (
    LEVEL_ZH,
    STATUS_EN,
    STATUS_ZH,
    progress_frame,
    target_names,
)
from pipelines.indicators.catalogue import indicator, indicators
from pipelines.reports.tables import TableSource, table_reader

WAN = 10_000.0
CRITERION_ZH = {"concentration": "产业集中度", "scale": "产业规模", "market": "市场占有率",
                "employment": "就业带动"}
#: bar colours: on track / met, laggard (未达标, 进度落后), no data yet
OK_COLOUR, LAGGARD_COLOUR, NO_DATA_COLOUR = "#2f6db5", "#c82333", "#9aa5b1"
NO_TARGETS = "尚无目标 / no targets yet"
#: the gap chart's indicators in the catalogue's order (leading, supporting, output, market, employees)
GAP_ORDER = {i.name: k for k, i in enumerate(indicators(SPECIALTY_TABLE))}
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


def _note(fig: go.Figure, text: str) -> go.Figure:
    """An empty chart panel that says why it is empty."""
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font={"size": 16, "color": "#5f6b7a"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _optional(source: TableSource, read, name: str) -> pl.DataFrame | None:
    """Table ``name``, or None when ``source`` is frames that do not include it."""
    if isinstance(source, Mapping) and name not in source:
        return None
    return read(name)


def _amount(value: float | None, unit: str | None, kind: str | None) -> str:
    """A value in its indicator's unit, as the dashboard shows it (money in 万元, ratios in %)."""
    if value is None:
        return "-"
    if kind == "money":
        return f"{value / WAN:,.2f} 万元"
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    number = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{number} {_label(unit or '')}".rstrip()


def _target_progress(et: pl.DataFrame | None, names: dict[tuple[str, str], str]) -> go.Figure:
    """年度目标进度: one bar per target of the latest target year (see the module docstring)."""
    fig = go.Figure()
    if et is None or et.height == 0:
        note = NO_TARGETS if et is not None else f"{NO_TARGETS}（本次未提供 eval_target / not provided）"
        return _layout(_note(fig, note), "年度目标进度（尚无目标）", "")
    year = et["year"].max()
    pf = progress_frame(et.filter(pl.col("year") == year), names)
    rows = list(pf.iter_rows(named=True))
    labels = [f"{r['name']}·{r['indicator_zh']}" for r in rows]
    # the same name and indicator twice (two towns of one name): the id tells them apart
    seen = Counter(labels)
    labels = [f"{lab}（{r['id']}）" if seen[lab] > 1 else lab
              for lab, r in zip(labels, rows, strict=True)]
    labels = [_label(lab) for lab in labels]
    pct, pace, colours, text, hover = [], [], [], [], []
    for r in rows:
        share = r["completion"]
        pct.append(None if share is None else share * 100)
        expected = r["expected_to_date"] if r["actual"] is None else None
        pace.append(None if expected is None or r["target"] <= 0 else expected / r["target"] * 100)
        colours.append(LAGGARD_COLOUR if r["laggard"] else
                       NO_DATA_COLOUR if r["status"] == "no_data" else OK_COLOUR)
        text.append(r["status_zh"] if share is None else f"{share * 100:.1f}%")
        unit, kind = r["unit"], r["kind"]
        lines = [f"{_label(r['name'])}（{LEVEL_ZH.get(r['level'], _label(r['level']))}）· "
                 f"{_label(r['indicator_zh'])}",
                 f"目标 target：{_amount(r['target'], unit, kind)}"]
        if r["actual"] is not None:
            done = "-" if r["attainment"] is None else f"{r['attainment'] * 100:.1f}%"
            lines.append(f"实际 actual：{_amount(r['actual'], unit, kind)}（{done}）")
        if r["to_date"] is not None:
            done = "" if r["actual"] is not None or share is None else f"（{share * 100:.1f}%）"
            lines.append(f"截至 {_label(r['latest_period'])} to date：{_amount(r['to_date'], unit, kind)}{done}")
        if r["expected_to_date"] is not None:
            lines.append(f"应达进度 expected：{_amount(r['expected_to_date'], unit, kind)}")
        yoy = r["to_date_yoy"]
        lines.append(f"累计同比 yoy to date：{'-' if yoy is None else f'{yoy * 100:+.1f}%'}")
        lines.append(f"状态 status：{r['status_zh']} / {STATUS_EN[r['status']]}")
        hover.append("<br>".join(lines))
    # the bars' colours are explained in the subtitle (a legend swatch would show one colour)
    fig.add_trace(go.Bar(name="完成率 / 进度 % of target", orientation="h", y=labels, x=pct,
                         showlegend=False, marker={"color": colours}, text=text, textposition="outside",
                         cliponaxis=False, hovertext=hover, hovertemplate="%{hovertext}<extra></extra>"))
    # no bar to carry the words (暂无数据): say it at 0. Set at once: plotly's add_annotation
    # copies every annotation before it, and a province has a thousand targets without data
    fig.update_layout(annotations=[
        {"x": 0, "y": lab, "text": words, "showarrow": False, "xanchor": "left", "xshift": 4,
         "font": {"color": "#5f6b7a"}}
        for lab, share, words in zip(labels, pct, text, strict=True) if share is None])
    if any(p is not None for p in pace):
        fig.add_trace(go.Scatter(name="应达进度 expected pace", mode="markers", y=labels, x=pace,
                                 marker={"symbol": "line-ns-open", "size": 22, "color": "#1f2933",
                                         "line": {"width": 3}},
                                 hovertemplate="应达进度 expected：%{x:.1f}%<extra></extra>"))
    fig.add_vline(x=100, line_dash="dash", line_color=LAGGARD_COLOUR,
                  annotation_text="目标 = 100%", annotation_position="top")
    title = (f"{year}年度目标进度（占目标 %）<br><sub>红色：{STATUS_ZH['missed']}或"
             f"{STATUS_ZH['behind']}；含未经披露控制的实际值，内部使用</sub>")
    _layout(fig, title, "")
    fig.update_xaxes(title_text="% of target", rangemode="tozero", gridcolor="#e5e9ef")
    fig.update_yaxes(autorange="reversed", automargin=True, categoryorder="array", categoryarray=labels)
    fig.update_layout(height=max(440, 30 * len(labels) + 160), margin={"t": 80}, showlegend=True)
    return fig


def _gap(gap: pl.DataFrame | None, names: dict[str, str]) -> go.Figure:
    """认定差距: per criteria set, per specialty town, shortfall / threshold in % (see the module
    docstring); the words are `gap_lines`'."""
    fig = go.Figure()
    if gap is None or gap.height == 0:
        note = "尚无认定差距 / no distance-to-recognition rows yet"
        if gap is None:
            note += "（本次未提供 eval_gap / not provided）"
        return _layout(_note(fig, note), "认定差距（无数据）", "")
    year = gap["year"].max()
    part = gap.filter(pl.col("year") == year)
    sets = sorted(part["criteria_set"].unique().to_list())
    owner: list[int] = []  # the criteria set (index in `sets`) of each trace
    for k, cs in enumerate(sets):
        rows = part.filter(pl.col("criteria_set") == cs)
        ids = sorted(rows["specialty_town_id"].unique().to_list())
        x = [_label(names.get(i, i)) for i in ids]
        words = {}
        for i in ids:
            zh, en = gap_lines(rows.filter(pl.col("specialty_town_id") == i), names, cs, year)
            # gap_lines' words, one shortfall a line
            words[i] = "<br>".join([_label(zh).replace("、", "、<br>"), _label(en).replace("; ", ";<br>")])
        order = sorted(rows["indicator"].unique().to_list(), key=lambda n: (GAP_ORDER.get(n, len(GAP_ORDER)), n))
        for ind in order:
            cat = indicator(SPECIALTY_TABLE, ind)
            sub = rows.filter(pl.col("indicator") == ind)
            by = {r["specialty_town_id"]: r for r in sub.iter_rows(named=True)}
            y, text, hover = [], [], []
            for i in ids:
                r = by.get(i)
                if r is None:
                    y.append(None)
                    text.append(None)
                    hover.append("")
                    continue
                share = (0.0 if r["met"] else
                         None if r["shortfall"] is None or not r["threshold"] else
                         r["shortfall"] / r["threshold"] * 100)
                y.append(share)
                text.append("✓" if r["met"] else "-" if share is None else f"{share:.0f}%")
                hover.append("<br>".join([
                    f"{_label(names.get(i, i))} · {_label(cat.name_zh)}",
                    f"指标值 value：{_amount(r['value'], cat.unit, cat.kind)}；"
                    f"门槛 threshold：{_amount(r['threshold'], cat.unit, cat.kind)}",
                    f"差距 shortfall：{_amount(r['shortfall'], cat.unit, cat.kind)}"
                    f"（{'-' if share is None else f'{share:.1f}%'}）{'✓' if r['met'] else '✗'}",
                    words[i]]))
            fig.add_trace(go.Bar(name=_label(cat.name_zh), legendgroup=_label(cs), x=x, y=y, text=text,
                                 textposition="outside", cliponaxis=False, visible=k == 0,
                                 hovertext=hover, hovertemplate="%{hovertext}<extra></extra>"))
            owner.append(k)
    title = f"{year}年各专业镇认定差距<br><sub>差距/门槛 %，0 = 已达标（✓）"
    if len(sets) > 1:  # the criteria set is chosen in the dropdown, which names it
        fig.update_layout(updatemenus=[{
            "type": "dropdown", "x": 1.0, "xanchor": "right", "y": 1.16, "yanchor": "top",
            "buttons": [{"label": _label(cs), "method": "restyle",
                         "args": [{"visible": [o == k for o in owner]}]} for k, cs in enumerate(sets)]}])
        title += "；标准集见右侧 / criteria set at right</sub>"
    else:
        title += f"；{_label(sets[0])}</sub>"
    fig.update_layout(barmode="group")
    _layout(fig, title, "差距 / 门槛（%）")
    fig.update_layout(margin={"t": 80})
    fig.update_yaxes(rangemode="tozero")
    return fig


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
    # one pass over the rows (a province has 135 specialty towns and 1,352 towns); the traces
    # added at once: `add_trace` one by one copies the figure's earlier traces every time
    fig.add_traces([go.Scatter(name=_label(sname.get(part["specialty_town_id"][0], part["specialty_town_id"][0])),
                               x=part["year"].to_list(), y=[v / WAN for v in part["output_value"]],
                               mode="lines+markers")
                    for part in ind_s.sort("specialty_town_id", "year").partition_by("specialty_town_id",
                                                                                      maintain_order=True)])
    fig.update_xaxes(dtick=1)
    figs.append(("specialty_output", _layout(fig, "专业镇总产值趋势（万元）", "万元")))

    fig = go.Figure()
    fig.add_traces([go.Scatter(name=_label(f"{sname.get(sid, sid)}（{cs}）"), x=part["year"].to_list(),
                               y=part["score"].to_list(), mode="lines+markers")
                    for (cs, sid), part in sorted(ev.sort("year").group_by(["criteria_set", "specialty_town_id"],
                                                                           maintain_order=True),
                                                  key=lambda kv: kv[0])])
    fig.update_xaxes(dtick=1)
    fig.update_yaxes(range=[0, 100])
    figs.append(("specialty_score", _layout(fig, "专业镇综合得分趋势（0-100）", "得分")))

    fig = go.Figure()
    fig.add_traces([go.Scatter(name=_label(tname.get(part["town_code"][0], part["town_code"][0])),
                               x=part["year"].to_list(), y=part["insured_persons"].to_list(), mode="lines+markers")
                    for part in pub.sort("town_code", "year").partition_by("town_code", maintain_order=True)])
    fig.update_xaxes(dtick=1)
    figs.append(("town_trend", _layout(fig, "各乡镇12月参保人数趋势（人）", "人")))

    figs.append(("target_progress", _target_progress(_optional(url, read, "eval_target"),
                                                     target_names(towns, stowns))))
    figs.append(("gap", _gap(_optional(url, read, "eval_gap"), sname)))
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
        "table；目标进度含未经披露控制的实际值，仅供内部 / target progress shows unsuppressed values, "
        "internal only</p></header><main>" + "".join(divs) + "</main>"
        "<footer>来源 / sources: pub_town_year, eval_criterion, eval_specialty_town, "
        "ind_specialty_town_year, eval_target, eval_gap · 金额单位：万元</footer></body></html>")
    out.write_text(page, encoding="utf-8")
    return out
