"""Cells safe to open in a spreadsheet, and the echoed dq values reports may show.

Contract v4 section 9: a text cell that begins with ``=``, ``+``, ``-`` or ``@`` is written as
text. A spreadsheet program opening a CSV would otherwise run it as a formula
(``=HYPERLINK(...)`` sends data away, ``@SUM(...)`` computes), so in CSV such a cell is prefixed
with ``'``; in xlsx it is a string cell, never a formula (``XLSX_OPTIONS``, ``write_string``).
A leading tab or carriage return is prefixed too: some programs skip them before a formula
(OWASP, "CSV injection").

Contract v4 section 4: every value a report echoes from ``dq_file`` and ``dq_rejected_row``
goes through the project's one masking function (`pipelines.echo`), whatever its column.

Every CSV a report writes goes through `write_csv` here; every workbook is created with
`XLSX_OPTIONS`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.echo import CONTROL_PATTERN, ECHO_CHARS, ID_PATTERN, echo_expr, printable_expr

#: The first characters that make a spreadsheet read a text cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_RE = r"^[=+\-@\t\r]"
#: xlsxwriter.Workbook options: strings stay strings (no formulas, no hyperlinks, no numbers).
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False,
                "strings_to_numbers": False}


def looks_like_formula(text: str | None) -> bool:
    """True when a spreadsheet would take ``text`` for a formula (for cell-by-cell writers)."""
    return bool(text) and text.startswith(FORMULA_START)


def safe_cell_expr(expr: pl.Expr) -> pl.Expr:
    """A text column as a spreadsheet must read it: ``'`` before a formula-like start."""
    text = expr.cast(pl.String)
    return pl.when(text.str.contains(_FORMULA_RE)).then(pl.lit("'") + text).otherwise(text)


def safe_cells(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every text column made safe (`safe_cell_expr`); numbers are left as they are."""
    text = [c for c, t in df.schema.items() if t in (pl.String, pl.Categorical) or isinstance(t, pl.Enum)]
    return df.with_columns(safe_cell_expr(pl.col(c)).alias(c) for c in text)


def write_csv(df: pl.DataFrame, out: Path) -> Path:
    """Write ``df`` as UTF-8 CSV with a BOM (Excel reads it as UTF-8), every text cell safe."""
    safe_cells(df).write_csv(out, include_bom=True)
    return Path(out)


def echoed_text_expr(expr: pl.Expr) -> pl.Expr:
    """A name or message echoed whole (a path, a column, a file's message): person-ID-shaped
    tokens masked, control characters shown as U+FFFD, not shortened (a path is a key)."""
    return printable_expr(expr)


def _echoed_where_needed(column: pl.Series, echo: pl.Expr, long: bool) -> pl.Series:
    """``column`` through ``echo``, evaluated only on the cells it would change.

    Exactly the same values as ``echo`` over the whole column (it changes a cell only where a
    person-ID-shaped token, a control character or, with ``long``, more than ECHO_CHARS + 1
    characters occur), but a `contains` probe is about five times cheaper than the masking's
    `replace_all` with captures: 535,000 rejected rows of a province carry 400-byte messages,
    almost none of them with anything to mask."""
    text = column.cast(pl.String)
    probe = pl.col("v").str.contains(f"(?:{ID_PATTERN})|{CONTROL_PATTERN}")
    if long:
        probe = probe | (pl.col("v").str.len_chars() > ECHO_CHARS + 1)
    hit = pl.DataFrame({"v": text}).select(probe.fill_null(False)).to_series()
    if not hit.any():
        return text
    at = hit.arg_true()
    fixed = pl.DataFrame({"v": text.gather(at)}).select(echo).to_series()
    return text.scatter(at, fixed)


def echoed_files(dq_file: pl.DataFrame) -> pl.DataFrame:
    """``dq_file`` as reports may show it: path and message through the one masking."""
    return dq_file.with_columns(
        _echoed_where_needed(dq_file[c], echoed_text_expr(pl.col("v")), long=False).alias(c)
        for c in ("path", "message"))


def echoed_rejected(rej: pl.DataFrame) -> pl.DataFrame:
    """``dq_rejected_row`` as reports may show it: the raw value echoed (`echo_expr`: masked,
    shortened), path, column and message masked. A ``person_id`` column keeps its name, so
    the reports still withhold its values. A report that does not show the message may drop
    it first (400 bytes a row, the costliest column to probe)."""
    return rej.with_columns(
        _echoed_where_needed(rej["value"], echo_expr(pl.col("v")), long=True).alias("value"),
        *(_echoed_where_needed(rej[c], echoed_text_expr(pl.col("v")), long=False).alias(c)
          for c in ("path", "column", "message") if c in rej.columns))
