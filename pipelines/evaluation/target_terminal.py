"""`townstat targets --year Y`: progress towards the county's targets as a terminal table
(contract v4 section 6.2; seed 四(五), 五(四)).

``render_targets(url, year, level)`` reads ``eval_target`` for the year, the names from
``dim_town`` / ``dim_specialty_town``, the data date from ``dq_file``, and prints one boxed
block, Chinese first: per target its level, name, indicator (Chinese name and unit), target,
the value reached (the year's actual, else the progress to date "截至 YYYY-MM"), 完成率,
累计同比 and status. Every meaning (status, pace, 累计同比, 完成率) comes from
`pipelines.evaluation.progress.progress_frame`; this module only lays it out. Money is shown in
万元, ratios as percentages. Names and ids pass through the one masking (`pipelines.echo`), so
no person-ID-shaped text reaches the terminal. Columns are aligned for double-width characters
(`pipelines.lineage.display`).

eval_target is internal (the reader role may not read it: actual values are not
disclosure-controlled), and the footer says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy import inspect

from pipelines.echo import printable
from pipelines.evaluation.progress import LEVEL_ZH, STATUS_ZH, progress_frame, target_names
from pipelines.lineage.display import boxed, display_width, table
from pipelines.warehouse.engine import make_engine, sqlite_file
from pipelines.warehouse.read import read_table

NONE = "-"
WAN = 10_000.0  # 1 万元 in yuan
HEADERS = ["层级", "名称", "指标", "目标", "完成值", "完成率", "累计同比", "状态"]
ALIGNS = ["left", "left", "left", "right", "right", "right", "right", "left"]
#: the raw files a target may come from (contract section 6.2), as dq_file lists them
TARGET_FILES = ("reference/targets.csv", "reference/targets.xlsx")


@dataclass(frozen=True)
class TargetsView:
    """What `townstat targets` prints, and how many targets it shows (0: exit 1)."""

    text: str
    count: int


def warehouse_tables(url: str) -> set[str]:
    """The tables the warehouse holds; empty when there is no warehouse yet (a SQLite file
    that does not exist is not created)."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        return set()
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _clean(text: str | None) -> str:
    """A name or id as the terminal shows it: person-ID-shaped tokens masked, no control chars."""
    return printable(text) or NONE


def unit_shown(unit: str) -> str:
    """The unit a value is shown in: money in 万元, ratios as %, counts in their own unit."""
    return {"元": "万元", "ratio": "%"}.get(unit, unit)


def format_value(value: float | None, unit: str) -> str:
    """A target or a value reached, in the unit shown: 万元 with 2 decimals, a ratio as a
    percentage, a count whole when it is whole."""
    if value is None:
        return NONE
    if unit == "元":
        return f"{value / WAN:,.2f}"
    if unit == "ratio":
        return f"{value * 100:.2f}%"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _percent(value: float | None, signed: bool = False) -> str:
    if value is None:
        return NONE
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def _indicator_cell(name_zh: str, unit: str) -> str:
    return name_zh if unit == "ratio" else f"{name_zh}({unit_shown(unit)})"


def _reached(r: dict) -> str:
    """The year's actual, else the progress to date with its month."""
    if r["actual"] is not None:
        return format_value(r["actual"], r["unit"])
    if r["to_date"] is not None and r["latest_period"] is not None:
        return f"{format_value(r['to_date'], r['unit'])} (截至 {r['latest_period']})"
    return NONE


def _row(r: dict) -> list[str]:
    return [
        LEVEL_ZH.get(r["level"], r["level"]),
        _clean(r["name"]),
        _indicator_cell(r["indicator_zh"], r["unit"]),
        format_value(r["target"], r["unit"]),
        _reached(r),
        _percent(r["completion"]),
        _percent(r["to_date_yoy"], signed=True),
        r["status_zh"],
    ]


def _data_date(url: str, tables: set[str]) -> str | None:
    """The latest modification time of a loaded raw file (dq_file), None when unknown."""
    if "dq_file" not in tables:
        return None
    files = read_table(url, "dq_file").filter(pl.col("status") == "loaded")
    if files.is_empty() or files["mtime"].drop_nulls().is_empty():
        return None
    return f"{files['mtime'].max():%Y-%m-%d %H:%M} UTC"


def _targets_file_note(url: str, tables: set[str]) -> list[str]:
    """Which targets file is in force and how many of its rows were rejected (from dq_file)."""
    if "dq_file" not in tables:
        return []
    files = read_table(url, "dq_file").filter(pl.col("path").is_in(list(TARGET_FILES)))
    notes = []
    for r in files.sort("path").iter_rows(named=True):
        if r["status"] == "loaded":
            rejected = r["rows_rejected"] or 0
            tail = (f"，拒收 {rejected} 行（见 townstat quality-report）" if rejected else "")
            notes.append(f"目标文件 {r['path']}：读入 {r['rows_read'] or 0} 行，采用 {r['rows_loaded'] or 0} 行"
                         f"{tail}。")
        else:
            notes.append(f"目标文件 {r['path']} 未采用（{r['status']}，原因见 townstat quality-report）。")
    return notes


def _names(url: str, tables: set[str]) -> dict[tuple[str, str], str]:
    if not {"dim_town", "dim_specialty_town"} <= tables:
        return {}
    return target_names(read_table(url, "dim_town"), read_table(url, "dim_specialty_town"))


