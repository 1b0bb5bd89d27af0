"""The evaluation workbook (Excel) for the county's leading-group office.

``write_evaluation_workbook(url, year, out)`` writes one ``.xlsx`` with:

- one sheet per criteria set (titled with the set's Chinese name): each specialty town's
  value, threshold and met flag for every criterion (``eval_criterion``), then all met,
  score and rank (``eval_specialty_town``), ordered by rank;
- ``认定差距``: what each specialty town still lacks under each criteria set in ``year``
  (``eval_gap``, contract 6.1): the words of `gap.gap_lines` (Chinese, then English) and, per
  indicator read, value, threshold, shortfall and met. A source without ``eval_gap`` (the
  pipeline's frames, an older warehouse) gets the same rows from `gap.gap_table`;
- ``目标进度`` (internal): every ``eval_target`` row up to ``year`` + 1 (contract 6.2) as
  `progress.progress_frame` reads it (完成率, pace, 累计同比, status), laggards on a light red
  fill; a one-line note when there are no targets (or no ``eval_target`` table);
- ``未报企业`` (internal): the ``report_missing`` flags of ``year`` (contract 8) as
  `quality_report.missing_reports` lists them, last year's output value in 万元;
- ``乡镇指标``: the published town indicators (``pub_town_year``, after disclosure control),
  with town names, years up to ``year``;
- ``专业镇指标``: the specialty-town indicators (``ind_specialty_town_year``), with names;
- ``说明``: the data's date (latest file time in ``dq_file``, else now), sources, units.

Headers are Chinese (from the indicator catalogue); money is shown in 万元 (yuan / 10,000)
with number formats; each data sheet has title rows and a frozen header row
(``HEADER_ROW``, 1-based); column widths fit their contents (headers and long texts wrap).

Printing (issue 15): every sheet, the notes too, prints on A4 landscape fitted to one page wide,
its title rows and column headers repeated on every page, with a footer naming the sheet, the
page (第 n 页 / 共 m 页) and the data's date; titles and notes are merged across the table's
columns and wrap there, so none is cut and none widens the printed page (`_Sheet`).

Safe to open (contract v4 section 9): the workbook is created with `safe_cells.XLSX_OPTIONS`
(no string becomes a formula or a link) and text is written with ``write_string``; a text cell
that begins like a formula (``=``, ``+``, ``-``, ``@``) also carries Excel's quote prefix, so
it stays text when someone edits it.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import unicodedata
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from pipelines.evaluation.criteria import CriteriaSet, load_criteria_sets
from pipelines.evaluation.gap import GAP_KEY, gap_lines, gap_table
from pipelines.evaluation.gap import SPECIALTY_TABLE as GAP_TABLE
from pipelines.evaluation.progress import LEVEL_ZH, progress_frame, target_names
from pipelines.indicators.catalogue import CATALOGUE, Indicator
from pipelines.reports.quality_report import missing_reports
from pipelines.reports.safe_cells import XLSX_OPTIONS, looks_like_formula
from pipelines.reports.tables import TableSource, table_reader
from pipelines.warehouse.engine import make_engine
from pipelines.warehouse.sql import table_exists
from schemas.rules import FLAGS, FlagName

HEADER_ROW = 4  # 1-based row of the column headers on every data sheet; data start below it
TOWN_SHEET = "乡镇指标"
SPECIALTY_SHEET = "专业镇指标"
NOTE_SHEET = "说明"
GAP_SHEET = "认定差距"
TARGET_SHEET = "目标进度"
MISSING_SHEET = "未报企业"
FIXED_SHEETS = (GAP_SHEET, TARGET_SHEET, MISSING_SHEET, TOWN_SHEET, SPECIALTY_SHEET, NOTE_SHEET)
WAN = 10_000.0
#: Excel's "light red fill": the rows of the laggards on 目标进度 (`progress_frame`'s laggard)
LAGGARD_FILL = "#FFC7CE"
NO_TARGETS = "尚无目标（reference/targets.csv）/ no targets yet"
NO_MISSING = "无未报企业 / every enterprise reported"

CRITERION_ZH = {"concentration": "产业集中度", "scale": "产业规模", "market": "市场占有率",
                "employment": "就业带动"}
CATEGORY_ZH = {"manufacturing": "制造业", "agriculture": "特优农业", "light_industry": "特色轻工/工艺美术"}
SOURCE_ZH = {"enterprise": "企业年报", "tax": "税收", "employment": "社保参保",
             "registry": "市场主体登记", "reference": "参考表"}
MONEY_CRITERIA = {"scale"}
SHARE_CRITERIA = {"market"}


def _width(v: Any) -> int:
    """A text's width in column units: a Chinese character 2, a capital letter 1.3 (an
    18-character credit code printed whole), any other character 1."""
    return _text_width("" if v is None else str(v))


@functools.lru_cache(maxsize=1 << 16)
def _text_width(s: str) -> int:
    # a province workbook measures 300,000 cells: numbers (ASCII without capitals) are as
    # wide as they are long; other texts are cached
    if s.isascii() and not any("A" <= ch <= "Z" for ch in s):
        return len(s)
    return math.ceil(sum(2 if unicodedata.east_asian_width(ch) in "WF"
                         else 1.3 if "A" <= ch <= "Z" else 1 for ch in s))


# Printing (issue 15): every sheet prints on A4 landscape, fitted to one page wide, its title
# rows and column headers repeated on every page, a footer with the sheet's name, the page
# number and the data's date. A title or note is merged across the table's columns and wraps
# there: left in one cell, a text running past the last used column makes LibreOffice widen the
# printed range to take it in and shrink the whole page to fit (and unfitted, the page break
# cut it mid-word), so no title may be wider than its table.
PAPER_A4 = 9  # xlsxwriter/Excel paper code
MARGINS = {"left": 0.4, "right": 0.4, "top": 0.5, "bottom": 0.6}  # inches (≈1.0/1.0/1.3/1.5 cm)
FOOTER_MARGIN = 0.25
#: header cells wrap: a column is made no wider than this for its header alone
HEADER_WRAP = 12
#: a text column is no wider than this; its longer cells wrap
TEXT_WRAP = 40
#: points per line of wrapped text, by font size (the CJK fonts' line height is ~1.45 em)
LINE_PT = {10: 14.5, 14: 20.5}
TITLE_SCALE = 1.4  # the 14 pt title is 1.4 times as wide as 10 pt text


def _footer(date_text: str) -> str:
    """Footer of every sheet: its name (``&A``), 第 n 页 / 共 m 页, the data's date."""
    date = date_text.replace("&", "&&")
    return f"&L&9&A&C&9第 &P 页 / 共 &N 页&R&9{date}"


