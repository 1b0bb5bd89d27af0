"""Cross-source flags (contract section 8): warnings for dq_flag; nothing is rejected.

Comparisons of money are made in whole fen (integers), so "more than 30 % of the larger" is
exact: 100 * |a - b| > 30 * max(a, b).
"""

from __future__ import annotations

import polars as pl

from pipelines.indicators.attribution import _lazy
from pipelines.indicators.memo import NO_MEMO, Memo

Frame = pl.DataFrame | pl.LazyFrame
FLAG_COLUMNS = ["source", "key", "rule", "detail"]


def _fen(value: pl.Expr) -> pl.Expr:
    return (value * 100).round(0).cast(pl.Int128)


def _money(expr: pl.Expr) -> pl.Expr:
    return expr.round(2).cast(pl.String)


def _gap(a: pl.Expr, b: pl.Expr, percent: int) -> pl.Expr:
    """Both > 0 and |a - b| > percent % of the larger (a, b integers)."""
    return (a > 0) & (b > 0) & ((a - b).abs() * 100 > pl.max_horizontal(a, b) * percent)


def _enterprise_key() -> pl.Expr:
    return pl.concat_str([pl.col("year").cast(pl.String), pl.col("uscc")], separator="|").alias("key")


def _flag(frame: pl.LazyFrame, condition: pl.Expr, key: pl.Expr, source: str, rule: str, detail: pl.Expr) -> pl.LazyFrame:
    return frame.filter(condition.fill_null(False)).select(
        pl.lit(source).alias("source"), key, pl.lit(rule).alias("rule"), detail.alias("detail")
    )


def cross_source_flags(enterprise: Frame, tax: Frame, employment: Frame, memo: Memo = NO_MEMO) -> pl.DataFrame:
    """dq_flag rows (source, key, rule, detail), unique on (source, key, rule).

    `memo` keeps December's insured persons per employer (`indicators/memo.py`); it must be
    keyed by the employment and enterprise facts.

    Enterprise flags have source 'enterprise' and key 'year|uscc'; total_tax_mismatch has
    source 'tax' and key 'period|uscc'. detail is a short Chinese/English text with the numbers.
    """
    ent = _lazy(enterprise).with_columns(pl.col("year").cast(pl.Int32))
    years = pl.Series(ent.select(pl.col("year").unique()).collect()["year"].to_list(), dtype=pl.Int32)
    tx = _lazy(tax).with_columns(pl.col("year").cast(pl.Int32))

    sales = tx.group_by("year", "uscc").agg(pl.col("invoice_sales").sum().round(2).alias("_sales"))
    with_sales = ent.join(sales, on=["year", "uscc"], how="inner")
    tax_sales_gap = _flag(
        with_sales,
        _gap(_fen(pl.col("_sales")), _fen(pl.col("revenue")), 30),
        _enterprise_key(), "enterprise", "tax_sales_gap",
        pl.format("年度开票销售额 {} 元与营业收入 {} 元相差超过较大者的30% / yearly invoice sales {} yuan and revenue {} yuan differ by more than 30% of the larger",
                  _money(pl.col("_sales")), _money(pl.col("revenue")), _money(pl.col("_sales")), _money(pl.col("revenue"))),
    )

    periods = years.cast(pl.String) + "-12"
    insured = (
        _lazy(employment)
        .filter(pl.col("period").is_in(periods.implode()))
        .group_by(pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"), pl.col("employer_uscc").alias("uscc"))
        .agg(pl.col("person_key").n_unique().cast(pl.Int64).alias("_insured"))
    )
    insured = memo("employer_december_insured", insured)
    with_insured = ent.join(insured, on=["year", "uscc"], how="inner")
    employment_gap = _flag(
        with_insured,
        _gap(pl.col("employees").cast(pl.Int128), pl.col("_insured").cast(pl.Int128), 50),
        _enterprise_key(), "enterprise", "employment_gap",
        pl.format("从业人员期末人数 {} 人与12月参保人数 {} 人相差超过较大者的50% / reported employees {} and December insured persons {} differ by more than 50% of the larger",
                  "employees", "_insured", "employees", "_insured"),
    )

    before = ent.select((pl.col("year") + 1).cast(pl.Int32).alias("year"), "uscc", pl.col("output_value").alias("_before"))
    with_before = ent.join(before, on=["year", "uscc"], how="inner")
    now, prev = _fen(pl.col("output_value")), _fen(pl.col("_before"))
    yoy_jump = _flag(
        with_before,
        (now > 0) & (prev > 0) & ((now > prev * 10) | (now * 10 < prev)),
        _enterprise_key(), "enterprise", "yoy_jump",
        pl.format("工业总产值 {} 元，上年 {} 元，相差超过10倍（可能是单位错误）/ output value {} yuan vs {} yuan the year before: more than tenfold (a likely unit error)",
                  _money(pl.col("output_value")), _money(pl.col("_before")), _money(pl.col("output_value")), _money(pl.col("_before"))),
    )

    rd_exceeds = _flag(
        ent,
        _fen(pl.col("rd_expenditure")) > _fen(pl.col("revenue")),
        _enterprise_key(), "enterprise", "rd_exceeds_revenue",
        pl.format("研发费用 {} 元大于营业收入 {} 元 / R&D expenditure {} yuan exceeds revenue {} yuan",
                  _money(pl.col("rd_expenditure")), _money(pl.col("revenue")), _money(pl.col("rd_expenditure")), _money(pl.col("revenue"))),
    )
    giant = _flag(
        ent,
        pl.col("little_giant").fill_null(False) & ~pl.col("specialized_sme").fill_null(False),
        _enterprise_key(), "enterprise", "little_giant_not_sme",
        pl.lit("小巨人企业未标为专精特新 / little giant not marked as a specialised SME (专精特新)"),
    )

    parts_sum = pl.col("vat") + pl.col("corporate_income_tax") + pl.col("other_tax")
    mismatch = _flag(
        tx,
        pl.col("total_tax_reported").is_not_null()
        & parts_sum.is_not_null()
        & ((_fen(pl.col("total_tax_reported")) - _fen(pl.col("vat")) - _fen(pl.col("corporate_income_tax")) - _fen(pl.col("other_tax"))).abs() > 100),
        pl.concat_str([pl.col("period"), pl.col("uscc")], separator="|").alias("key"),
        "tax", "total_tax_mismatch",
        pl.format("税收合计 {} 元与增值税+企业所得税+其他税收之和 {} 元相差超过1元 / total tax {} yuan differs from vat + corporate income tax + other tax = {} yuan by more than 1 yuan",
                  _money(pl.col("total_tax_reported")), _money(parts_sum), _money(pl.col("total_tax_reported")), _money(parts_sum)),
    )
    flags = pl.concat([tax_sales_gap, employment_gap, yoy_jump, rd_exceeds, giant, mismatch])
    return (
        flags.unique(subset=["source", "key", "rule"], keep="first")
        .sort("source", "rule", "key")
        .select(FLAG_COLUMNS)
        .collect()
    )