def _footer(frame: pl.DataFrame, year: int, data_date: str | None, file_notes: list[str]) -> list[str]:
    counts = {s: frame.filter(pl.col("status") == s).height for s in STATUS_ZH}
    n, lag = frame.height, int(frame["laggard"].sum())
    lines = [
        f"共 {n} 项目标，已达标 {counts['met']}，落后 {lag}（未达标 {counts['missed']}、进度落后 "
        f"{counts['behind']}），进度正常 {counts['on_track']}，暂无数据 {counts['no_data']}。",
        "完成值：有全年指标值时为全年实际值；否则税收合计为本年1月至截至月的累计税收，参保人数为截至月的"
        "参保人数。完成率 = 完成值/目标（目标为0时不计）。",
        "状态：有全年实际值时，实际值达到目标为已达标，否则未达标；年内，税收合计累计达到目标x月数/12"
        "（时间进度）、参保人数（时点数）达到目标为进度正常，否则进度落后；没有数据为暂无数据。",
    ]
    # the pace within the year, for the flows still under way (no actual for the year yet)
    paces = (frame.filter(pl.col("expected_to_date").is_not_null()
                          & pl.col("status").is_in(["on_track", "behind"]))
             .select("latest_period", "month").unique().sort("latest_period"))
    for p, m in paces.iter_rows():
        lines.append(f"时间进度：税收截至 {p}，应完成全年目标的 {m}/12 = {m / 12 * 100:.1f}%。")
    lines.append("累计同比：与上年同期相比（税收为相同月份的累计，参保为相同月份的人数）；上年同期为0时不计（-）。")
    lines.append("金额单位万元（1 万元 = 10,000 元）；比率和增速以百分数显示。")
    periods = (frame.filter(pl.col("latest_period").is_not_null())
               .group_by("indicator").agg(pl.col("latest_period").max()).sort("indicator"))
    latest = {i: p for i, p in periods.iter_rows()}
    parts = [f"{label}数据截至 {latest[i]}" for i, label in (("tax_total", "税收"), ("insured_persons", "参保"))
             if i in latest]
    when = (f"数据截至 {data_date}（已载入原始文件的最新修改时间）" if data_date
            else "数据时间未知（仓库中没有已载入的文件记录）")
    lines.append(f"统计年度 {year}；{when}" + ("；" + "，".join(parts) if parts else "") + "。")
    lines.extend(file_notes)
    lines.append("内部资料：完成值未经披露控制（来源 eval_target），不得对外公布。")
    lines.append(
        f"Progress towards the {year} targets: {n} targets, {counts['met']} met, {lag} lagging "
        f"({counts['missed']} missed, {counts['behind']} behind), {counts['on_track']} on track, "
        f"{counts['no_data']} no data yet. Reached = the year's actual, else tax to date / persons "
        "insured in the latest month; money in 10,000 yuan; internal, not disclosure-controlled."
    )
    return lines


def target_years(url: str, tables: set[str] | None = None) -> list[int]:
    """The years eval_target holds targets for."""
    tables = warehouse_tables(url) if tables is None else tables
    if "eval_target" not in tables:
        return []
    return sorted(read_table(url, "eval_target")["year"].unique().to_list())


def _none_message(year: int, level: str | None, years: list[int], empty_warehouse: bool,
                  raw_hint: str) -> str:
    have = "、".join(str(y) for y in years) or "无"
    have_en = ", ".join(str(y) for y in years) or "none"
    scope = f"{LEVEL_ZH[level]}" if level else ""
    scope_en = f" at level {level}" if level else ""
    lines = []
    if empty_warehouse:
        lines.append("数据仓库为空（尚未刷新）/ the warehouse is empty (never refreshed).")
    lines += [
        f"{year} 年没有{scope}年度目标。已有目标的年份：{have}。",
        f"设定目标：把目标填入 {raw_hint}/reference/targets.csv（或 targets.xlsx；列：层级、编号、年度、指标、"
        "目标值），再运行 townstat refresh；填报模板（带下拉列表和填写说明）："
        "townstat targets --template --out targets.xlsx。",
        f"No targets for {year}{scope_en}. Years with targets: {have_en}.",
        f"To set targets, put them in {raw_hint}/reference/targets.csv (or targets.xlsx; columns level, "
        "id, year, indicator, target) and run townstat refresh; for a template with drop-down lists "
        "and instructions: townstat targets --template --out targets.xlsx.",
    ]
    return "\n".join(lines)


def render_targets(url: str, year: int, level: str | None = None, raw_hint: str = "raw") -> TargetsView:
    """The progress towards ``year``'s targets (``level``: town or specialty_town, else both)
    as terminal text; count 0 (and a message saying how to set targets) when there are none."""
    tables = warehouse_tables(url)
    years = target_years(url, tables)
    et = pl.DataFrame()
    if "eval_target" in tables:
        et = read_table(url, "eval_target", "year = :y", {"y": year})
        if level is not None:
            et = et.filter(pl.col("level") == level)
    if et.is_empty():
        return TargetsView(_none_message(year, level, years, not tables, raw_hint) + "\n", 0)

    frame = progress_frame(et, _names(url, tables))
    rows = [_row(r) for r in frame.iter_rows(named=True)]
    body = table(HEADERS, rows, ALIGNS, max_widths=[None, 24, 28, None, None, None, None, None])
    width = display_width(body[0])
    scope = f"（{LEVEL_ZH[level]}）" if level else ""
    scope_en = f", level {level}" if level else ""
    title = [
        f"{year} 年度目标完成进度{scope}",
        f"Progress towards the county's {year} targets{scope_en}: {frame.height} 项目标 / targets",
    ]
    foot = _footer(frame, year, _data_date(url, tables), _targets_file_note(url, tables))
    rule = "+" + "-" * (width - 2) + "+"
    lines = [rule, *boxed(title, width), *body, *boxed(foot, width), rule]
    return TargetsView("\n".join(lines) + "\n", frame.height)