def _lines(text_width: float, col_width: float) -> int:
    """Lines a wrapped text of ``text_width`` (in `_width` units) takes in a column (or merged
    range) ``col_width`` wide, with a tenth to spare for word breaks and wider glyphs."""
    return max(1, math.ceil(text_width * 1.1 / max(col_width - 1, 1)))


class _Sheet:
    """A sheet: title rows, a header row at HEADER_ROW, typed columns, fitted widths, and the
    print setup (A4 landscape, one page wide, repeated headers, footer) of every sheet."""

    def __init__(self, wb: xlsxwriter.Workbook, name: str, title: str, subtitle: str,
                 fmt: dict[str, Any], date_text: str):
        self.ws = wb.add_worksheet(name)
        self.fmt = fmt
        self.widths: dict[int, int] = {}
        self.title, self.subtitle = title, subtitle
        self.note_text: str | None = None
        ws = self.ws
        ws.set_paper(PAPER_A4)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)  # one page wide, as many pages tall as the rows need
        ws.set_margins(**MARGINS)
        ws.center_horizontally()
        ws.set_footer(_footer(date_text), {"margin": FOOTER_MARGIN, "scale_with_doc": False})

    def note(self, text: str) -> None:
        """A line between the subtitle and the header row (e.g. why the table is empty)."""
        self.note_text = text

    def _titles(self, ncols: int) -> None:
        """Set the column widths, then the title, subtitle and note merged across the ``ncols``
        columns, wrapped, their rows tall enough (Excel and LibreOffice fit no merged cell).
        A table narrower than its title has its widest column widened: the title then prints
        on one line (a subtitle or note may wrap)."""
        total = sum(self.widths.get(c, 8) for c in range(ncols))
        need = math.ceil(_width(self.title) * TITLE_SCALE * 1.1) + 1
        if ncols > 1 and total < need:
            widest = max(range(ncols), key=lambda c: self.widths.get(c, 8))
            self.widths[widest] = self.widths.get(widest, 8) + need - total
            total = need
        for c, w in self.widths.items():
            self.ws.set_column(c, c, w)
        for row, text, f, pt, scale in ((0, self.title, "title", LINE_PT[14], TITLE_SCALE),
                                        (1, self.subtitle, "note", LINE_PT[10], 1.0),
                                        (HEADER_ROW - 2, self.note_text, "bold", LINE_PT[10], 1.0)):
            if not text:
                continue
            if ncols > 1:
                self.ws.merge_range(row, 0, row, ncols - 1, text, self.fmt[f])
            else:
                self.ws.write_string(row, 0, text, self.fmt[f])
            n = _lines(_width(text) * scale, total)
            if n > 1 or row == 0:  # the title's row always: its 14 pt line is taller
                self.ws.set_row(row, pt * n)

    def table(self, headers: list[str], kinds: list[str], rows: list[list[Any]],
              cell_kinds: list[list[str]] | None = None, marked: list[bool] | None = None) -> None:
        """``kinds`` per column; ``cell_kinds`` (per row) replaces them where a column mixes
        units; a ``marked`` row is on the laggard fill."""
        r0 = HEADER_ROW - 1
        shown_rows: list[list[tuple[Any, str, str]]] = []
        for n, row in enumerate(rows):
            row_kinds = cell_kinds[n] if cell_kinds is not None else kinds
            cells = []
            for c, (v, kind) in enumerate(zip(row, row_kinds, strict=True)):
                if v is None or v == "":
                    shown = ""
                elif kind == "money":
                    shown = f"{float(v):,.2f}"
                elif kind in ("count", "int"):
                    shown = f"{int(v):,}"
                elif kind in ("ratio", "pct", "score"):
                    shown = f"{float(v):.2f}%" if kind == "pct" else f"{float(v):,.4f}"
                else:
                    shown = str(v)
                cells.append((v, kind, shown))
                self.widths[c] = max(self.widths.get(c, 0), _width(shown))
            shown_rows.append(cells)
        # a header wraps (HEADER_WRAP), a long text wraps (TEXT_WRAP): the printed table is
        # as narrow as its numbers allow, so fitting it to the page width shrinks it less
        for c, h in enumerate(headers):
            w = max(self.widths.get(c, 0), min(_width(h), HEADER_WRAP))
            self.widths[c] = min(max(w + 2, 6), TEXT_WRAP + 2)
        self._titles(len(headers))
        head_lines = 1
        for c, h in enumerate(headers):
            self.ws.write_string(r0, c, h, self.fmt["header"])
            head_lines = max(head_lines, _lines(_width(h), self.widths[c]))
        if head_lines > 1:
            self.ws.set_row(r0, LINE_PT[10] * head_lines)
        for n, cells in enumerate(shown_rows):
            i = r0 + 1 + n
            lag = LAGGARD_SUFFIX if marked is not None and marked[n] else ""
            row_lines = 1
            for c, (v, kind, shown) in enumerate(cells):
                wrap = WRAP_SUFFIX if _width(shown) > self.widths[c] - 2 else ""
                f = self.fmt[kind + lag + wrap]
                if v is None or v == "":
                    self.ws.write_blank(i, c, None, f)
                elif kind == "money":
                    self.ws.write_number(i, c, float(v), f)
                elif kind in ("count", "int"):
                    self.ws.write_number(i, c, int(v), f)
                elif kind in ("ratio", "pct", "score"):
                    self.ws.write_number(i, c, float(v), f)
                else:
                    # text, never a formula; one that looks like a formula keeps a quote prefix
                    self.ws.write_string(
                        i, c, shown, self.fmt["quoted" + lag + wrap] if looks_like_formula(shown) else f)
                if wrap:
                    row_lines = max(row_lines, _lines(_width(shown), self.widths[c]))
            if row_lines > 1:
                self.ws.set_row(i, LINE_PT[10] * row_lines)
        self.ws.freeze_panes(HEADER_ROW, 0)
        self.ws.repeat_rows(0, r0)  # title rows and column headers on every printed page
        if rows:
            self.ws.autofilter(r0, 0, r0 + len(rows), len(headers) - 1)

    def pairs(self, lines: list[tuple[str, str]], value_width: int = 90) -> None:
        """The notes' layout: a bold key and a wrapped value per row, from the third row."""
        self.widths = {0: max(_width(k) for k, _ in lines) + 2, 1: value_width}
        self._titles(2)
        for i, (k, v) in enumerate(lines, start=2):
            self.ws.write_string(i, 0, k, self.fmt["bold"])
            self.ws.write_string(i, 1, v, self.fmt["wrap"])
            n = _lines(_width(v), self.widths[1])
            if n > 1:
                self.ws.set_row(i, LINE_PT[10] * n)
        self.ws.repeat_rows(0)


