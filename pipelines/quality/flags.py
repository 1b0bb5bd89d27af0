"""Cross-source flags (contract section 8): warnings for dq_flag; nothing is rejected.

Each flag's name, source, texts and threshold are declared in the rule catalogue
(`schemas/rules.py`); this module computes them. Comparisons of money are made in whole fen
(integers) and a threshold is an exact fraction, so "more than 30 % of the larger" is exact:
10 * |a - b| > 3 * max(a, b).
"""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from pipelines.indicators.memo import NO_MEMO, Memo
from pipelines.lazy import Frame, lazy
from schemas.rules import FLAGS, FlagName

FLAG_COLUMNS = ["source", "key", "rule", "detail"]


def _fen(value: pl.Expr) -> pl.Expr:
    return (value * 100).round(0).cast(pl.Int128)


def _money(expr: pl.Expr) -> pl.Expr:
    return expr.round(2).cast(pl.String)


def _over(a: pl.Expr, b: pl.Expr | int, limit: Fraction) -> pl.Expr:
    """a > limit * b, in integers (a, b integers)."""
    return a * limit.denominator > b * limit.numerator


def _gap(a: pl.Expr, b: pl.Expr, name: FlagName) -> pl.Expr:
    """Both > 0 and |a - b| > the flag's threshold (a share) of the larger (a, b integers)."""
    return (a > 0) & (b > 0) & _over((a - b).abs(), pl.max_horizontal(a, b), FLAGS[name].limit)


def _enterprise_key() -> pl.Expr:
    return pl.concat_str([pl.col("year").cast(pl.String), pl.col("uscc")], separator="|").alias("key")


def _flag(frame: pl.LazyFrame, condition: pl.Expr, key: pl.Expr, name: FlagName, **values: pl.Expr) -> pl.LazyFrame:
    """The rows where `condition` holds as dq_flag rows of the flag `name`: its source from the
    catalogue, its detail the catalogue's text with `values` written in."""
    flag = FLAGS[name]
    template, names = flag.detail_format()
    detail = pl.format(template, *(values[n] for n in names)) if names else pl.lit(template)
    return frame.filter(condition.fill_null(False)).select(
        pl.lit(flag.source).alias("source"), key, pl.lit(str(flag.name)).alias("rule"), detail.alias("detail")
    )


def cross_source_flags(enterprise: Frame, tax: Frame, employment: Frame, memo: Memo = NO_MEMO) -> pl.DataFrame:
    """dq_flag rows (source, key, rule, detail), unique on (source, key, rule).

    `memo` keeps December's insured persons per employer (`indicators/memo.py`); it must be
    keyed by the employment and enterprise facts.

    Enterprise flags have source 'enterprise' and key 'year|uscc'; total_tax_mismatch has
    source 'tax' and key 'period|uscc'. detail is a short Chinese/English text with the numbers.
    """
    ent = lazy(enterprise).with_columns(pl.col("year").cast(pl.Int32))
    years = pl.Series(ent.select(pl.col("year").unique()).collect()["year"].to_list(), dtype=pl.Int32)
    tx = lazy(tax).with_columns(pl.col("year").cast(pl.Int32))

    sales = tx.group_by("year", "uscc").agg(pl.col("invoice_sales").sum().round(2).alias("_sales"))
    with_sales = ent.join(sales, on=["year", "uscc"], how="inner")
    tax_sales_gap = _flag(
        with_sales,
        _gap(_fen(pl.col("_sales")), _fen(pl.col("revenue")), FlagName.TAX_SALES_GAP),
        _enterprise_key(), FlagName.TAX_SALES_GAP,
        sales=_money(pl.col("_sales")), revenue=_money(pl.col("revenue")),
    )

    periods = years.cast(pl.String) + "-12"
    insured = (
        lazy(employment)
        .filter(pl.col("period").is_in(periods.implode()))
        .group_by(pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"), pl.col("employer_uscc").alias("uscc"))
        .agg(pl.col("person_key").n_unique().cast(pl.Int64).alias("_insured"))
    )
    insured = memo("employer_december_insured", insured)
    with_insured = ent.join(insured, on=["year", "uscc"], how="inner")
    employment_gap = _flag(
        with_insured,
        _gap(pl.col("employees").cast(pl.Int128), pl.col("_insured").cast(pl.Int128), FlagName.EMPLOYMENT_GAP),
        _enterprise_key(), FlagName.EMPLOYMENT_GAP,
        employees=pl.col("employees"), insured=pl.col("_insured"),
    )

    before = ent.select((pl.col("year") + 1).cast(pl.Int32).alias("year"), "uscc", pl.col("output_value").alias("_before"))
    with_before = ent.join(before, on=["year", "uscc"], how="inner")
    now, prev = _fen(pl.col("output_value")), _fen(pl.col("_before"))
    jump = FLAGS[FlagName.YOY_JUMP].limit
    yoy_jump = _flag(
        with_before,
        (now > 0) & (prev > 0) & (_over(now, prev, jump) | _over(prev, now, jump)),
        _enterprise_key(), FlagName.YOY_JUMP,
        output_value=_money(pl.col("output_value")), before=_money(pl.col("_before")),
    )

    rd_exceeds = _flag(
        ent,
        _fen(pl.col("rd_expenditure")) > _fen(pl.col("revenue")),
        _enterprise_key(), FlagName.RD_EXCEEDS_REVENUE,
        rd_expenditure=_money(pl.col("rd_expenditure")), revenue=_money(pl.col("revenue")),
    )
    giant = _flag(
        ent,
        pl.col("little_giant").fill_null(False) & ~pl.col("specialized_sme").fill_null(False),
        _enterprise_key(), FlagName.LITTLE_GIANT_NOT_SME,
    )

    parts_sum = pl.col("vat") + pl.col("corporate_income_tax") + pl.col("other_tax")
    mismatch = _flag(
        tx,
        pl.col("total_tax_reported").is_not_null()
        & parts_sum.is_not_null()
        & _over((_fen(pl.col("total_tax_reported")) - _fen(pl.col("vat")) - _fen(pl.col("corporate_income_tax")) - _fen(pl.col("other_tax"))).abs(),
                1, FLAGS[FlagName.TOTAL_TAX_MISMATCH].limit * 100),  # the limit (yuan) in fen
        pl.concat_str([pl.col("period"), pl.col("uscc")], separator="|").alias("key"),
        FlagName.TOTAL_TAX_MISMATCH,
        total=_money(pl.col("total_tax_reported")), parts=_money(parts_sum),
    )
    flags = pl.concat([tax_sales_gap, employment_gap, yoy_jump, rd_exceeds, giant, mismatch])
    return (
        flags.unique(subset=["source", "key", "rule"], keep="first")
        .sort("source", "rule", "key")
        .select(FLAG_COLUMNS)
        .collect()
    )
