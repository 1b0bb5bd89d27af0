"""The data-quality report for the bureau's staff: one self-contained HTML page.

Chinese first, English second; it reads top to bottom, numbered 一、二、三…:

1. 概要 / summary: what arrived (files by source and status, rows read, loaded, rejected),
   what was refused and why (each rejected file with its reason in plain words, the rejected
   rows by rule), what changed since the last refresh (``dq_file`` compared with the snapshot
   that the previous run wrote beside the report, ``quality_snapshot.json``) and what to do
   next (one action per rejected file, per file, rule and column of rejected rows — "修正
   tax/2025-03.csv 第 12 行的统一社会信用代码（…）后重新放入 raw/" — per warning rule and for
   the missing reports);
2. each file seen (``dq_file``): status, rows read / loaded / rejected, and its message in
   the catalogue's words (`advice.explain`: a library's error becomes a plain sentence, its
   own text a small "detail" line without any absolute path or trace); the rejected count
   links to the file's rows below and to ``rejected_rows.csv``;
3. the rejected rows (``dq_rejected_row``): per file (an anchor each), the rule, column and
   rows to fix; then per rule, each with its file, row number (as the person sees it when
   opening the file), column and offending value — a value in a column named ``person_id``
   is never printed (the warehouse never stores one anyway). A province has half a million
   of them: the page lists the first ``DETAIL_ROWS`` of each rule, and ``rejected_rows.csv``
   beside it (UTF-8 with BOM, opens in Excel) has them all;
4. the cross-source warnings (``dq_flag``) per enterprise, the most-flagged first;
5. the enterprises that did not report (``report_missing``), each with its report of the year
   before (name, town, output value) and the specialty towns it belongs to (its town in the
   specialty town's area, its industry among the core or supporting codes), so that the
   bureau can chase them before the evaluation.

Inline CSS, no script, no network. Safe to open (contract v4, sections 4 and 9): every value
is HTML-escaped; what is echoed from ``dq_file`` and ``dq_rejected_row`` (path, column, value,
message) goes through the one masking of person-ID-shaped tokens (`safe_cells.echoed_*`), also
in the snapshot; ``rejected_rows.csv`` is written by `safe_cells.write_csv` (no formula cells).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.indicators.catalogue import SPECIALTY_TOWN_ID
from pipelines.indicators.specialty import in_area, specialty_industries
from pipelines.ingest.limits import REJECTED_ROWS_PER_RULE
from pipelines.reports.advice import RAW, Explained, column_label, explain
from pipelines.reports.safe_cells import echoed_files, echoed_rejected, write_csv
from pipelines.reports.tables import TableSource, table_reader
from schemas.rules import FLAGS, RULES, FlagName

SNAPSHOT_NAME = "quality_snapshot.json"
SNAPSHOT_FIELDS = ("path", "source", "status", "sha256", "rows_read", "rows_loaded",
                   "rows_rejected")
COUNT_FIELDS = ("rows_read", "rows_loaded", "rows_rejected")
WITHHELD = "（不显示 / withheld）"
#: Rows of one rule shown with their values on the page (all of them are in REJECTED_CSV).
DETAIL_ROWS = 2_000
#: Row numbers listed per file and column before "… N more".
ROW_NUMBERS = 500
#: Enterprises listed in the warnings section (all warnings are in the warehouse's dq_flag).
FLAGGED_ENTERPRISES = 2_000
REJECTED_CSV = "rejected_rows.csv"
#: Row numbers listed per file, rule and column in the by-file part of section 3.
FILE_ROW_NUMBERS = 50
#: Actions of one kind in "what to do next" (rejected files, rows to fix, removed files).
ACTION_ITEMS = 20
#: Row numbers named in one action, and rule-and-column items of one file.
ACTION_ROWS = 5
ACTION_CLAUSES = 8
#: Rejected files listed in the summary (all are in section 2).
SUMMARY_FILES = 50
#: Changes since the last refresh shown open in the summary; more are folded away.
CHANGES_SHOWN = 30

STATUS_ZH = {"loaded": "已加载", "rejected": "已拒收", "duplicate": "重复文件", "removed": "已移除"}
SOURCE_ZH = {"enterprise": "企业年报", "tax": "税收", "employment": "社保参保",
             "registry": "市场主体登记", "reference": "参考表", None: "无来源", "": "无来源"}
SOURCE_ORDER = ("enterprise", "tax", "employment", "registry", "reference")
STATUS_ORDER = ("loaded", "rejected", "duplicate", "removed")
#: Titles (Chinese, English) of the rules and flags, from the rule catalogue.
RULE_ZH = {name: rule.label for name, rule in RULES.items()}
FLAG_ZH = {name: flag.label for name, flag in FLAGS.items()}

CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",Arial,sans-serif;margin:0;
 background:#f5f7fa;color:#1f2933;font-size:14px;line-height:1.5}
header{background:#8b1a1a;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.9}main{padding:12px 28px 40px;max-width:1400px}
h2{font-size:18px;border-left:4px solid #8b1a1a;padding-left:8px;margin:28px 0 10px}
h3{font-size:15px;margin:18px 0 6px}.en{color:#5f6b7a;font-weight:normal;font-size:.9em}
table{border-collapse:collapse;background:#fff;width:100%;margin:6px 0 14px;font-size:13px}
th,td{border:1px solid #d9dee5;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef2f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafbfc}
.st-loaded{color:#1e7e34}.st-rejected{color:#c82333;font-weight:600}.st-duplicate{color:#8a6d00}
.st-removed{color:#6c757d}.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #d9dee5;border-radius:6px;padding:10px 16px;min-width:150px}
.card b{display:block;font-size:22px}details{margin:4px 0 10px}summary{cursor:pointer}
.note{color:#5f6b7a;font-size:12px}.msg{max-width:520px;white-space:pre-wrap;overflow-wrap:anywhere}
.detail{color:#6c757d;font-size:11px;margin-top:2px}nav{margin:10px 0 0;font-size:13px}
nav a{margin-right:14px}ol.todo li{margin:0 0 6px}tr.total td{font-weight:600}
h4{font-size:14px;margin:12px 0 4px}
"""


def _e(v: Any) -> str:
    return "" if v is None else html.escape(str(v))