LAGGARD_SUFFIX = "|laggard"
WRAP_SUFFIX = "|wrap"


def _formats(wb: xlsxwriter.Workbook) -> dict[str, Any]:
    base = {"font_name": "等线", "font_size": 10}
    cells = {
        "text": {"border": 1},
        "quoted": {"border": 1, "quote_prefix": True},
        "int": {"border": 1, "num_format": "0"},
        "count": {"border": 1, "num_format": "#,##0"},
        "money": {"border": 1, "num_format": "#,##0.00"},
        "ratio": {"border": 1, "num_format": "0.0000"},
        "pct": {"border": 1, "num_format": "0.00%"},
        "score": {"border": 1, "num_format": "0.00"},
    }
    out = {
        "title": wb.add_format({**base, "bold": True, "font_size": 14, "text_wrap": True,
                                "valign": "top"}),
        "note": wb.add_format({**base, "italic": True, "font_color": "#555555", "text_wrap": True,
                               "valign": "top"}),
        "header": wb.add_format({**base, "bold": True, "bg_color": "#DDE6F0", "border": 1,
                                 "text_wrap": True, "valign": "vcenter", "align": "center"}),
        "wrap": wb.add_format({**base, "text_wrap": True, "valign": "top"}),
        "bold": wb.add_format({**base, "bold": True, "text_wrap": True, "valign": "top"}),
    }
    # data cells centred vertically: a row made taller by a wrapped text keeps its numbers
    # level with the text
    for kind, props in cells.items():
        for lag, fill in (("", {}), (LAGGARD_SUFFIX, {"bg_color": LAGGARD_FILL})):
            out[kind + lag] = wb.add_format({**base, **props, **fill, "valign": "vcenter"})
            out[kind + lag + WRAP_SUFFIX] = wb.add_format(
                {**base, **props, **fill, "valign": "vcenter", "text_wrap": True})
    return out


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


