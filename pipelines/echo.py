"""How a raw value is echoed back to people: person IDs masked, control characters shown, short.

Contract v4 section 4: a value echoed anywhere (`dq_rejected_row.value`, messages, reports,
logs, Dagster metadata) that reads as a person ID (18 characters, 17 digits then a digit or
`X`; or 15 digits) is masked as `***`, whatever column it stood in, also inside longer text.
This module is the one place that decides what "reads as a person ID" means; the Polars
expression and the Python function below implement the same pattern (a test holds them equal).
"""

from __future__ import annotations

import re

import polars as pl

MASK = "***"
# digits as a person may type them: ASCII or full-width
_D = "0-9\uff10-\uff19"
_X = "Xx\uff38\uff58"
# Python: a run of exactly 18 (last may be X) or exactly 15 digits, not part of a longer run
_ID_RE = re.compile(rf"(?<![{_D}])(?:[{_D}]{{17}}[{_D}{_X}]|[{_D}]{{15}})(?![{_D}])")
# Polars (Rust regex has no look-around): the neighbours are captured and put back
_ID_PL = rf"(^|[^{_D}])([{_D}]{{17}}[{_D}{_X}]|[{_D}]{{15}})([^{_D}]|$)"
# a token shaped like a person ID, for checks (boolean, no replacement)
ID_PATTERN = _ID_PL
# C0 control characters other than tab, LF and CR (contract section 2), and DEL
CONTROL_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_CONTROL_RE = re.compile(CONTROL_PATTERN)
# longest echo of one value: enough to recognise it, never a 32,767-character cell
ECHO_CHARS = 200


def mask_ids(text: str | None) -> str | None:
    """`text` with every token shaped like a person ID replaced by `***`."""
    if text is None:
        return None
    return _ID_RE.sub(MASK, text)


def mask_ids_expr(expr: pl.Expr) -> pl.Expr:
    """`mask_ids` as a Polars expression (two passes: adjacent IDs share a neighbour)."""
    out = expr.cast(pl.String)
    for _ in range(2):
        out = out.str.replace_all(_ID_PL, f"${{1}}{MASK}${{3}}")
    return out


def has_clear_id_expr(expr: pl.Expr) -> pl.Expr:
    """True where the text holds a token shaped like a person ID (null: false)."""
    return expr.cast(pl.String).str.contains(_ID_PL).fill_null(False)


def printable(text: str | None) -> str | None:
    """``text`` with IDs masked and control characters as U+FFFD, never shortened (messages)."""
    return None if text is None else _CONTROL_RE.sub("\ufffd", mask_ids(text) or "")


def echo(text: str | None) -> str | None:
    """A raw value as it may be shown: IDs masked, control characters as U+FFFD, shortened."""
    if text is None:
        return None
    out = printable(text) or ""
    # one character of slack: an echo of an echo is the same echo
    return out if len(out) <= ECHO_CHARS + 1 else out[:ECHO_CHARS] + "…"


def printable_expr(expr: pl.Expr) -> pl.Expr:
    """`printable` as a Polars expression: IDs masked, control characters as U+FFFD."""
    return mask_ids_expr(expr).str.replace_all(CONTROL_PATTERN, "\ufffd")


def echo_expr(expr: pl.Expr) -> pl.Expr:
    """`echo` as a Polars expression."""
    out = printable_expr(expr)
    return pl.when(out.str.len_chars() > ECHO_CHARS + 1).then(
        out.str.slice(0, ECHO_CHARS) + pl.lit("…")).otherwise(out)


def has_control_expr(expr: pl.Expr) -> pl.Expr:
    """True where the text holds a control character other than tab, LF or CR."""
    return expr.str.contains(CONTROL_PATTERN).fill_null(False)
