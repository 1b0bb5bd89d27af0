"""The evaluation workbook (Excel) for the county's leading-group office.

``write_evaluation_workbook(url, year, out)`` writes one ``.xlsx`` with:

- one sheet per criteria set (titled with the set's Chinese name): each specialty town's
  value, threshold and met flag for every criterion (``eval_criterion``), then all met,
  score and rank (``eval_specialty_town``), ordered by rank;
- ``乡镇指标``: the published town indicators (``pub_town_year``, after disclosure control),
  with town names, years up to ``year``;
- ``专业镇指标``: the specialty-town indicators (``ind_specialty_town_year``), with names;
- ``说明``: the data's date (latest file time in ``dq_file``, else now), sources, units.

Headers are Chinese (from the indicator catalogue); money is shown in 万元 (yuan / 10,000)
with number formats; each data sheet has title rows and a frozen header row
(``HEADER_ROW``, 1-based); column widths fit their contents.

Safe to open (contract v4 section 9): the workbook is created with `safe_cells.XLSX_OPTIONS`
(no string becomes a formula or a link) and text is written with ``write_string``; a text cell
that begins like a formula (``=``, ``+``, ``-``, ``@``) also carries Excel's quote prefix, so
it stays text when someone edits it.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from pipelines.evaluation.criteria import load_criteria_sets
from pipelines.indicators.catalogue import CATALOGUE, Indicator
from pipelines.reports.safe_cells import XLSX_OPTIONS, looks_like_formula
from pipelines.reports.tables import TableSource, table_reader

HEADER_ROW = 4  # 1-based row of the column headers on every data sheet; data start below it
TOWN_SHEET = "乡镇指标"
SPECIALTY_SHEET = "专业镇指标"
NOTE_SHEET = "说明"
WAN = 10_000.0

CRITERION_ZH = {"concentration": "产业集中度", "scale": "产业规模", "market": "市场占有率",
                "employment": "就业带动"}
CATEGORY_ZH = {"manufacturing": "制造业", "agriculture": "特优农业", "light_industry": "特色轻工/工艺美术"}
SOURCE_ZH = {"enterprise": "企业年报", "tax": "税收", "employment": "社保参保",
             "registry": "市场主体登记", "reference": "参考表"}
MONEY_CRITERIA = {"scale"}
SHARE_CRITERIA = {"market"}


def _width(v: Any) -> int:
    s = "" if v is None else str(v)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


class _Sheet:
    """A data sheet: title rows, a header row at HEADER_ROW, typed columns, fitted widths."""

    def __init__(self, wb: xlsxwriter.Workbook, name: str, title: str, subtitle: str,
                 fmt: dict[str, Any]):
        self.ws = wb.add_worksheet(name)
        self.fmt = fmt
        self.widths: dict[int, int] = {}
        self.ws.write_string(0, 0, title, fmt["title"])
        self.ws.write_string(1, 0, subtitle, fmt["note"])

    def table(self, headers: list[str], kinds: list[str], rows: list[list[Any]]) -> None:
        r0 = HEADER_ROW - 1
        for c, h in enumerate(headers):
            self.ws.write_string(r0, c, h, self.fmt["header"])
            self.widths[c] = max(self.widths.get(c, 0), _width(h))
        for i, row in enumerate(rows, start=r0 + 1):
            for c, (v, kind) in enumerate(zip(row, kinds, strict=True)):
                f = self.fmt[kind]
                if v is None or v == "":
                    self.ws.write_blank(i, c, None, f)
                    shown = ""
                elif kind == "money":
                    self.ws.write_number(i, c, float(v), f)
                    shown = f"{float(v):,.2f}"
                elif kind in ("count", "int"):
                    self.ws.write_number(i, c, int(v), f)
                    shown = f"{int(v):,}"
                elif kind in ("ratio", "pct", "score"):
                    self.ws.write_number(i, c, float(v), f)
                    shown = f"{float(v):.2f}%" if kind == "pct" else f"{float(v):,.4f}"
                else:
                    shown = str(v)
                    # text, never a formula; one that looks like a formula keeps a quote prefix
                    self.ws.write_string(i, c, shown,
                                         self.fmt["quoted"] if looks_like_formula(shown) else f)
                self.widths[c] = max(self.widths.get(c, 0), _width(shown))
        for c, w in self.widths.items():
            self.ws.set_column(c, c, min(max(w + 2, 6), 60))
        self.ws.freeze_panes(HEADER_ROW, 0)
        if rows:
            self.ws.autofilter(r0, 0, r0 + len(rows), len(headers) - 1)


def _formats(wb: xlsxwriter.Workbook) -> dict[str, Any]:
    base = {"font_name": "等线", "font_size": 10}
    return {
        "title": wb.add_format({**base, "bold": True, "font_size": 14}),
        "note": wb.add_format({**base, "italic": True, "font_color": "#555555"}),
        "header": wb.add_format({**base, "bold": True, "bg_color": "#DDE6F0", "border": 1,
                                 "text_wrap": True, "valign": "vcenter", "align": "center"}),
        "text": wb.add_format({**base, "border": 1}),
        "quoted": wb.add_format({**base, "border": 1, "quote_prefix": True}),
        "int": wb.add_format({**base, "border": 1, "num_format": "0"}),
        "count": wb.add_format({**base, "border": 1, "num_format": "#,##0"}),
        "money": wb.add_format({**base, "border": 1, "num_format": "#,##0.00"}),
        "ratio": wb.add_format({**base, "border": 1, "num_format": "0.0000"}),
        "pct": wb.add_format({**base, "border": 1, "num_format": "0.00%"}),
        "score": wb.add_format({**base, "border": 1, "num_format": "0.00"}),
        "wrap": wb.add_format({**base, "text_wrap": True, "valign": "top"}),
        "bold": wb.add_format({**base, "bold": True}),
    }


def _ind_columns(table: str) -> list[tuple[str, str, str]]:
    """(column, Chinese header, kind) per indicator; money headers in 万元."""
    out = []
    for ind in CATALOGUE[table]:
        out.append((ind.name, _header(ind), _kind(ind)))
    return out


def _header(ind: Indicator) -> str:
    if ind.kind == "money":
        return f"{ind.name_zh}(万元)"
    if ind.kind in ("ratio", "yoy"):
        return f"{ind.name_zh}(%)"
    return ind.header


def _kind(ind: Indicator) -> str:
    return {"money": "money", "count": "count"}.get(ind.kind, "pct")


def _cell(v: Any, kind: str) -> Any:
    if v is None:
        return None
    return v / WAN if kind == "money" else v


def _data_date(dq_file: pl.DataFrame) -> tuple[dt.datetime, str]:
    m = dq_file["mtime"].max() if dq_file.height else None
    if m is None:
        return dt.datetime.now(dt.UTC), "生成时间 / time generated (no file dates)"
    return m, "最新数据文件时间 / latest data file time (dq_file.mtime)"


def _fmt_time(t: dt.datetime) -> str:
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone(dt.timedelta(hours=8)))
        return t.strftime("%Y-%m-%d %H:%M 北京时间")
    return t.strftime("%Y-%m-%d %H:%M")


def write_evaluation_workbook(url: TableSource, year: int, out: Path) -> Path:
    """Write the evaluation workbook for ``year`` to ``out`` (.xlsx); returns ``out``."""
    read = table_reader(url)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dq_file = read("dq_file")
    towns = read("dim_town")
    stowns = read("dim_specialty_town")
    ev = read("eval_specialty_town").filter(pl.col("year") == year)
    crit = read("eval_criterion").filter(pl.col("year") == year)
    pub = read("pub_town_year").filter(pl.col("year") <= year)
    ind_s = read("ind_specialty_town_year").filter(pl.col("year") <= year)
    data_time, data_time_what = _data_date(dq_file)
    date_text = f"数据截至 / data as of: {_fmt_time(data_time)}"
    sname = dict(stowns.select("id", "name").iter_rows())
    tname = dict(towns.select("town_code", "town_name").iter_rows())
    sets = {s.name: s for s in load_criteria_sets()}

    wb = xlsxwriter.Workbook(str(out), dict(XLSX_OPTIONS))
    wb.set_properties({"title": f"{year}年专业镇认定评价", "company": "统计局",
                       "comments": date_text})
    fmt = _formats(wb)
    used: set[str] = set()

    # one sheet per criteria set
    for set_name in sorted(ev["criteria_set"].unique().to_list()):
        cs = sets.get(set_name)
        title_zh = (cs.name_zh if cs and cs.name_zh else set_name)
        sheet = _unique_sheet_name(title_zh, used)
        order = [c.name for c in cs.criteria] if cs else sorted(
            crit.filter(pl.col("criteria_set") == set_name)["criterion"].unique().to_list())
        s = _Sheet(wb, sheet, f"{year}年专业镇认定评价 — {title_zh}（{set_name}）",
                   f"{date_text}；来源 / source: {cs.source if cs else set_name}；"
                   "金额单位：万元 / money in 10,000 yuan", fmt)
        headers = ["专业镇编号", "专业镇名称", "类别"]
        kinds = ["text", "text", "text"]
        for c in order:
            zh = (next((x.name_zh for x in cs.criteria if x.name == c), "") if cs else "") or \
                CRITERION_ZH.get(c, c)
            unit = "(万元)" if c in MONEY_CRITERIA else "(%)" if c in SHARE_CRITERIA else ""
            headers += [f"{zh}·指标值{unit}", f"{zh}·门槛{unit}", f"{zh}·是否达标"]
            vk = "money" if c in MONEY_CRITERIA else "pct" if c in SHARE_CRITERIA else (
                "count" if c == "employment" else "ratio")
            kinds += [vk, vk, "text"]
        headers += ["全部达标", "综合得分(0-100)", "排名"]
        kinds += ["text", "score", "int"]
        cset = crit.filter(pl.col("criteria_set") == set_name)
        by = {(r["specialty_town_id"], r["criterion"]): r for r in cset.iter_rows(named=True)}
        rows = []
        for r in ev.filter(pl.col("criteria_set") == set_name).sort("rank", "specialty_town_id") \
                .iter_rows(named=True):
            sid = r["specialty_town_id"]
            row: list[Any] = [sid, sname.get(sid, ""), CATEGORY_ZH.get(r["category"], r["category"])]
            for c in order:
                cr = by.get((sid, c))
                if cr is None:
                    row += [None, None, ""]
                    continue
                vk = "money" if c in MONEY_CRITERIA else "other"
                row += [_cell(cr["value"], vk), _cell(cr["threshold"], vk),
                        "是" if cr["met"] else "否"]
            row += ["是" if r["all_met"] else "否", r["score"], r["rank"]]
            rows.append(row)
        s.table(headers, kinds, rows)

    # town indicators, published
    cols = _ind_columns("ind_town_year")
    headers = ["年度", "乡镇代码", "乡镇名称"] + [h for _, h, _ in cols] + ["披露控制不公开的项"]
    kinds = ["int", "text", "text"] + [k for _, _, k in cols] + ["text"]
    zh_of = {i.name: i.name_zh for i in CATALOGUE["ind_town_year"]}
    rows = []
    for r in pub.sort("year", "town_code").iter_rows(named=True):
        supp = "、".join(zh_of.get(x, x) for x in (r["suppressed"] or "").split(";") if x)
        rows.append([r["year"], r["town_code"], tname.get(r["town_code"], "")]
                    + [_cell(r[c], k) for c, _, k in cols] + [supp])
    s = _Sheet(wb, TOWN_SHEET, f"乡镇年度指标（披露控制后，可对外）— 截至{year}年",
               f"{date_text}；来源：pub_town_year；金额单位：万元；空白的金额格按统计资料保密规定不公开 / "
               "blank money cells are suppressed (disclosure control)", fmt)
    s.table(headers, kinds, rows)
    used.add(TOWN_SHEET)

    # specialty-town indicators
    cols = _ind_columns("ind_specialty_town_year")
    headers = ["年度", "专业镇编号", "专业镇名称"] + [h for _, h, _ in cols]
    kinds = ["int", "text", "text"] + [k for _, _, k in cols]
    rows = [[r["year"], r["specialty_town_id"], sname.get(r["specialty_town_id"], "")]
            + [_cell(r[c], k) for c, _, k in cols]
            for r in ind_s.sort("year", "specialty_town_id").iter_rows(named=True)]
    s = _Sheet(wb, SPECIALTY_SHEET, f"专业镇年度指标（内部）— 截至{year}年",
               f"{date_text}；来源：ind_specialty_town_year；金额单位：万元", fmt)
    s.table(headers, kinds, rows)

    # notes
    ws = wb.add_worksheet(NOTE_SHEET)
    loaded = dq_file.filter(pl.col("status") == "loaded")
    per_source = loaded.group_by("source").agg(pl.len().alias("files"),
                                               pl.col("rows_loaded").sum()).sort("source")
    lines: list[tuple[str, str]] = [
        ("报表", f"{year}年专业镇认定评价工作簿 / specialty-town evaluation workbook, {year}"),
        ("数据日期", f"{_fmt_time(data_time)}（{data_time_what}）"),
        ("生成时间", _fmt_time(dt.datetime.now(dt.UTC))),
        ("金额单位", "万元（仓库以元存储，此处除以10000） / 10,000 yuan"),
        ("比率", "百分比格式；同比增速 = 本年/上年 − 1 / percentages"),
        ("披露控制", "乡镇指标为披露控制后的对外数据；空白金额格不公开 / town sheet is the published table"),
    ]
    for r in per_source.iter_rows(named=True):
        lines.append((f"来源：{SOURCE_ZH.get(r['source'], r['source'])}",
                      f"{r['files']} 个文件，{int(r['rows_loaded'] or 0):,} 行通过校验 / files, rows loaded"))
    for name, cs in sets.items():
        lines.append((f"标准集：{name}", f"{cs.name_zh}；依据 / source: {cs.source}"))
    ws.write_string(0, 0, "说明 / Notes", fmt["title"])
    for i, (k, v) in enumerate(lines, start=2):
        ws.write_string(i, 0, k, fmt["bold"])
        ws.write_string(i, 1, v, fmt["wrap"])
    ws.set_column(0, 0, max(_width(k) for k, _ in lines) + 2)
    ws.set_column(1, 1, 90)
    wb.close()
    return out


def _unique_sheet_name(title: str, used: set[str]) -> str:
    bad = set('[]:*?/\\')
    base = "".join("_" if ch in bad else ch for ch in title)[:31] or "评价"
    name, i = base, 2
    while name in used or name in (TOWN_SHEET, SPECIALTY_SHEET, NOTE_SHEET):
        suffix = f"_{i}"
        name, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(name)
    return name