def _number_kind(kind: str, v: Any) -> str:
    """The cell kind of a number in an indicator's own unit (``kind`` the catalogue's): money in
    万元, ratios and yoy as percentages, counts whole (two decimals if not a whole number)."""
    if kind == "money":
        return "money"
    if kind in ("ratio", "yoy"):
        return "pct"
    return "count" if v is None or float(v).is_integer() else "score"


def _unit(ind: Indicator) -> str:
    """The unit shown for an indicator's numbers: 万元, %, or its own (家, 人, 件)."""
    if ind.kind == "money":
        return "万元"
    return "%" if ind.kind in ("ratio", "yoy") else ind.unit


def _has_table(source: TableSource, name: str) -> bool:
    """Whether ``source`` has table ``name`` (an older warehouse, or the pipeline's frames,
    may lack the newer ones)."""
    if not isinstance(source, str):
        return name in source
    engine = make_engine(source)
    try:
        with engine.connect() as conn:
            return table_exists(conn, name)
    finally:
        engine.dispose()


def _set_title(cs: CriteriaSet | None, set_name: str) -> str:
    return cs.name_zh if cs and cs.name_zh else set_name


def _gap_sheet(wb: xlsxwriter.Workbook, fmt: dict[str, Any], gap: pl.DataFrame, year: int,
               date_text: str, sname: dict[str, str], sets: dict[str, CriteriaSet]) -> None:
    """认定差距: one row per (criteria set, specialty town): `gap_lines`' words, then value,
    threshold, shortfall and met of every indicator read (eval_gap, contract 6.1)."""
    gap = gap.filter(pl.col("year") == year)
    s = _Sheet(wb, GAP_SHEET, f"{year}年专业镇认定差距 — 距认定标准还差多少",
               f"{date_text}；来源：eval_gap；金额单位：万元（文字中为亿元），占有率为百分比；"
               "差距以指标自身单位计 / distance to recognition per criteria set and indicator read", fmt,
               date_text)
    present = set(gap["indicator"].unique().to_list())
    inds = [i for i in CATALOGUE[GAP_TABLE] if i.name in present]
    headers = ["年度", "标准集", "专业镇编号", "专业镇名称", "未达标指标数", "认定差距",
               "Distance to recognition"]
    kinds = ["int", "text", "text", "text", "count", "text", "text"]
    for ind in inds:
        unit = f"({_unit(ind)})"
        headers += [f"{ind.name_zh}·指标值{unit}", f"{ind.name_zh}·门槛{unit}",
                    f"{ind.name_zh}·差距{unit}", f"{ind.name_zh}·是否达标"]
        kinds += [_number_kind(ind.kind, None)] * 3 + ["text"]
    rows: list[list[Any]] = []
    cell_kinds: list[list[str]] = []
    for set_name in sorted(gap["criteria_set"].unique().to_list()):
        part = gap.filter(pl.col("criteria_set") == set_name)
        set_zh = _set_title(sets.get(set_name), set_name)
        for sid in sorted(part["specialty_town_id"].unique().to_list()):
            town = part.filter(pl.col("specialty_town_id") == sid)
            zh, en = gap_lines(town, sname, set_name, year)  # the one phrasing (contract 6.1)
            by = {r["indicator"]: r for r in town.iter_rows(named=True)}
            row: list[Any] = [year, set_zh, sid, sname.get(sid, ""), town.filter(~pl.col("met")).height,
                              zh, en]
            rk = kinds[:7]
            for ind in inds:
                r = by.get(ind.name)
                if r is None:  # this set does not read the indicator
                    row += [None, None, None, ""]
                    rk += ["text"] * 4
                    continue
                for col in ("value", "threshold", "shortfall"):
                    row.append(_cell(r[col], ind.kind))
                    rk.append(_number_kind(ind.kind, r[col]))
                row.append("是" if r["met"] else "否")
                rk.append("text")
            rows.append(row)
            cell_kinds.append(rk)
    if not rows:
        s.note(f"{year}年无认定差距数据（eval_gap）/ no distance to recognition for {year}")
    s.table(headers, kinds, rows, cell_kinds=cell_kinds)


