"""Cell rendering (vectorised Polars expressions) and file writers for the demo raw area."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import xlsxwriter

BLANK_MARKERS = ["", "-", "—", "——", "－", "/", "无"]
BOOL_PAIRS = [("是", "否"), ("有", "无"), ("Y", "N"), ("yes", "no"), ("true", "false"), ("1", "0")]
LEVEL_CN = {"none": "无", "municipal": "市级", "provincial": "省级", "national": "国家级"}
ETYPE_CN = {"enterprise": "企业", "individual": "个体工商户", "cooperative": "农民专业合作社"}
UNIT_FEN = {"元": 100, "千元": 100_000, "万元": 1_000_000, "亿元": 10_000_000_000}
UNIT_DECIMALS = {"元": 2, "千元": 1, "万元": 2, "亿元": 6}
PERIOD_STYLES = ["dash2", "dash1", "compact", "slash1", "slash2", "cn1", "cn2"]
DATE_STYLES = ["iso", "slash", "compact", "cn", "isotime", "cell"]
FULLWIDTH = {str(d): chr(0xFF10 + d) for d in range(10)} | {"X": "Ｘ"}
ENCODINGS = {
    "csv-utf8": ("utf-8", False, "\n"),
    "csv-bom": ("utf-8", True, "\r\n"),
    "csv-gbk": ("gbk", False, "\r\n"),
    "csv-gb18030": ("gb18030", False, "\r\n"),
}


def pad(e: pl.Expr, width: int) -> pl.Expr:
    return e.cast(pl.String).str.zfill(width)


def thousands(n: pl.Expr) -> pl.Expr:
    """Non-negative integer expression -> string with ',' thousands separators (< 10**15)."""
    g = [(n // 10 ** (3 * k)) % 1000 for k in range(5)]
    out = pl.when(n >= 10**12).then(
        pl.concat_str([g[4].cast(pl.String), pl.lit(","), pad(g[3], 3), pl.lit(","), pad(g[2], 3),
                       pl.lit(","), pad(g[1], 3), pl.lit(","), pad(g[0], 3)]))
    out = out.when(n >= 10**9).then(
        pl.concat_str([g[3].cast(pl.String), pl.lit(","), pad(g[2], 3), pl.lit(","), pad(g[1], 3),
                       pl.lit(","), pad(g[0], 3)]))
    out = out.when(n >= 10**6).then(
        pl.concat_str([g[2].cast(pl.String), pl.lit(","), pad(g[1], 3), pl.lit(","), pad(g[0], 3)]))
    out = out.when(n >= 10**3).then(
        pl.concat_str([g[1].cast(pl.String), pl.lit(","), pad(g[0], 3)]))
    return out.otherwise(n.cast(pl.String))


def money_text(fen: pl.Expr, unit: str, use_thousands: pl.Expr | bool = False) -> pl.Expr:
    """Exact decimal text of an integer amount in fen, expressed in `unit` (null stays null)."""
    u = UNIT_FEN[unit]
    d = UNIT_DECIMALS[unit]
    a = fen.abs()
    ip = a // u
    ip_s = ip.cast(pl.String)
    if use_thousands is not False:
        ip_s = pl.when(use_thousands).then(thousands(ip)).otherwise(ip_s)
    parts = [pl.when(fen < 0).then(pl.lit("-")).otherwise(pl.lit("")), ip_s]
    if d:
        step = u // 10**d
        parts += [pl.lit("."), pad((a % u) // step, d)]
    return pl.when(fen.is_null()).then(None).otherwise(pl.concat_str(parts))


def money_number(fen: pl.Expr, unit: str) -> pl.Expr:
    return fen.cast(pl.Float64) / UNIT_FEN[unit]


def blank_marker(v: pl.Expr) -> pl.Expr:
    """A blank marker picked by the per-row variant v (0..999)."""
    out = pl.when(v % 7 == 0).then(pl.lit(BLANK_MARKERS[0]))
    for i, m in enumerate(BLANK_MARKERS[1:], start=1):
        out = out.when(v % 7 == i).then(pl.lit(m))
    return out.otherwise(pl.lit(""))


def bool_text(b: pl.Expr, v: pl.Expr, pairs: list[tuple[str, str]]) -> pl.Expr:
    k = len(pairs)
    t = pl.when(v % k == 0).then(pl.lit(pairs[0][0]))
    f = pl.when(v % k == 0).then(pl.lit(pairs[0][1]))
    for i, (a, c) in enumerate(pairs[1:], start=1):
        t = t.when(v % k == i).then(pl.lit(a))
        f = f.when(v % k == i).then(pl.lit(c))
    t = t.otherwise(pl.lit(pairs[0][0]))
    f = pl.when(v % 11 == 3).then(pl.lit("")).otherwise(f.otherwise(pl.lit(pairs[0][1])))
    return pl.when(b).then(t).otherwise(f)


def period_text(period: pl.Expr, style: str) -> pl.Expr:
    """period 'YYYY-MM' -> the file's spelling."""
    y = period.str.slice(0, 4)
    m2 = period.str.slice(5, 2)
    m1 = m2.cast(pl.Int32).cast(pl.String)
    parts = {
        "dash2": [y, pl.lit("-"), m2],
        "dash1": [y, pl.lit("-"), m1],
        "compact": [y, m2],
        "slash1": [y, pl.lit("/"), m1],
        "slash2": [y, pl.lit("/"), m2],
        "cn1": [y, pl.lit("年"), m1, pl.lit("月")],
        "cn2": [y, pl.lit("年"), m2, pl.lit("月")],
        "xlsxdate": [y, pl.lit("-"), m2],
    }[style]
    return pl.concat_str(parts)


