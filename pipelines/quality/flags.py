"""Cross-source flags (contract section 8): warnings for dq_flag; nothing is rejected.

Each flag's name, source, texts and threshold are declared in the rule catalogue
(`schemas/rules.py`); this module computes them. Comparisons of money are made in whole fen
(integers) and a threshold is an exact fraction, so "more than 30 % of the larger" is exact:
10 * |a - b| > 3 * max(a, b).
"""

from __future__ import annotations

from fractions import Fraction

import polars as pl

from pipelines.indicators.attribution import taxpayer_years
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


def _report_missing(ent: pl.LazyFrame, years: pl.Series, yearly: pl.LazyFrame, employment: Frame,
                    memo: Memo) -> pl.LazyFrame:
    """report_missing: a report of Y-1 and none of Y (Y a report year, i.e. a year with
    reports), while the enterprise has accepted tax rows of Y or is an employer in accepted
    enrolment rows of Y. Key 'Y|uscc'; detail: the output value and town of Y-1's report."""
    last = ent.select((pl.col("year") + 1).cast(pl.Int32).alias("year"), "uscc",
                      pl.col("output_value").alias("_before"), pl.col("town_code").alias("_town"))
    missing = (last.filter(pl.col("year").is_in(years.implode()))
               .join(ent.select("year", "uscc"), on=["year", "uscc"], how="anti"))
    taxed = yearly.filter(pl.col("year").is_in(years.implode())).select("year", "uscc")
    periods = pl.Series([f"{y}-{m:02d}" for y in years.to_list() for m in range(1, 13)], dtype=pl.String)
    enrolled = (
        lazy(employment)
        .filter(pl.col("period").is_in(periods.implode()))
        .select(pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"), pl.col("employer_uscc").alias("uscc"))
        .unique()
    )
    enrolled = memo("employer_enrolled_years", enrolled)
    active = pl.concat([taxed, enrolled]).unique()
    return _flag(
        missing.join(active, on=["year", "uscc"], how="semi"),
        pl.lit(True),
        _enterprise_key(), FlagName.REPORT_MISSING,
        output_value=_money(pl.col("_before")).fill_null("-"), town=pl.col("_town").fill_null("-"),
    )


def tax_mismatch_flags(tax: Frame) -> pl.LazyFrame:
    """The total_tax_mismatch rows of dq_flag (source 'tax', key 'period|uscc'): a month's rows
    decide its own, so the tax ingest keeps them by year beside the fact (`defs/ingest.py`)."""
    tx = lazy(tax)
    parts_sum = pl.col("vat") + pl.col("corporate_income_tax") + pl.col("other_tax")
    return _flag(
        tx,
        pl.col("total_tax_reported").is_not_null()
        & parts_sum.is_not_null()
        & _over((_fen(pl.col("total_tax_reported")) - _fen(pl.col("vat")) - _fen(pl.col("corporate_income_tax")) - _fen(pl.col("other_tax"))).abs(),
                1, FLAGS[FlagName.TOTAL_TAX_MISMATCH].limit * 100),  # the limit (yuan) in fen
        pl.concat_str([pl.col("period"), pl.col("uscc")], separator="|").alias("key"),
        FlagName.TOTAL_TAX_MISMATCH,
        total=_money(pl.col("total_tax_reported")), parts=_money(parts_sum),
    )


def cross_source_flags(enterprise: Frame, tax: Frame, employment: Frame, memo: Memo = NO_MEMO,
                       tax_years: Frame | None = None, tax_mismatch: Frame | None = None) -> pl.DataFrame:
    """dq_flag rows (source, key, rule, detail), unique on (source, key, rule).

    `memo` keeps December's insured persons per employer and the employers enrolled in each
    report year (`indicators/memo.py`); it must be keyed by the employment and enterprise facts.
    `tax_years`: the tax fact's `taxpayer_years` when already made (else made from `tax`);
    `tax_mismatch`: its `tax_mismatch_flags` when already made (likewise).

    Enterprise flags have source 'enterprise' and key 'year|uscc'; total_tax_mismatch has
    source 'tax' and key 'period|uscc'. detail is a short Chinese/English text with the numbers.
    """
    ent = lazy(enterprise).with_columns(pl.col("year").cast(pl.Int32))
    years = pl.Series(ent.select(pl.col("year").unique()).collect()["year"].to_list(), dtype=pl.Int32)

    yearly = taxpayer_years(tax if tax_years is None else tax_years)
    sales = yearly.select("year", "uscc", pl.col("invoice_sales").alias("_sales"))
    with_sales = ent.join(sales, on=["year", "uscc"], how="inner")
    tax_sales_gap = _flag(
        with_sales,
        _gap(_fen(pl.col("_sales")), _fen(pl.col("revenue")), FlagName.TAX_SALES_GAP),
        _enterprise_key(), FlagName.TAX_SALES_GAP,
        sales=_money(pl.col("_sales")), revenue=_money(pl.col("revenue")),
    )

    periods = years.cast(pl.String) + "-12"
    # the distinct persons of an employer in one month are its rows: the fact's key is
    # (period, person_key, employer_uscc); counting rows holds no person key in memory
    insured = (
        lazy(employment)
        .filter(pl.col("period").is_in(periods.implode()))
        .group_by(pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"), pl.col("employer_uscc").alias("uscc"))
        .agg(pl.len().cast(pl.Int64).alias("_insured"))
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

    mismatch = tax_mismatch_flags(tax) if tax_mismatch is None else lazy(tax_mismatch)
    report_missing = _report_missing(ent, years, yearly, employment, memo)
    flags = pl.concat([tax_sales_gap, employment_gap, yoy_jump, rd_exceeds, giant, mismatch, report_missing])
    return (
        flags.unique(subset=["source", "key", "rule"], keep="first")
        .sort("source", "rule", "key")
        .select(FLAG_COLUMNS)
        .collect()
    )