def _target_sheet(wb: xlsxwriter.Workbook, fmt: dict[str, Any], targets: pl.DataFrame | None,
                  year: int, date_text: str, names: dict[tuple[str, str], str]) -> None:
    """目标进度 (internal): the eval_target rows up to ``year`` + 1 as `progress_frame` reads them
    (contract 6.2): 完成率 is its completion, 累计同比 its to_date_yoy, 按进度应达 its
    expected_to_date; laggards on the light red fill."""
    last = year + 1
    t = targets.filter(pl.col("year") <= last) if targets is not None else None
    years = sorted(t["year"].unique().to_list()) if t is not None else []
    which = "、".join(str(y) for y in years) if years else "无 / none"
    s = _Sheet(wb, TARGET_SHEET, f"年度目标及进度（内部）— 截至{last}年",
               f"{date_text}；来源：eval_target（reference/targets.csv）；{last}年及以前（含下一年度）"
               f"各年的目标，本表含：{which}；金额单位：万元；浅红底色为落后的目标 / targets of every "
               f"year up to {last} (the next year included); laggards in light red", fmt, date_text)
    # the town or specialty town as the quality report shows a town: code, then name
    headers = ["年度", "乡镇/专业镇", "层级", "指标", "单位", "目标值", "实际值", "完成率",
               "最新所属期", "本年累计", "按进度应达", "上年同期", "累计同比", "状态", "是否落后"]
    kinds = ["int", "text", "text", "text", "text", "score", "score", "pct",
             "text", "score", "score", "score", "pct", "text", "text"]
    if targets is None or targets.is_empty():
        s.note(NO_TARGETS)
    elif t is not None and t.is_empty():
        s.note(f"截至{last}年尚无目标（reference/targets.csv）/ no targets up to {last}")
    rows: list[list[Any]] = []
    cell_kinds: list[list[str]] = []
    marked: list[bool] = []
    if t is not None and t.height:
        for r in progress_frame(t, names).sort("year", maintain_order=True).iter_rows(named=True):
            k = r["kind"]
            unit = "万元" if k == "money" else "%" if k in ("ratio", "yoy") else r["unit"]
            who = r["id"] if r["name"] == r["id"] else f"{r['id']} {r['name']}"
            rows.append([r["year"], who, LEVEL_ZH.get(r["level"], r["level"]), r["indicator_zh"],
                         unit, _cell(r["target"], k), _cell(r["actual"], k), r["completion"],
                         r["latest_period"], _cell(r["to_date"], k),
                         _cell(r["expected_to_date"], k), _cell(r["to_date_prev"], k),
                         r["to_date_yoy"], r["status_zh"], "是" if r["laggard"] else "否"])
            cell_kinds.append(["int", "text", "text", "text", "text",
                               _number_kind(k, r["target"]), _number_kind(k, r["actual"]), "pct",
                               "text", _number_kind(k, r["to_date"]),
                               _number_kind(k, r["expected_to_date"]),
                               _number_kind(k, r["to_date_prev"]), "pct", "text", "text"])
            marked.append(bool(r["laggard"]))
    s.table(headers, kinds, rows, cell_kinds=cell_kinds, marked=marked)