def _n(v: Any) -> str:
    return "" if v is None else f"{int(v):,}"


def _safe_value(column: str | None, value: str | None) -> str:
    """The offending value for display; never a person ID (a ``person_id`` column's value,
    or its part of a composite key value, is withheld)."""
    if value is None or value == "":
        return ""
    cols = (column or "").split(";")
    if "person_id" not in cols:
        return value
    parts = value.split(";")
    if len(cols) == 1 or len(parts) != len(cols):
        return WITHHELD
    return ";".join("***" if c == "person_id" else p for c, p in zip(cols, parts, strict=True))


def _esc(expr: pl.Expr) -> pl.Expr:
    """`html.escape` (quotes included) as a Polars expression; null becomes ''."""
    out = expr.cast(pl.String).fill_null("")
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        out = out.str.replace_all(a, b, literal=True)
    return out


def safe_values(rej: pl.DataFrame) -> pl.Series:
    """`_safe_value` of every row's (column, value), without a Python loop over the rows."""
    d = rej.select(pl.col("value"), pl.col("column").fill_null("").str.split(";").alias("_c"),
                   pl.col("value").fill_null("").str.split(";").alias("_p")).with_row_index("_i")
    has_id = pl.col("_c").list.contains("person_id")
    composite = (d.filter(has_id & (pl.col("_c").list.len() > 1)
                          & (pl.col("_c").list.len() == pl.col("_p").list.len()))
                 .select("_i", "_c", "_p").explode("_c", "_p")
                 .with_columns(pl.when(pl.col("_c") == "person_id").then(pl.lit("***"))
                               .otherwise(pl.col("_p")).alias("_m"))
                 .group_by("_i", maintain_order=True).agg(pl.col("_m").str.join(";")))
    return d.join(composite, on="_i", how="left", maintain_order="left").select(
        pl.when(pl.col("value").is_null() | (pl.col("value") == "")).then(pl.lit(""))
        .when(~has_id).then(pl.col("value"))
        .when(pl.col("_m").is_not_null()).then(pl.col("_m"))
        .otherwise(pl.lit(WITHHELD)).alias("value"))["value"]


def write_rejected_csv(rej: pl.DataFrame, out: Path) -> Path:
    """Every rejected row, person IDs withheld, for the staff who fix the files (Excel-ready).

    ``rej``: the rows as `safe_cells.echoed_rejected` gives them (the report masks them once,
    for the page, this CSV and the snapshot; 600,000 rows of a province are not probed
    twice). Text a spreadsheet would take for a formula is written as text. Without the
    message: it repeats file, row and column in two languages (400 bytes a row); the rule's
    name says what is wrong, and the message stays in dq_rejected_row."""
    rows = rej.with_columns(safe_values(rej)).sort("rule", "path", "source_row", "column").select(
        pl.col("rule").alias("规则 rule"),
        pl.col("rule").replace_strict({k: v[0] for k, v in RULE_ZH.items()}, default=pl.col("rule"))
        .alias("规则说明 rule (zh)"),
        pl.col("path").alias("文件 file"), pl.col("source_row").alias("行号 row"),
        pl.col("column").alias("列 column"), pl.col("value").alias("原值 value"))
    return write_csv(rows, out)


