"""Parse text cells into typed values, naming the rule a bad cell breaks (contract section 1).

Each parser takes the text column and returns two expressions: the typed value, and the
rule broken (a String, null when the cell is fine). Parsers that see few distinct values in
a large file (periods, codes, flags) run on the distinct values only and are joined back,
which keeps 35 million enrolment rows cheap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from pipelines.echo import mask_ids_expr
from pipelines.ingest.identifiers import (
    normalise_person_id,
    normalise_uscc,
    person_id_is_valid,
    reads_as_person_id,
    uscc_is_valid,
)
from pipelines.ingest.limits import COUNT_LIMIT, MONEY_LIMIT_YUAN
from schemas.columns import ColumnSpec
from schemas.rules import RuleName

# Cells that mean null in a numeric, date, boolean, period or level cell.
BLANK_MARKERS = ["", "-", "—", "——", "－", "/", "无"]

TRUE_WORDS = ["是", "有", "y", "yes", "true", "1", "1.0", "t"]
FALSE_WORDS = ["否", "无", "n", "no", "false", "0", "0.0", "f"]
LEVELS = {
    "无": "none", "none": "none",
    "市级": "municipal", "municipal": "municipal",
    "省级": "provincial", "provincial": "provincial",
    "国家级": "national", "national": "national",
}
ENTITY_TYPES = {
    "企业": "enterprise", "enterprise": "enterprise",
    "个体工商户": "individual", "individual": "individual",
    "农民专业合作社": "cooperative", "cooperative": "cooperative",
}

MIN_YEAR = 2000


def current_year() -> int:
    return dt.date.today().year


@dataclass(frozen=True)
class ParseContext:
    """What validation needs besides the cell: the codes in force."""

    town_codes: pl.Series
    industry_codes: pl.Series
    max_year: int


Parsed = tuple[pl.Expr, pl.Expr]


def _text(c: str) -> pl.Expr:
    return pl.col(c).str.strip_chars()


def _is_blank_marker(t: pl.Expr) -> pl.Expr:
    return t.is_null() | t.is_in(BLANK_MARKERS)


def _is_empty(t: pl.Expr) -> pl.Expr:
    return t.is_null() | (t == "")


def _rule(blank: pl.Expr, required: bool, bad: pl.Expr, bad_rule: RuleName,
          range_bad: pl.Expr | None = None) -> pl.Expr:
    expr = pl.when(blank)
    expr = expr.then(pl.lit(RuleName.REQUIRED_MISSING if required else None, dtype=pl.String))
    expr = expr.when(bad).then(pl.lit(bad_rule))
    if range_bad is not None:
        expr = expr.when(range_bad).then(pl.lit(RuleName.OUT_OF_RANGE))
    return expr.otherwise(pl.lit(None, dtype=pl.String))


def parse_year(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c)
    blank = _is_blank_marker(t)
    digits = t.str.extract(r"^(\d{4})(?:\.0+)?年?$", 1)
    value = digits.cast(pl.Int32, strict=False)
    bad = ~blank & value.is_null()
    out = (value < MIN_YEAR) | (value > ctx.max_year)
    return value, _rule(blank, spec.required, bad, RuleName.VALUE_INVALID, out)


# 2024-03, 202403 (after 年/月 and / became -); a trailing day is an xlsx date cell.
_PERIOD = r"^(\d{4})(?:-(\d{1,2})|(\d{2}))(?:-(\d{1,2}))?$"
_TIME_OF_DAY = r"\s+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$"


def _period_parts(t: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    norm = (t.str.replace(_TIME_OF_DAY, "").str.replace_all(r"[\s\u3000]", "")
            .str.replace("年", "-").str.replace("月", "")
            .str.replace_all("/", "-").str.replace(r"\.0+$", ""))
    groups = norm.str.extract_groups(_PERIOD)
    year = groups.struct.field("1").cast(pl.Int32, strict=False)
    month = pl.coalesce(groups.struct.field("2"), groups.struct.field("3")).cast(pl.Int32, strict=False)
    # a day (an xlsx date cell, 2024-05-01) must be a day of that month: 2024-02-30 is no period
    day = groups.struct.field("4")
    real_day = pl.format("{}-{}-{}", groups.struct.field("1"), month.cast(pl.String).str.zfill(2),
                         day.str.zfill(2)).str.to_date("%Y-%m-%d", strict=False).is_not_null()
    return year, pl.when(day.is_null() | real_day).then(month)


def parse_period(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c)
    blank = _is_blank_marker(t)
    year, month = _period_parts(t)
    ok = (year.is_not_null() & month.is_between(1, 12)).fill_null(False)
    value = pl.when(ok).then(
        pl.format("{}-{}", year.cast(pl.String), month.cast(pl.String).str.zfill(2))
    )
    bad = ~blank & ~ok
    out = (year < MIN_YEAR) | (year > ctx.max_year)
    return value, _rule(blank, spec.required, bad, RuleName.VALUE_INVALID, out)


_DATE = r"^(\d{4})-(\d{1,2})-(\d{1,2})(?: \d{1,2}:\d{2}:\d{2}(?:\.\d+)?)?$|^(\d{4})(\d{2})(\d{2})$"


def parse_date(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c)
    blank = _is_blank_marker(t)
    norm = (t.str.replace_all(r"[\s\u3000]+", " ").str.replace("年", "-").str.replace("月", "-")
            .str.replace("日", "").str.replace_all("/", "-"))
    g = norm.str.extract_groups(_DATE)
    y = pl.coalesce(g.struct.field("1"), g.struct.field("4"))
    m = pl.coalesce(g.struct.field("2"), g.struct.field("5")).str.zfill(2)
    d = pl.coalesce(g.struct.field("3"), g.struct.field("6")).str.zfill(2)
    value = pl.format("{}-{}-{}", y, m, d).str.to_date("%Y-%m-%d", strict=False)
    bad = ~blank & value.is_null()
    return value, _rule(blank, spec.required, bad, RuleName.VALUE_INVALID)


def _uscc_stages(c: str) -> list[pl.Expr]:
    value = pl.col(f"{c}__norm")
    # a person ID in a USCC column (a swapped export) is never accepted, even when it happens
    # to pass the USCC check character: it would reach the warehouse in clear
    return [normalise_uscc(pl.col(c)).alias(f"{c}__norm"),
            (~uscc_is_valid(value) | reads_as_person_id(value)).alias(f"{c}__bad")]


def parse_uscc(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    # the normalised code and its verdict are staged columns (see STAGED), computed once
    value = pl.col(f"{c}__norm")
    blank = _is_empty(value)
    bad = pl.col(f"{c}__bad")
    return pl.when(~blank & ~bad).then(value), _rule(blank, spec.required, bad, RuleName.USCC_INVALID)


def parse_person_id(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    # Normalised text and its validity are computed once, as staged columns (see STAGED):
    # person IDs are nearly all distinct, so they are parsed row by row, not per distinct value.
    value = pl.col(f"{c}__norm")
    blank = _is_empty(value)
    bad = ~pl.col(f"{c}__ok")
    return pl.when(~blank & ~bad).then(value), _rule(blank, spec.required, bad, RuleName.PERSON_ID_INVALID)


def parse_town(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c).str.replace_all(r"[\s\u3000]", "")
    blank = _is_empty(t)
    code = pl.when(t.str.contains(r"^\d{12}$") & t.str.ends_with("000")).then(t.str.slice(0, 9)).otherwise(t)
    ok = code.is_in(ctx.town_codes.implode()).fill_null(False)
    return pl.when(ok).then(code), _rule(blank, spec.required, ~ok, RuleName.UNKNOWN_TOWN)


def parse_hukou(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c).str.replace_all(r"[\s\u3000]", "")
    blank = _is_empty(t)
    ok = t.str.contains(r"^(\d{6}|\d{9}|\d{12})$").fill_null(False)
    return pl.when(ok).then(t), _rule(blank, spec.required, ~ok, RuleName.VALUE_INVALID)


def parse_industry(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c).str.replace_all(r"[\s\u3000]", "").str.to_uppercase()
    blank = _is_empty(t)
    digits = t.str.replace(r"^[A-Z]", "")
    code = pl.when(digits.str.contains(r"^\d{1,4}$")).then(digits.str.zfill(4))
    ok = code.is_in(ctx.industry_codes.implode()).fill_null(False)
    return pl.when(ok).then(code), _rule(blank, spec.required, ~ok, RuleName.INDUSTRY_INVALID)


def parse_text(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c)
    blank = _is_empty(t)
    # free text (names) is kept, but never with a person ID inside it (contract v4 section 4)
    return pl.when(~blank).then(mask_ids_expr(t)), _rule(blank, spec.required, pl.lit(False), RuleName.VALUE_INVALID)


def _number(t: pl.Expr) -> pl.Expr:
    n = t.str.replace_all(r"[,，\s]", "").cast(pl.Float64, strict=False)
    return pl.when(n.is_finite()).then(n)


def _range_bad(value: pl.Expr, spec: ColumnSpec) -> pl.Expr | None:
    bad = None
    if spec.minimum is not None:
        bad = value < spec.minimum
    if spec.maximum is not None:
        over = value > spec.maximum
        bad = over if bad is None else (bad | over)
    return bad


def _staged_number(c: str) -> pl.Expr:
    """The number in a money or integer cell, computed once per cell as a staged column (see
    STAGED), not again in each expression that looks at it."""
    return pl.col(f"{c}__num")


def parse_money(c: str, spec: ColumnSpec, ctx: ParseContext, factor: float = 1.0) -> Parsed:
    t = _text(c)
    blank = _is_blank_marker(t)
    n = _staged_number(c)
    scaled = (n * factor).round(2)
    value = pl.when(scaled.is_finite()).then(scaled)  # 1e308 万元 is no amount
    bad = ~blank & value.is_null()
    return value, _rule(blank, spec.required, bad, RuleName.VALUE_INVALID,
                        _beyond(value, MONEY_LIMIT_YUAN, _range_bad(value, spec)))


def parse_integer(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c)
    blank = _is_blank_marker(t)
    n = _staged_number(c)
    integral = (n == n.floor()) & (n.abs() < 9e15)
    value = pl.when(integral).then(n.cast(pl.Int64, strict=False))
    bad = ~blank & value.is_null()
    return value, _rule(blank, spec.required, bad, RuleName.VALUE_INVALID,
                        _beyond(value, COUNT_LIMIT, _range_bad(value, spec)))


def _beyond(value: pl.Expr, limit: float, range_bad: pl.Expr | None) -> pl.Expr:
    """out_of_range also beyond the limit no real value reaches (`limits.py`): such a number is an
    identifier typed into the wrong cell, or garbage, and must not be summed or stored."""
    over = value.abs() >= limit
    return over if range_bad is None else (range_bad | over)


def parse_boolean(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c).str.to_lowercase()
    blank = _is_blank_marker(t)
    value = (pl.when(blank).then(False).when(t.is_in(TRUE_WORDS)).then(True)
             .when(t.is_in(FALSE_WORDS)).then(False))
    bad = value.is_null()
    return value, _rule(pl.lit(False), False, bad, RuleName.VALUE_INVALID)


def parse_level(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c).str.to_lowercase()
    blank = _is_blank_marker(t)
    value = pl.when(blank).then(pl.lit("none")).otherwise(
        t.replace_strict(LEVELS, default=None, return_dtype=pl.String))
    bad = value.is_null()
    return value, _rule(pl.lit(False), False, bad, RuleName.VALUE_INVALID)


def parse_entity_type(c: str, spec: ColumnSpec, ctx: ParseContext) -> Parsed:
    t = _text(c)
    blank = _is_empty(t)
    value = t.str.to_lowercase().replace_strict(ENTITY_TYPES, default=None, return_dtype=pl.String)
    bad = value.is_null()
    return value, _rule(blank, spec.required, bad, RuleName.VALUE_INVALID)


PARSERS: dict[str, Callable[..., Parsed]] = {
    "year": parse_year,
    "period": parse_period,
    "date": parse_date,
    "uscc": parse_uscc,
    "person_id": parse_person_id,
    "town": parse_town,
    "hukou": parse_hukou,
    "industry": parse_industry,
    "text": parse_text,
    "money": parse_money,
    "integer": parse_integer,
    "boolean": parse_boolean,
    "level": parse_level,
    "entity_type": parse_entity_type,
}

# Columns computed before the parser's expressions, one stage after another, so that an
# expensive step (normalising, a check digit, a number) runs once per cell (once per distinct
# value for the kinds of PARSE_DISTINCT), not once for each expression that uses it.
STAGED: dict[str, Callable[[str], list[pl.Expr]]] = {
    "person_id": lambda c: [normalise_person_id(pl.col(c)).alias(f"{c}__norm"),
                            person_id_is_valid(pl.col(f"{c}__norm")).alias(f"{c}__ok")],
    "uscc": _uscc_stages,
    "money": lambda c: [_number(_text(c)).alias(f"{c}__num")],
    "integer": lambda c: [_number(_text(c)).alias(f"{c}__num")],
}

# Kinds whose distinct values are few compared with the rows: parse those once each.
PARSE_DISTINCT = {"year", "period", "date", "uscc", "town", "hukou", "industry",
                  "boolean", "level", "entity_type"}

VALUE_DTYPES: dict[str, pl.DataType] = {
    "year": pl.Int32(), "period": pl.String(), "date": pl.Date(), "uscc": pl.String(),
    "person_id": pl.String(), "town": pl.String(), "hukou": pl.String(), "industry": pl.String(),
    "text": pl.String(), "money": pl.Float64(), "integer": pl.Int64(), "boolean": pl.Boolean(),
    "level": pl.String(), "entity_type": pl.String(),
}