def _missing_sheet(wb: xlsxwriter.Workbook, fmt: dict[str, Any], missing: pl.DataFrame, year: int,
                   date_text: str) -> None:
    """未报企业 (internal): the report_missing flags of ``year`` (contract 8), as the quality
    report lists them, largest output value of the year before first."""
    zh, en = FLAGS[str(FlagName.REPORT_MISSING)].label
    s = _Sheet(wb, MISSING_SHEET, f"{year}年未报企业（内部）— {zh} / {en}",
               f"{date_text}；来源：dq_flag（report_missing）及{year - 1}年企业年报；金额单位：万元；"
               "请在认定评价前催报，指标不作插补 / chase them before the evaluation; nothing is imputed",
               fmt, date_text)
    headers = ["年度", "统一社会信用代码", "企业名称（上年年报）", "乡镇", "所属专业镇",
               f"{year - 1}年工业总产值(万元)"]
    kinds = ["int", "text", "text", "text", "text", "money"]
    rows = [[r["year"], r["uscc"], r["name"],
             " ".join(v for v in (r["town_code"], r["town_name"]) if v),
             r["specialty_towns"], _cell(r["output_value"], "money")]
            for r in missing.iter_rows(named=True)]
    if not rows:
        s.note(NO_MISSING)
    s.table(headers, kinds, rows)


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
    # eval_gap and eval_target are newer than some warehouses, and the pipeline's frames
    # may not carry them: the gap is then computed as eval_gap is (gap.gap_table), in the
    # table's key order like a read (gap_lines says the shortfalls in the order of the rows)
    if _has_table(url, "eval_gap"):
        gap = read("eval_gap").filter(pl.col("year") == year)
    else:
        gap = gap_table(ind_s.filter(pl.col("year") == year), stowns, list(sets.values())).sort(GAP_KEY)
    targets = read("eval_target") if _has_table(url, "eval_target") else None
    missing = missing_reports(read("dq_flag"), read("fact_enterprise_year"), read) \
        .filter(pl.col("year") == year)

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
                   "金额单位：万元 / money in 10,000 yuan", fmt, date_text)
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

    # distance to recognition, targets and progress, missing reports
    _gap_sheet(wb, fmt, gap, year, date_text, sname, sets)
    _target_sheet(wb, fmt, targets, year, date_text, target_names(towns, stowns))
    _missing_sheet(wb, fmt, missing, year, date_text)

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
               "blank money cells are suppressed (disclosure control)", fmt, date_text)
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
               f"{date_text}；来源：ind_specialty_town_year；金额单位：万元", fmt, date_text)
    s.table(headers, kinds, rows)

    # notes
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
        (GAP_SHEET, "各标准集下各专业镇距认定还差多少（eval_gap，数据约定 6.1），文字与 townstat evaluate "
                    "相同 / what each specialty town still lacks, criterion by criterion"),
        (TARGET_SHEET, f"内部：县定年度目标及进度（eval_target，数据约定 6.2），含{year + 1}年；"
                       "浅红底色为落后的目标（见“是否落后”列） / targets and progress, laggards in light red"),
        (MISSING_SHEET, f"内部：{year}年{FLAGS[str(FlagName.REPORT_MISSING)].label[0]}的企业（dq_flag "
                        "report_missing，数据约定 8），请在认定评价前催报 / enterprises that did not report"),
    ]
    for r in per_source.iter_rows(named=True):
        lines.append((f"来源：{SOURCE_ZH.get(r['source'], r['source'])}",
                      f"{r['files']} 个文件，{int(r['rows_loaded'] or 0):,} 行通过校验 / files, rows loaded"))
    for name, cs in sets.items():
        lines.append((f"标准集：{name}", f"{cs.name_zh}；依据 / source: {cs.source}"))
    _Sheet(wb, NOTE_SHEET, "说明 / Notes", "", fmt, date_text).pairs(lines)
    wb.close()
    return out


def _unique_sheet_name(title: str, used: set[str]) -> str:
    bad = set('[]:*?/\\')
    base = "".join("_" if ch in bad else ch for ch in title)[:31] or "评价"
    name, i = base, 2
    while name in used or name in FIXED_SHEETS:
        suffix = f"_{i}"
        name, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(name)
    return name