def file_snapshot(dq_file: pl.DataFrame) -> dict[str, Any]:
    """The snapshot written beside the report: per file path, its status and counts."""
    files = {}
    for row in dq_file.sort("path").iter_rows(named=True):
        files[row["path"]] = {k: row[k] for k in SNAPSHOT_FIELDS if k != "path"}
    return {"generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "files": files}


def diff_snapshots(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, list]:
    """New, removed and changed files between two snapshots (keyed by path)."""
    if before is None:
        return {"new": [], "removed": [], "changed": [], "first_run": True}
    old, new = before.get("files", {}), after["files"]
    added = sorted(p for p in new if p not in old)
    removed = sorted(p for p in old if p not in new or (
        new[p]["status"] == "removed" and old[p]["status"] != "removed"))
    changed = []
    for p in sorted(set(old) & set(new)):
        if p in removed:
            continue
        diffs = {k: (old[p].get(k), new[p].get(k)) for k in (*COUNT_FIELDS, "status", "sha256")
                 if old[p].get(k) != new[p].get(k)}
        if diffs:
            changed.append({"path": p, "changes": diffs})
    return {"new": added, "removed": removed, "changed": changed, "first_run": False}


def file_anchor(key: Any) -> str:
    """The id of a file's part in section 3 (its rows), from its file_id (or path)."""
    return "file-" + hashlib.sha256(str(key).encode()).hexdigest()[:12]


def _key_col(df: pl.DataFrame) -> str:
    """What ties a rejected row to its dq_file row: file_id (path when a frame lacks it)."""
    return "file_id" if "file_id" in df.columns else "path"


def explain_files(dq_file: pl.DataFrame) -> dict[str, Explained]:
    """`advice.explain` of every dq_file row, by file_id."""
    return {r["file_id"]: explain(r["message"], r["path"] or "", r["status"], r["rows_rejected"])
            for r in dq_file.select("file_id", "path", "status", "rows_rejected", "message").iter_rows(named=True)}


def _explained_html(x: Explained) -> str:
    """A file's message: the sentence (Chinese, then English), then the library's text small."""
    out = _e(x.zh) + (f"<br><span class=en>{_e(x.en)}</span>" if x.en else "")
    if x.detail:
        out += f"<div class=detail>详情 / detail: {_e(x.detail)}</div>"
    return out


def _files_section(dq_file: pl.DataFrame, explained: dict[str, Explained] | None = None,
                   linked: frozenset[str] | set[str] = frozenset()) -> str:
    """Section 2: every file. ``linked``: the file_ids whose rows section 3 lists (their
    rejected count links there)."""
    explained = explain_files(dq_file) if explained is None else explained
    rows = []
    order = {"rejected": 0, "removed": 1, "duplicate": 2, "loaded": 3}
    df = dq_file.with_columns(
        pl.col("status").replace_strict(order, default=9, return_dtype=pl.Int32).alias("_o")
    ).sort("_o", "path", "file_id")
    for r in df.iter_rows(named=True):
        st = r["status"]
        rejected = _n(r["rows_rejected"])
        if r["rows_rejected"] and r["file_id"] in linked:
            rejected = (f"<a href='#{file_anchor(r['file_id'])}'>{rejected}</a><br>"
                        f"<a class=note href='{REJECTED_CSV}'>{REJECTED_CSV}</a>")
        rows.append(
            f"<tr><td>{_e(r['path'])}</td><td>{_e(SOURCE_ZH.get(r['source'], r['source']))}"
            f"<br><span class=en>{_e(r['source'])}</span></td>"
            f"<td class='st-{_e(st)}'>{_e(STATUS_ZH.get(st, st))}<br><span class=en>{_e(st)}</span></td>"
            f"<td class=n>{_n(r['rows_read'])}</td><td class=n>{_n(r['rows_loaded'])}</td>"
            f"<td class=n>{rejected}</td>"
            f"<td class=msg>{_explained_html(explained.get(r['file_id']) or explain(r['message'], r['path'] or ''))}"
            "</td></tr>")
    return (
        "<section id='files'><h2>二、文件清单 <span class=en>Files received</span></h2>"
        "<p class=note>拒收行数链接到本页该文件的拒收行和 rejected_rows.csv。 / A rejected count links to "
        "the file's rows on this page and to rejected_rows.csv.</p>"
        "<table><thead><tr><th>文件 <span class=en>file</span></th><th>来源 <span class=en>source</span></th>"
        "<th>状态 <span class=en>status</span></th><th>读取行数 <span class=en>rows read</span></th>"
        "<th>通过行数 <span class=en>rows loaded</span></th><th>拒收行数 <span class=en>rows rejected</span></th>"
        "<th>说明 <span class=en>message</span></th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table></section>")


def _rows_list(more_than: int) -> pl.Expr:
    """``rows`` (the first row numbers, joined) and, past ``more_than``, how many more (``n`` is
    a count, unsigned: signed before subtracting, else a short list would read 4294967295 more)."""
    more = pl.col("n").cast(pl.Int64) - more_than
    return pl.concat_str(pl.col("rows"), pl.when(more > 0).then(
        pl.format(" … 另 {} 行 / {} more", more, more)).otherwise(pl.lit("")))


def _by_file_part(rej: pl.DataFrame) -> str:
    """Per file (an anchor each, `file_anchor`): rule, column and the rows to fix."""
    key = _key_col(rej)
    zh = {k: v[0] for k, v in RULE_ZH.items()}
    en = {k: v[1] for k, v in RULE_ZH.items()}
    groups = rej.group_by(*dict.fromkeys((key, "path", "rule", "column"))).agg(
        pl.len().alias("n"),
        pl.col("source_row").sort().head(FILE_ROW_NUMBERS).cast(pl.String).str.join(", ").alias("rows"),
    ).sort(key, "rule", "column")
    cells = groups.select(key, "n", pl.concat_str(
        pl.lit("<tr><td><a href='#rule-"), _esc(pl.col("rule")), pl.lit("'>"),
        _esc(pl.col("rule").replace_strict(zh, default=pl.col("rule"))), pl.lit("</a> <span class=en>"),
        _esc(pl.col("rule").replace_strict(en, default=pl.col("rule"))), pl.lit("</span></td><td>"),
        _esc(pl.col("column")), pl.lit("</td><td>"), _rows_list(FILE_ROW_NUMBERS), pl.lit("</td></tr>"),
    ).alias("tr"))
    files = cells.group_by(key, maintain_order=True).agg(pl.col("n").sum(), pl.col("tr").str.join(""))
    if key != "path":
        files = files.join(rej.group_by(key).agg(pl.col("path").min()), on=key, how="left")
    files = files.sort(*dict.fromkeys(("path", key)))
    out = ["<h3>按文件 <span class=en>By file</span></h3>"]
    for r in files.iter_rows(named=True):
        k, n, tr, path = r[key], r["n"], r["tr"], r["path"]
        out.append(
            f"<div class=filerows id='{file_anchor(k)}'><h4>{_e(path)} <span class=en>— {n:,} 条 / records · "
            f"<a href='#files'>文件清单 / files</a> · <a href='{REJECTED_CSV}'>{REJECTED_CSV}</a></span></h4>"
            "<table><thead><tr><th>规则 <span class=en>rule</span></th><th>列 <span class=en>column</span></th>"
            "<th>需修改的行号 <span class=en>rows to fix</span></th></tr></thead><tbody>"
            f"{tr}</tbody></table></div>")
    return "".join(out)


def _rejected_section(rej: pl.DataFrame) -> str:
    """Section 3: the rejected rows, per file then per rule."""
    out = ["<section id='rejected-rows'><h2>三、拒收行（按文件、按规则） <span class=en>Rejected rows, by file "
           "and by rule</span></h2>",
           "<p class=note>行号为打开文件时看到的行号（从1起，含表头）。身份证号不显示。完整清单见同一文件夹的 "
           f"<a href='{REJECTED_CSV}'>{REJECTED_CSV}</a>。 / Row numbers are those seen when opening the "
           "file (1-based, header rows counted). Person IDs are never shown. The complete list is "
           f"<a href='{REJECTED_CSV}'>{REJECTED_CSV}</a> beside this page.</p>"]
    if rej.height == 0:
        return "".join(out) + "<p>无拒收行 / no rejected rows.</p></section>"
    summary = rej.group_by("rule").agg(pl.len().alias("n"), pl.col("source_row").n_unique()
                                       .alias("rows")).sort(["n", "rule"], descending=[True, False])
    out.append("<table><thead><tr><th>规则 <span class=en>rule</span></th><th>记录数 <span class=en>"
               "records</span></th></tr></thead><tbody>")
    for r in summary.iter_rows(named=True):  # one row per rule
        zh, en = RULE_ZH.get(r["rule"], (r["rule"], r["rule"]))
        out.append(f"<tr><td><a href='#rule-{_e(r['rule'])}'>{_e(zh)}</a> <span class=en>{_e(en)} "
                   f"({_e(r['rule'])})</span></td><td class=n>{_n(r['n'])}</td></tr>")
    out.append("</tbody></table>")
    out.append(_by_file_part(rej))
    out.append("<h3>按规则 <span class=en>By rule</span></h3>")
    for rule in summary["rule"].to_list():
        part = rej.filter(pl.col("rule") == rule).sort("path", "source_row", "column")
        zh, en = RULE_ZH.get(rule, (rule, rule))
        out.append(f"<h3 id='rule-{_e(rule)}'>{_e(zh)} <span class=en>{_e(en)} — {_e(rule)}, "
                   f"{part.height:,} 条 / records</span></h3>")
        by_file = part.group_by("path", "column").agg(
            pl.len().alias("n"), pl.col("source_row").sort().head(ROW_NUMBERS).cast(pl.String).str.join(", ")
            .alias("rows")).sort("path", "column")
        cells = by_file.select(pl.concat_str(
            pl.lit("<tr><td>"), _esc(pl.col("path")), pl.lit("</td><td>"), _esc(pl.col("column")),
            pl.lit("</td><td>"), _rows_list(ROW_NUMBERS), pl.lit("</td></tr>")))
        out.append("<table><thead><tr><th>文件 <span class=en>file</span></th><th>列 <span class=en>"
                   "column</span></th><th>需修改的行号 <span class=en>rows to fix</span></th></tr></thead><tbody>")
        out.append("".join(cells.to_series().to_list()))
        shown = part.head(DETAIL_ROWS)
        note = "" if part.height <= DETAIL_ROWS else (
            f"（前 {DETAIL_ROWS:,} 条；全部 {part.height:,} 条见 {REJECTED_CSV} / the first "
            f"{DETAIL_ROWS:,}; all {part.height:,} are in {REJECTED_CSV}）")
        out.append("</tbody></table><details><summary>逐行明细（含原值） <span class=en>each row with "
                   f"its value</span>{note}</summary><table><thead><tr><th>文件 <span class=en>file</span></th>"
                   "<th>行号 <span class=en>row</span></th><th>列 <span class=en>column</span></th>"
                   "<th>原值 <span class=en>value</span></th></tr></thead><tbody>")
        rows = shown.with_columns(safe_values(shown)).select(pl.concat_str(
            pl.lit("<tr><td>"), _esc(pl.col("path")), pl.lit("</td><td class=n>"),
            pl.col("source_row").cast(pl.String), pl.lit("</td><td>"), _esc(pl.col("column")),
            pl.lit("</td><td>"), _esc(pl.col("value")), pl.lit("</td></tr>")))
        out.append("".join(rows.to_series().to_list()))
        out.append("</tbody></table></details>")
    return "".join(out) + "</section>"


def uscc_of_key() -> pl.Expr:
    """The enterprise of a flag's key: its last 18-character part, else its last part."""
    parts = pl.col("key").str.split("|")
    return pl.coalesce(parts.list.eval(pl.element().filter(pl.element().str.len_chars() == 18)).list.last(),
                       parts.list.last())


def _flags_section(flags: pl.DataFrame, names: pl.DataFrame) -> str:
    out = ["<section id='flags'><h2>四、跨来源预警（按企业） <span class=en>Cross-source warnings, by enterprise"
           "</span></h2>",
           "<p class=note>预警不拒收数据，请核实。 / Warnings reject nothing; please check them.</p>"]
    if flags.height == 0:
        return "".join(out) + "<p>无预警 / no warnings.</p></section>"
    df = flags.with_columns(uscc_of_key().alias("uscc"))
    counts = df.group_by("rule").len().sort(["len", "rule"], descending=[True, False])
    out.append("<table><thead><tr><th>预警规则 <span class=en>rule</span></th><th>条数 <span class=en>"
               "flags</span></th></tr></thead><tbody>")
    for r in counts.iter_rows(named=True):  # one row per rule
        zh, en = FLAG_ZH.get(r["rule"], (r["rule"], r["rule"]))
        out.append(f"<tr><td>{_e(zh)} <span class=en>{_e(en)} ({_e(r['rule'])})</span></td>"
                   f"<td class=n>{_n(r['len'])}</td></tr>")
    out.append("</tbody></table>")
    # the most-flagged enterprises first; their warnings are written out (not the 200,000 of a province)
    per = df.group_by("uscc").agg(pl.len().alias("n")).sort(["n", "uscc"], descending=[True, False])
    enterprises = per.height
    per = per.head(FLAGGED_ENTERPRISES)
    items = df.join(per.select("uscc"), on="uscc", how="semi", nulls_equal=True).sort(
        "uscc", "source", "key", "rule").select("uscc", pl.concat_str(
            pl.lit("<li>"), _esc(pl.col("rule").replace_strict({k: v[0] for k, v in FLAG_ZH.items()},
                                                               default=pl.col("rule"))),
            pl.lit(" <span class=en>("), _esc(pl.col("rule")), pl.lit(", "), _esc(pl.col("source")), pl.lit(" "),
            _esc(pl.col("key")), pl.lit(")</span>: "), _esc(pl.col("detail")), pl.lit("</li>")).alias("item")
    ).group_by("uscc", maintain_order=True).agg(pl.col("item").str.join(""))
    per = (per.join(items, on="uscc", how="left", maintain_order="left", nulls_equal=True)
           .join(names, on="uscc", how="left", maintain_order="left"))
    rows = per.select(pl.concat_str(
        pl.lit("<tr><td>"), _esc(pl.col("uscc")), pl.lit("</td><td>"), _esc(pl.col("name")),
        pl.lit("</td><td><ul>"), pl.col("item"), pl.lit("</ul></td></tr>")))
    if enterprises > FLAGGED_ENTERPRISES:
        out.append(f"<p class=note>预警最多的前 {FLAGGED_ENTERPRISES:,} 家企业（共 {enterprises:,} 家；全部预警见数据"
                   f"仓库表 dq_flag） / the {FLAGGED_ENTERPRISES:,} most-flagged enterprises of {enterprises:,} "
                   "(every warning is in the warehouse table dq_flag)</p>")
    out.append("<table><thead><tr><th>统一社会信用代码 <span class=en>USCC</span></th><th>企业名称 "
               "<span class=en>name</span></th><th>预警 <span class=en>warnings</span></th></tr></thead><tbody>")
    out.append("".join(rows.to_series().to_list()))
    out.append("</tbody></table></section>")
    return "".join(out)


def missing_reports(flags: pl.DataFrame, enterprise: pl.DataFrame, read) -> pl.DataFrame:
    """The report_missing flags as rows (year, uscc, name, town_code, town_name, specialty_towns,
    output_value): name, town and output value from the enterprise's report of year - 1;
    specialty_towns the '；'-joined names of the specialty towns it belongs to. `enterprise` is
    fact_enterprise_year; `read` gives a table by name (dim_town, dim_specialty_town, read only
    when there is a missing report)."""
    columns = {"year": pl.Int32, "uscc": pl.String, "name": pl.String, "town_code": pl.String,
               "town_name": pl.String, "specialty_towns": pl.String, "output_value": pl.Float64}
    parts = flags.filter(pl.col("rule") == str(FlagName.REPORT_MISSING)).select(
        pl.col("key").str.split("|").list.first().cast(pl.Int32, strict=False).alias("year"),
        pl.col("key").str.split("|").list.last().alias("uscc")).unique()
    if parts.height == 0:
        return pl.DataFrame(schema=columns)
    ent = enterprise.select(
        (pl.col("year").cast(pl.Int32) + 1).alias("year"), "uscc", "name", "town_code", "industry_code",
        pl.col("output_value").cast(pl.Float64))
    rows = parts.join(ent, on=["year", "uscc"], how="left")
    specialty = read("dim_specialty_town")
    belongs = (in_area(rows.lazy().select("year", "uscc", "town_code", "industry_code"), specialty)
               .join(specialty_industries(specialty), on=[SPECIALTY_TOWN_ID, "industry_code"], how="semi")
               .join(specialty.lazy().select(pl.col("id").alias(SPECIALTY_TOWN_ID), pl.col("name").alias("_st")),
                     on=SPECIALTY_TOWN_ID, how="left")
               .unique(["year", "uscc", SPECIALTY_TOWN_ID])
               .sort(SPECIALTY_TOWN_ID)
               .group_by("year", "uscc")
               .agg(pl.col("_st").str.join("；").alias("specialty_towns"))
               .collect())
    towns = read("dim_town").select("town_code", "town_name")
    return (rows.join(belongs, on=["year", "uscc"], how="left")
            .join(towns, on="town_code", how="left")
            .sort(["year", "output_value", "uscc"], descending=[True, True, False], nulls_last=True)
            .select(pl.col(c).cast(t) for c, t in columns.items()))


def _money_text(v: Any) -> str:
    return "" if v is None else f"{v:,.2f}"


def _missing_section(missing: pl.DataFrame) -> str:
    zh, en = FLAG_ZH[str(FlagName.REPORT_MISSING)]
    out = ["<section><h2 id='report-missing'>五、未报企业 <span class=en>Enterprises that did not report</span></h2>",
           f"<p class=note>{_e(zh)}：上年报送年报、本年有税收或参保记录但未报送年报的企业，请在认定评价前催报；"
           "指标不作插补。 / Enterprises that reported the year before and have tax or enrolment rows "
           "this year but no report: please chase them before the evaluation; nothing is imputed into "
           f"the indicators ({_e(en)}).</p>"]
    if missing.height == 0:
        return "".join(out) + "<p>无未报企业 / every enterprise reported.</p></section>"
    shown = missing.head(FLAGGED_ENTERPRISES)
    if missing.height > FLAGGED_ENTERPRISES:
        out.append(f"<p class=note>产值最大的前 {FLAGGED_ENTERPRISES:,} 家（共 {missing.height:,} 家；全部见数据仓库表 "
                   f"dq_flag） / the {FLAGGED_ENTERPRISES:,} largest of {missing.height:,} (all are in the "
                   "warehouse table dq_flag)</p>")
    out.append("<table><thead><tr><th>年度 <span class=en>year</span></th><th>统一社会信用代码 <span class=en>"
               "USCC</span></th><th>企业名称（上年年报） <span class=en>name (last report)</span></th>"
               "<th>乡镇 <span class=en>town</span></th><th>所属专业镇 <span class=en>specialty town(s)</span>"
               "</th><th>上年工业总产值（元） <span class=en>output value of the year before (yuan)</span></th>"
               "</tr></thead><tbody>")
    for r in shown.iter_rows(named=True):
        town = " ".join(_e(v) for v in (r["town_code"], r["town_name"]) if v)
        out.append(f"<tr><td>{_e(r['year'])}</td><td>{_e(r['uscc'])}</td><td>{_e(r['name'])}</td>"
                   f"<td>{town}</td><td>{_e(r['specialty_towns'])}</td>"
                   f"<td class=n>{_money_text(r['output_value'])}</td></tr>")
    out.append("</tbody></table></section>")
    return "".join(out)


def _changes_section(diff: dict[str, list], previous_at: str | None) -> str:
    out = ["<h3>（三）与上次刷新相比的变化 <span class=en>What changed since the last refresh</span></h3>"]
    if diff.get("first_run"):
        return "".join(out) + ("<p>没有上次的快照，这是第一份报告。 / No previous snapshot: this is the "
                               "first report.</p>")
    out.append(f"<p class=note>上次快照 / previous snapshot: {_e(previous_at)}</p>")
    if not (diff["new"] or diff["removed"] or diff["changed"]):
        return "".join(out) + "<p>文件与计数均无变化。 / No file or count changed.</p>"
    new, removed, changed = len(diff["new"]), len(diff["removed"]), len(diff["changed"])
    out.append(f"<p>新增 {new:,} 个文件，移除 {removed:,} 个，计数或状态变化 {changed:,} 个。 / {new:,} new "
               f"files, {removed:,} removed, {changed:,} with other counts or status.</p>")
    long = new + removed + changed > CHANGES_SHOWN
    if long:
        out.append("<details><summary>逐个文件 <span class=en>file by file</span></summary>")
    out.append("<table><thead><tr><th>变化 <span class=en>change</span></th><th>文件 <span class=en>file"
               "</span></th><th>详情 <span class=en>detail</span></th></tr></thead><tbody>")
    for p in diff["new"]:
        out.append(f"<tr><td>新增文件 <span class=en>new file</span></td><td>{_e(p)}</td><td></td></tr>")
    for p in diff["removed"]:
        out.append(f"<tr><td>移除文件 <span class=en>removed file</span></td><td>{_e(p)}</td><td></td></tr>")
    for c in diff["changed"]:
        detail = "; ".join(f"{_e(k)}: {_e(a)} → {_e(b)}" for k, (a, b) in c["changes"].items())
        out.append(f"<tr><td>计数或状态变化 <span class=en>changed</span></td><td>{_e(c['path'])}</td>"
                   f"<td>{detail}</td></tr>")
    out.append("</tbody></table>" + ("</details>" if long else ""))
    return "".join(out)


def _source_key(source: str | None) -> tuple[int, str]:
    s = source or ""
    return (SOURCE_ORDER.index(s) if s in SOURCE_ORDER else len(SOURCE_ORDER) + (s == ""), s)


def arrivals(dq_file: pl.DataFrame) -> pl.DataFrame:
    """Per source: files by status, and rows read / loaded / rejected of the files not removed
    (a removed file's rows are no longer in the warehouse). Sources in the catalogue's order."""
    active = pl.col("status") != "removed"
    by = dq_file.with_columns(pl.col("source").fill_null("")).group_by("source").agg(
        pl.len().alias("files"),
        *[(pl.col("status") == s).sum().alias(s) for s in STATUS_ORDER],
        *[pl.col(c).filter(active).sum().alias(c) for c in COUNT_FIELDS])
    order = sorted(by["source"].to_list(), key=_source_key)
    return (by.join(pl.DataFrame({"source": order, "_o": range(len(order))},
                                 schema={"source": pl.String, "_o": pl.Int64}), on="source")
            .sort("_o").drop("_o")
            .with_columns(pl.col(c).cast(pl.Int64) for c in ("files", *STATUS_ORDER, *COUNT_FIELDS)))


def _arrived_part(dq_file: pl.DataFrame) -> str:
    by = arrivals(dq_file)
    head = "".join(f"<th>{zh} <span class=en>{en}</span></th>" for zh, en in (
        ("来源", "source"), ("文件", "files"), ("已加载", "loaded"), ("已拒收", "rejected"),
        ("重复", "duplicate"), ("已移除", "removed"), ("读取行数", "rows read"),
        ("通过行数", "rows loaded"), ("拒收行数", "rows rejected")))
    cols = ("files", *STATUS_ORDER, *COUNT_FIELDS)
    rows = [f"<tr><td>{_e(SOURCE_ZH.get(r['source'], r['source']))} <span class=en>{_e(r['source'] or '-')}"
            "</span></td>" + "".join(f"<td class=n>{_n(r[c])}</td>" for c in cols) + "</tr>"
            for r in by.iter_rows(named=True)]
    total = {c: int(by[c].sum()) for c in cols}
    rows.append("<tr class=total><td>合计 <span class=en>total</span></td>"
                + "".join(f"<td class=n>{_n(total[c])}</td>" for c in cols) + "</tr>")
    return ("<h3>（一）收到了什么 <span class=en>What arrived</span></h3>"
            f"<table id='arrived'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "<p class=note>行数不含已移除的文件；拒收行数为各文件的计数（rejected_rows.csv 每条规则每个文件最多列 "
            f"{REJECTED_ROWS_PER_RULE:,} 行）。 / Row counts leave out removed files; rows rejected are each file's "
            f"count (rejected_rows.csv lists at most {REJECTED_ROWS_PER_RULE:,} rows per rule and file).</p>")


def rejected_by_rule(rej: pl.DataFrame) -> pl.DataFrame:
    """Per rule: the rejected-row records, the distinct rows and the files they are in."""
    key = _key_col(rej)
    return rej.group_by("rule").agg(
        pl.len().alias("records"), pl.struct(key, "source_row").n_unique().alias("rows"),
        pl.col(key).n_unique().alias("files"),
    ).sort(["records", "rule"], descending=[True, False])


def _refused_part(dq_file: pl.DataFrame, explained: dict[str, Explained], rej: pl.DataFrame) -> str:
    out = ["<h3>（二）拒收了什么、为什么 <span class=en>What was refused, and why</span></h3>"]
    refused = dq_file.filter(pl.col("status") == "rejected").sort("path", "file_id")
    if refused.height == 0:
        out.append("<p>没有整份被拒收的文件。 / No file was refused whole.</p>")
    else:
        out.append(f"<p>整份拒收的文件：{refused.height:,} 个（没有一行入库）。 / Files refused whole: "
                   f"{refused.height:,} (none of their rows was loaded).</p>"
                   "<table id='refused-files'><thead><tr><th>文件 <span class=en>file</span></th><th>来源 <span "
                   "class=en>source</span></th><th>原因 <span class=en>why</span></th></tr></thead><tbody>")
        for r in refused.head(SUMMARY_FILES).iter_rows(named=True):
            x = explained.get(r["file_id"]) or explain(r["message"], r["path"] or "", r["status"])
            out.append(f"<tr><td>{_e(r['path'])}</td><td>{_e(SOURCE_ZH.get(r['source'], r['source']))} "
                       f"<span class=en>{_e(r['source'])}</span></td><td class=msg>{_explained_html(x)}</td></tr>")
        out.append("</tbody></table>")
        if refused.height > SUMMARY_FILES:
            out.append(f"<p class=note>前 {SUMMARY_FILES:,} 个；全部见“二、文件清单” / the first {SUMMARY_FILES:,}; "
                       "all are in <a href='#files'>section 2</a></p>")
    if rej.height == 0:
        out.append("<p>没有被拒收的行。 / No row was rejected.</p>")
        return "".join(out)
    by = rejected_by_rule(rej)
    out.append(f"<p>被拒收的行：{rej.height:,} 条记录，按规则如下（点击规则看明细）。 / Rejected rows: "
               f"{rej.height:,} records, by rule below (a rule links to its rows).</p>"
               "<table id='rejected-by-rule'><thead><tr><th>规则 <span class=en>rule</span></th><th>记录数 "
               "<span class=en>records</span></th><th>行数 <span class=en>rows</span></th><th>文件数 "
               "<span class=en>files</span></th><th>怎么改 <span class=en>how to fix</span></th></tr></thead><tbody>")
    for r in by.iter_rows(named=True):
        zh, en = RULE_ZH.get(r["rule"], (r["rule"], r["rule"]))
        rule = RULES.get(r["rule"])
        fix = f"{_e(rule.fix_zh)} <span class=en>{_e(rule.fix_en)}</span>" if rule else ""
        out.append(f"<tr><td><a href='#rule-{_e(r['rule'])}'>{_e(zh)}</a> <span class=en>{_e(en)} "
                   f"({_e(r['rule'])})</span></td><td class=n>{_n(r['records'])}</td>"
                   f"<td class=n>{_n(r['rows'])}</td><td class=n>{_n(r['files'])}</td><td>{fix}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _rows_text(rows: list[int], n: int) -> tuple[str, str]:
    """The row numbers of an action: (Chinese, English)."""
    zh = "、".join(str(r) for r in rows)
    en = ", ".join(str(r) for r in rows)
    if n > len(rows):
        return f"第 {zh} 等 {n:,} 行", f"rows {en} and {n - len(rows):,} more"
    return f"第 {zh} 行", ("row " if n == 1 else "rows ") + en


Action = tuple[str, str, list[tuple[str, str]]]


def _row_actions(rej: pl.DataFrame, dq_file: pl.DataFrame) -> list[Action]:
    """One action per file with rejected rows: per rule and column, which rows to fix and what
    the rule asks (the catalogue's ``fix_*``), then put the file back. One rule and column:
    one sentence ("修正 a.csv 第 3 行的统一社会信用代码（请核对18位代码）后重新放入 raw/");
    several: the file's sentence and one sub-item each. HTML, escaped."""
    if rej.height == 0:
        return []
    key = _key_col(rej)
    groups = rej.group_by(*dict.fromkeys((key, "path", "rule", "column"))).agg(
        pl.len().alias("n"), pl.col("source_row").sort().head(ACTION_ROWS).alias("rows")
    ).sort(*dict.fromkeys(("path", key, "rule", "column")))
    if key == "file_id":
        groups = groups.join(dq_file.select("file_id", "source").unique("file_id"), on="file_id",
                             how="left", maintain_order="left")
    else:
        groups = groups.with_columns(pl.lit(None, dtype=pl.String).alias("source"))
    per_file = groups.group_by(key, maintain_order=True).agg(pl.all())
    items: list[Action] = []
    for f in per_file.head(ACTION_ITEMS).iter_rows(named=True):
        path = f["path"][0] or ""
        source = f["source"][0] or path.split("/", 1)[0]
        link = f"<a href='#{file_anchor(f[key])}'>{_e(path)}</a>"
        clauses = []
        for rule_name, column, rows, n in zip(f["rule"], f["column"], f["rows"], f["n"], strict=True):
            rule = RULES.get(rule_name)
            rows_zh, rows_en = _rows_text(rows, n)
            clauses.append((f"{_e(rows_zh)}的{_e(column_label(source, path, column))}"
                            + (f"（{_e(rule.fix_zh)}）" if rule else ""),
                            f"{_e(column)} in {_e(rows_en)}", f" ({_e(rule.fix_en)})" if rule else ""))
        if len(clauses) == 1:
            (zh, where, fix), = clauses
            items.append((f"修正 {link} {zh}后重新放入 {RAW}",
                          f"fix {where} of {link}{fix} and put the file back into {RAW}", []))
            continue
        subs = [(zh, where + fix) for zh, where, fix in clauses[:ACTION_CLAUSES]]
        if len(clauses) > ACTION_CLAUSES:
            more = len(clauses) - ACTION_CLAUSES
            subs.append((f"…另有 {more:,} 项，见<a href='#{file_anchor(f[key])}'>该文件的拒收行</a>",
                         f"… {more:,} more: see <a href='#{file_anchor(f[key])}'>the file's rows</a>"))
        items.append((f"修正 {link} 中的以下各项后重新放入 {RAW}：",
                      f"fix the following in {link} and put the file back into {RAW}:", subs))
    if per_file.height > ACTION_ITEMS:
        more = per_file.height - ACTION_ITEMS
        items.append((f"…另有 {more:,} 个文件有拒收行，见<a href='#rejected-rows'>“三、拒收行”</a>及 {REJECTED_CSV}",
                      f"… {more:,} more files with rejected rows: see <a href='#rejected-rows'>section 3</a> "
                      f"and {REJECTED_CSV}", []))
    return items


def next_actions(dq_file: pl.DataFrame, explained: dict[str, Explained], rej: pl.DataFrame,
                 flags: pl.DataFrame, missing: pl.DataFrame, diff: dict[str, list]) -> list[Action]:
    """What to do next, as (Chinese, English) HTML items: the rejected files, the rows to fix,
    the warnings per rule, the missing reports, the files removed since the last refresh."""
    items: list[Action] = []
    refused = [r for r in dq_file.filter(pl.col("status") == "rejected").sort("path", "file_id").iter_rows(named=True)]
    todo = [x for x in (explained.get(r["file_id"]) or explain(r["message"], r["path"] or "", "rejected")
                        for r in refused) if x.do_zh]
    items += [(_e(x.do_zh), _e(x.do_en), []) for x in todo[:ACTION_ITEMS]]
    if len(todo) > ACTION_ITEMS:
        more = len(todo) - ACTION_ITEMS
        items.append((f"…另有 {more:,} 个被拒收的文件，见<a href='#files'>“二、文件清单”</a>",
                      f"… {more:,} more rejected files: see <a href='#files'>section 2</a>", []))
    items += _row_actions(rej, dq_file)
    rm = str(FlagName.REPORT_MISSING)
    if flags.height:
        per = (flags.filter(pl.col("rule") != rm).with_columns(uscc_of_key().alias("uscc"))
               .group_by("rule").agg(pl.len().alias("n"), pl.col("uscc").n_unique().alias("firms"))
               .sort(["n", "rule"], descending=[True, False]))
        for r in per.iter_rows(named=True):
            flag = FLAGS.get(r["rule"])
            zh, en = FLAG_ZH.get(r["rule"], (r["rule"], r["rule"]))
            fix_zh, fix_en = (flag.fix_zh, flag.fix_en) if flag else ("请核实", "check them")
            items.append((f"核实 {r['n']:,} 条“{_e(zh)}”预警（{r['firms']:,} 家企业）：{_e(fix_zh)}，名单见"
                          "<a href='#flags'>“四、跨来源预警”</a>",
                          f"check the {r['n']:,} warnings “{_e(en)}” ({r['firms']:,} enterprises): {_e(fix_en)}; "
                          "the list is in <a href='#flags'>section 4</a>", []))
    if missing.height:
        flag = FLAGS[rm]
        items.append((f"催报 {missing.height:,} 家未报企业：{_e(flag.fix_zh)}，名单见<a href='#report-missing'>"
                      "“五、未报企业”</a>",
                      f"chase the {missing.height:,} enterprises that did not report: {_e(flag.fix_en)}; the "
                      "list is in <a href='#report-missing'>section 5</a>", []))
    removed = diff.get("removed", [])
    for p in removed[:ACTION_ITEMS]:
        items.append((f"确认 {_e(p)} 是有意移除的；若不是，请放回 {RAW}",
                      f"make sure {_e(p)} was removed on purpose; if not, put it back into {RAW}", []))
    if len(removed) > ACTION_ITEMS:
        items.append((f"…另有 {len(removed) - ACTION_ITEMS:,} 个移除的文件", f"… {len(removed) - ACTION_ITEMS:,} "
                      "more removed files", []))
    return items


def _actions_part(items: list[Action]) -> str:
    out = ["<h3 id='next'>（四）下一步怎么做 <span class=en>What to do next</span></h3>"]
    if not items:
        return "".join(out) + ("<p>无需处理：没有被拒收的文件或行，没有预警。 / Nothing to do: no file or row "
                               "was rejected and there is no warning.</p>")
    out.append("<ol class=todo>")
    for zh, en, subs in items:
        out.append(f"<li>{zh}<br><span class=en>{en}</span>")
        if subs:
            out.append("<ul>" + "".join(f"<li>{z}<br><span class=en>{e}</span></li>" for z, e in subs) + "</ul>")
        out.append("</li>")
    out.append("</ol>")
    return "".join(out)


def _summary_section(dq_file: pl.DataFrame, explained: dict[str, Explained], rej: pl.DataFrame,
                     flags: pl.DataFrame, missing: pl.DataFrame, diff: dict[str, list],
                     previous_at: str | None) -> str:
    """Section 1: what arrived, what was refused and why, what changed, what to do next."""
    status = dict(dq_file.group_by("status").len().iter_rows())
    active = dq_file.filter(pl.col("status") != "removed")
    cards = "".join(
        f"<div class=card>{zh} <span class=en>{en}</span><b>{v:,}</b></div>" for zh, en, v in [
            ("文件", "files", dq_file.height), ("已加载", "loaded", status.get("loaded", 0)),
            ("已拒收", "rejected", status.get("rejected", 0)),
            ("重复", "duplicate", status.get("duplicate", 0)),
            ("通过行数", "rows loaded", int(active["rows_loaded"].sum() or 0)),
            ("拒收行数", "rows rejected", int(active["rows_rejected"].sum() or 0)),
            ("预警", "warnings", flags.height), ("未报企业", "missing reports", missing.height)])
    return ("<section id='summary'><h2>一、概要 <span class=en>Summary</span></h2>"
            f"<div class=cards>{cards}</div>"
            + _arrived_part(dq_file) + _refused_part(dq_file, explained, rej)
            + _changes_section(diff, previous_at)
            + _actions_part(next_actions(dq_file, explained, rej, flags, missing, diff))
            + "</section>")


NAV = ("<nav>" + "".join(f"<a href='#{a}'>{zh} <span class=en>{en}</span></a>" for a, zh, en in (
    ("summary", "一、概要", "summary"), ("files", "二、文件清单", "files"),
    ("rejected-rows", "三、拒收行", "rejected rows"), ("flags", "四、跨来源预警", "warnings"),
    ("report-missing", "五、未报企业", "missing reports"))) + "</nav>")


def write_quality_report(url: TableSource, out: Path, previous: Path | None = None) -> Path:
    """Write the data-quality report to ``out`` (HTML) and ``quality_snapshot.json`` beside it.

    ``previous`` is the snapshot to compare with; by default the ``quality_snapshot.json``
    already beside ``out`` (written by the previous run), if any. Returns ``out``.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    snap_path = out.parent / SNAPSHOT_NAME
    prev_path = Path(previous) if previous is not None else snap_path
    before = json.loads(prev_path.read_text(encoding="utf-8")) if prev_path.is_file() else None

    read = table_reader(url)
    # what the report echoes of the raw files, masked once here for the page, CSV and snapshot
    dq_file = echoed_files(read("dq_file"))
    # the rows' messages are not shown (each file's is): not masked for nothing
    rej = echoed_rejected(read("dq_rejected_row").drop("message"))
    flags = read("dq_flag")
    enterprise = read("fact_enterprise_year")
    names = enterprise.sort("year").select("uscc", "name").unique("uscc", keep="last", maintain_order=True)
    missing = missing_reports(flags, enterprise, read)

    snapshot = file_snapshot(dq_file)
    diff = diff_snapshots(before, snapshot)
    explained = explain_files(dq_file)
    linked = set(rej["file_id"].unique().to_list())
    mtime = dq_file["mtime"].max() if dq_file.height else None
    page = (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>数据质量报告 / Data quality report</title>"
        f"<style>{CSS}</style></head><body><header><h1>数据质量报告 <span class=en style='color:#f3d9d9'>"
        "Data quality report</span></h1>"
        f"<p>生成时间 / generated {_e(snapshot['generated_at'])} · 最新文件时间 / latest file "
        f"{_e(mtime)}</p></header><main>{NAV}"
        + _summary_section(dq_file, explained, rej, flags, missing, diff,
                           before.get("generated_at") if before else None)
        + _files_section(dq_file, explained, linked) + _rejected_section(rej)
        + _flags_section(flags, names) + _missing_section(missing)
        + "</main></body></html>")
    out.write_text(page, encoding="utf-8")
    write_rejected_csv(rej, out.parent / REJECTED_CSV)
    snap_path.write_text(json.dumps(snapshot, ensure_ascii=False, indent=1, default=str),
                         encoding="utf-8")
    return out