def date_text(d: pl.Expr, v: pl.Expr) -> pl.Expr:
    """Date -> one of the contract's spellings, picked per row by v (null stays null)."""
    y = d.dt.year().cast(pl.String)
    m = d.dt.month().cast(pl.String)
    dd = d.dt.day().cast(pl.String)
    iso = d.dt.strftime("%Y-%m-%d")
    k = v % 6
    out = (
        pl.when(k == 1).then(pl.concat_str([y, pl.lit("/"), m, pl.lit("/"), dd]))
        .when(k == 2).then(d.dt.strftime("%Y%m%d"))
        .when(k == 3).then(pl.concat_str([y, pl.lit("年"), m, pl.lit("月"), dd, pl.lit("日")]))
        .when(k == 4).then(pl.concat_str([iso, pl.lit(" 00:00:00")]))
        .otherwise(iso)
    )
    return pl.when(d.is_null()).then(None).otherwise(out)


def uscc_text(u: pl.Expr, v: pl.Expr) -> pl.Expr:
    spaced = pl.concat_str([u.str.slice(0, 6), pl.lit(" "), u.str.slice(6, 6), pl.lit(" "), u.str.slice(12)])
    return pl.when(v < 25).then(u.str.to_lowercase()).when(v < 50).then(spaced).otherwise(u)


def pid_text(p: pl.Expr, v: pl.Expr) -> pl.Expr:
    spaced = pl.concat_str([p.str.slice(0, 6), pl.lit(" "), p.str.slice(6, 8), pl.lit(" "), p.str.slice(14)])
    full = p.str.replace_many(list(FULLWIDTH.keys()), list(FULLWIDTH.values()))
    lower_x = p.str.to_lowercase()
    return (
        pl.when(v < 30).then(spaced)
        .when(v < 50).then(full)
        .when((v < 400) & p.str.ends_with("X")).then(lower_x)
        .otherwise(p)
    )


def town_text(t: pl.Expr, v: pl.Expr) -> pl.Expr:
    return pl.when(v < 120).then(pl.concat_str([t, pl.lit("000")])).otherwise(t)


def industry_text(code: pl.Expr, section: pl.Expr, v: pl.Expr) -> pl.Expr:
    return (
        pl.when(v < 120).then(pl.concat_str([section, code]))
        .when((v < 300) & code.str.starts_with("0")).then(code.str.strip_chars_start("0"))
        .otherwise(code)
    )


# ----------------------------------------------------------------------------- writers


def csv_bytes(frame: pl.DataFrame, headers: list[str], title_rows: list[str], fmt: str) -> bytes:
    enc, bom, eol = ENCODINGS[fmt]
    frame = frame.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in frame.columns)
    body = frame.rename(dict(zip(frame.columns, headers, strict=True))).write_csv(
        None, line_terminator=eol, quote_style="necessary"
    )
    text = "".join(t + eol for t in title_rows) + body
    data = text.encode(enc)
    return (b"\xef\xbb\xbf" + data) if bom else data


def write_xlsx(
    path: Path,
    frame: pl.DataFrame,
    headers: list[str],
    title_rows: list[str],
    typed: dict[str, pl.Series],
    date_cols: set[str],
) -> None:
    """First sheet: title rows, header, data. `typed[col]` gives a number/date cell where not null."""
    wb = xlsxwriter.Workbook(
        str(path),
        {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    wb.set_properties({"created": dt.datetime(2025, 1, 1, 8, 0, 0), "author": "townstat demo"})
    ws = wb.add_worksheet("Sheet1")
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    r = 0
    for t in title_rows:
        ws.write_string(r, 0, t)
        r += 1
    ws.write_row(r, 0, headers)
    r += 1
    for j, col in enumerate(frame.columns):
        strs = frame[col].to_list()
        if col in typed:
            vals = [s if t is None else t for t, s in zip(typed[col].to_list(), strs, strict=True)]
        else:
            vals = strs
        vals = [None if x == "" else x for x in vals]
        ws.write_column(r, j, vals, date_fmt if col in date_cols else None)
    wb.close()
