"""Turn a canonical frame into one raw file: variants, bad rows, duplicates, blank/total rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.demo import render as R
from pipelines.demo.spec import BAD_RULES, HEADERS, KINDS


@dataclass
class Layout:
    path: str  # relative to the raw area, '/'-separated
    source: str
    fmt: str  # csv-utf8 | csv-bom | csv-gbk | csv-gb18030 | xlsx
    columns: list[str]
    headers: list[str]
    title_rows: list[str] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)  # money column -> unit the cells are in
    period_style: str = "dash2"
    bool_pairs: list[tuple[str, str]] = field(default_factory=lambda: list(R.BOOL_PAIRS))
    thousands: bool = False
    blank_row: bool = False
    total_label: str | None = None  # column carrying 合计 on a total row
    bad_fraction: float = 0.01
    etype_english: bool = False


def header_for(col: str, source: str, rng: np.random.Generator) -> str:
    key = col
    if source == "tax" and col == "uscc":
        key = "tax_uscc"
    if source == "registry" and col == "name":
        key = "reg_name"
    opts = HEADERS[key]
    return opts[int(rng.integers(0, len(opts)))]


def _render(col: str, c: pl.Expr, v: pl.Expr, lay: Layout) -> pl.Expr:
    kind = KINDS[col]
    if kind in ("year", "int"):
        return pl.when(c.is_null()).then(R.blank_marker(v)).otherwise(c.cast(pl.String))
    if kind == "uscc":
        return R.uscc_text(c, v)
    if kind == "text":
        return c.fill_null("")
    if kind == "town":
        return R.town_text(c, v)
    if kind == "industry":
        return R.industry_text(c, pl.col("_section"), v)
    if kind == "money":
        use_th = (v % 9 == 1) if lay.thousands else False
        txt = R.money_text(c, lay.units[col], use_th)
        return pl.when(c.is_null()).then(R.blank_marker(v)).otherwise(txt)
    if kind == "bool":
        return R.bool_text(c, v, lay.bool_pairs)
    if kind == "level":
        out = pl.when(c == "none").then(
            pl.when(v % 3 == 0).then(pl.lit("")).when(v % 3 == 1).then(pl.lit("-")).otherwise(pl.lit("无"))
        )
        for k, cn in R.LEVEL_CN.items():
            if k != "none":
                out = out.when(c == k).then(pl.lit(cn))
        return out.otherwise(pl.lit(""))
    if kind == "period":
        return R.period_text(c, lay.period_style)
    if kind == "date":
        return pl.when(c.is_null()).then(R.blank_marker(v)).otherwise(R.date_text(c, v))
    if kind == "pid":
        return R.pid_text(c, v)
    if kind == "etype":
        if lay.etype_english:
            return c
        return c.replace_strict(R.ETYPE_CN, default="")
    raise ValueError(kind)


def _typed(col: str, c: pl.Expr, v: pl.Expr, rendered: pl.Expr, lay: Layout) -> pl.Expr | None:
    """xlsx cell value (number or date) where the cell should not be a string, else null."""
    kind = KINDS[col]
    if kind in ("year", "int"):
        return c.cast(pl.Int64)
    if kind == "money":
        return R.money_number(c, lay.units[col])
    if kind == "industry":
        return pl.when(rendered.str.contains(r"^[0-9]{1,3}$")).then(rendered.cast(pl.Int64, strict=False))
    if kind == "period" and lay.period_style == "xlsxdate":
        return pl.concat_str([c, pl.lit("-01")]).str.to_date("%Y-%m-%d")
    if kind == "date":
        return pl.when(v % 6 == 5).then(c)
    return None


def _broken(rule: str, col: str, c: pl.Expr, var: pl.Expr, lay: Layout, frame_cols: set[str]) -> pl.Expr:
    kind = KINDS[col]
    if rule == "uscc_invalid":
        last = c.str.slice(17, 1)
        wrong = pl.concat_str([c.str.slice(0, 17), pl.when(last == "0").then(pl.lit("1")).otherwise(pl.lit("0"))])
        return (pl.when(var % 3 == 0).then(wrong).when(var % 3 == 1).then(c.str.slice(0, 17))
                .otherwise(pl.concat_str([c.str.slice(0, 9), pl.lit("I"), c.str.slice(10)])))
    if rule == "person_id_invalid":
        last = c.str.slice(17, 1)
        wrong = pl.concat_str([c.str.slice(0, 17), pl.when(last == "1").then(pl.lit("2")).otherwise(pl.lit("1"))])
        old15 = pl.concat_str([c.str.slice(0, 6), c.str.slice(8, 6), c.str.slice(14, 3)])
        return pl.when(var % 2 == 0).then(wrong).otherwise(old15)
    if rule == "unknown_town":
        return (pl.when(var % 3 == 0).then(pl.concat_str([c.str.slice(0, 6), pl.lit("999")]))
                .when(var % 3 == 1).then(c.str.slice(0, 7))
                .otherwise(pl.concat_str([c, pl.lit("001")])))
    if rule == "industry_invalid":
        return (pl.when(var % 3 == 0).then(pl.lit("9998"))
                .when(var % 3 == 1).then(pl.concat_str([c, pl.lit("0")]))
                .otherwise(pl.concat_str([c.str.slice(0, 2), pl.lit("X"), c.str.slice(3)])))
    if rule == "required_missing":
        if kind in ("money", "int", "date"):
            return pl.when(var % 2 == 0).then(pl.lit("")).otherwise(pl.lit("-"))
        return pl.lit("")
    if rule == "value_invalid":
        if kind == "int":
            return pl.concat_str([pl.lit("约"), c.cast(pl.String)])
        if kind == "money":
            return pl.when(var % 2 == 0).then(pl.lit("待核实")).otherwise(pl.lit("12.3.4"))
        if kind == "date":
            return pl.when(var % 2 == 0).then(pl.lit("2021-02-30")).otherwise(pl.lit("不详"))
    if rule == "out_of_range":
        if kind == "year":
            return pl.when(var % 2 == 0).then(pl.lit("1999")).otherwise(pl.lit("2099"))
        if kind == "int":
            return pl.concat_str([pl.lit("-"), (c + 1).cast(pl.String)])
        if kind == "money":
            return pl.lit("-12.5")
        if kind == "period":
            return pl.lit("1999-03")
        if col == "deregistered":
            est = pl.col("established")
            return (est - pl.duration(days=(var + 1) * 37)).dt.strftime("%Y-%m-%d")
    raise ValueError((rule, col))


@dataclass
class Emitted:
    ok: np.ndarray  # per input row: accepted by the contract
    bad_rows: pl.DataFrame  # path, source_row, column, rule
    file_row: dict
    data: bytes | None  # csv bytes (None when written as xlsx)


def plan_bad(n: int, source: str, rng: np.random.Generator, protect: np.ndarray | None,
             fraction: float) -> pl.DataFrame:
    rules = BAD_RULES[source]
    if fraction <= 0 or n < 50:
        return pl.DataFrame(schema={"_i": pl.Int64, "_bad_rule": pl.String, "_bad_col": pl.String,
                                    "_bad_var": pl.Int64})
    cand = np.arange(n) if protect is None else np.flatnonzero(~protect)
    k = min(len(cand), max(len(rules), int(round(n * fraction))))
    idx = np.sort(rng.choice(cand, size=k, replace=False))
    start = int(rng.integers(0, len(rules)))
    which = (np.arange(k) + start) % len(rules)
    return pl.DataFrame({
        "_i": idx.astype(np.int64),
        "_bad_rule": [rules[w][0] for w in which],
        "_bad_col": [rules[w][1] for w in which],
        "_bad_var": rng.integers(0, 1000, size=k).astype(np.int64),
    })


def emit(frame: pl.DataFrame, lay: Layout, rng: np.random.Generator, raw: Path,
         protect: np.ndarray | None = None) -> Emitted:
    """Render `frame` (canonical values, money in fen) into lay.path under `raw`."""
    n = frame.height
    cols = lay.columns
    df = frame.with_columns(
        pl.Series("_v", rng.integers(0, 1000, size=n).astype(np.int64)),
        pl.int_range(0, n, dtype=pl.Int64).alias("_i"),
    )
    if "seq" in cols:
        df = df.with_columns((pl.col("_i") + 1).alias("seq"))
    bad = plan_bad(n, lay.source, rng, protect, lay.bad_fraction)
    df = df.join(bad, on="_i", how="left").sort("_i")
    is_xlsx = lay.fmt == "xlsx"
    v_of = {c: ((pl.col("_v") * (7 + 6 * j) + 13 * j) % 1000) for j, c in enumerate(cols)}
    rendered = [_render(c, pl.col(c), v_of[c], lay).alias(f"s__{c}") for c in cols]
    df = df.with_columns(rendered)
    if is_xlsx:
        typed = []
        for c in cols:
            t = _typed(c, pl.col(c), v_of[c], pl.col(f"s__{c}"), lay)
            if t is not None:
                typed.append(pl.when(pl.col("_bad_col").fill_null("") != c).then(t).alias(f"t__{c}"))
        df = df.with_columns(typed)
    frame_cols = set(df.columns)
    fixes = []
    for rule, col in sorted(set(BAD_RULES[lay.source])):
        if rule == "duplicate_key" or col not in cols:
            continue
        m = (pl.col("_bad_rule") == rule) & (pl.col("_bad_col") == col)
        fixes.append((m, col, _broken(rule, col, pl.col(col), pl.col("_bad_var"), lay, frame_cols)))
    for c in cols:
        e = pl.col(f"s__{c}")
        for m, col, b in fixes:
            if col == c:
                e = pl.when(m).then(b).otherwise(e)
        df = df.with_columns(e.alias(f"s__{c}"))
    out_cols = [f"s__{c}" for c in cols]
    t_cols = [f"t__{c}" for c in cols if f"t__{c}" in df.columns]
    keep = ["_i", "_bad_rule", "_bad_col"] + out_cols + t_cols
    base = df.select(keep).with_columns((pl.col("_i") * 2).cast(pl.Float64).alias("_pos"),
                                        pl.lit("data").alias("_kind"))
    # duplicate_key: a second copy of the row further down the same file
    dup_i = base.filter(pl.col("_bad_rule") == "duplicate_key")["_i"].to_numpy()
    parts = [base]
    if len(dup_i):
        j = np.minimum(n - 1, dup_i + rng.integers(1, max(2, n // 3), size=len(dup_i)))
        dups = base.filter(pl.col("_bad_rule") == "duplicate_key").with_columns(
            pl.Series("_pos", (2 * j + 1).astype(np.float64)))
        parts.append(dups)
    empty = {c: pl.lit("") for c in out_cols}
    if lay.blank_row and n > 2:
        k = int(rng.integers(1, n - 1))
        parts.append(base.head(1).with_columns(**empty, _pos=pl.lit(2.0 * k + 1.5), _kind=pl.lit("blank"),
                                               _bad_rule=pl.lit(None, pl.String),
                                               _bad_col=pl.lit(None, pl.String),
                                               **{t: pl.lit(None) for t in t_cols}))
    if lay.total_label and n:
        sums = {}
        for c in cols:
            if KINDS[c] == "money":
                s = int(frame[c].fill_null(0).sum())
                sums[f"s__{c}"] = R.money_text(pl.lit(s, pl.Int64), lay.units[c])
        parts.append(base.head(1).with_columns(**empty).with_columns(
            **sums, **{f"s__{lay.total_label}": pl.lit("合计")}, _pos=pl.lit(4.0 * n + 10),
            _kind=pl.lit("total"), _bad_rule=pl.lit(None, pl.String), _bad_col=pl.lit(None, pl.String),
            **{t: pl.lit(None) for t in t_cols}))
    full = pl.concat(parts, how="vertical_relaxed").sort("_pos", maintain_order=True)
    first = len(lay.title_rows) + 2
    full = full.with_columns(pl.int_range(first, first + full.height, dtype=pl.Int64).alias("source_row"))
    target = raw / lay.path
    target.parent.mkdir(parents=True, exist_ok=True)
    strings = full.select(out_cols)
    data = None
    if is_xlsx:
        typed_s = {c[3:]: full[c] for c in t_cols}
        date_cols = {c for c in cols if KINDS[c] == "date" or (KINDS[c] == "period" and lay.period_style == "xlsxdate")}
        R.write_xlsx(target, strings.rename(dict(zip(out_cols, cols, strict=True))), lay.headers,
                     lay.title_rows, typed_s, date_cols)
    else:
        data = R.csv_bytes(strings, lay.headers, lay.title_rows, lay.fmt)
        target.write_bytes(data)
    bad_rows = full.filter(pl.col("_bad_rule").is_not_null()).select(
        pl.lit(lay.path).alias("path"), "source_row", pl.col("_bad_col").alias("column"),
        pl.col("_bad_rule").alias("rule"))
    ok = np.ones(n, dtype=bool)
    if bad.height:
        ok[bad["_i"].to_numpy()] = False
    rows_read = int((full["_kind"] == "data").sum())
    rows_loaded = int(ok.sum())
    file_row = dict(path=lay.path, source=lay.source, status="loaded", rows_read=rows_read,
                    rows_loaded=rows_loaded, rows_rejected=rows_read - rows_loaded, format=lay.fmt)
    return Emitted(ok=ok, bad_rows=bad_rows, file_row=file_row, data=data)
