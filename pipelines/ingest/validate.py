"""Split a file's rows into accepted rows and rejected (row, column, rule) records.

The column declarations in `schemas.columns` say which parser applies; the parsers name
the rule; this module adds the rules that look at more than one cell (a deregistration
before establishment, a key twice in one file) and builds the messages staff read.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.echo import has_control_expr
from pipelines.ingest.cells import PARSE_DISTINCT, PARSERS, STAGED, VALUE_DTYPES, ParseContext
from pipelines.ingest.limits import CELL_MAX_CHARS
from schemas.columns import SourceSpec
from schemas.rules import RULES, RuleName

REJECTED_SCHEMA = {
    "source_row": pl.Int64,
    "column": pl.String,
    "rule": pl.String,
    "value": pl.String,
}


@dataclass
class Validated:
    accepted: pl.DataFrame
    rejected: pl.DataFrame  # source_row, column, rule, value
    rows_read: int


def _rule_col(name: str) -> str:
    return f"{name}__rule"


def _parse_columns(frame: pl.DataFrame, spec: SourceSpec, ctx: ParseContext,
                   factors: dict[str, float]) -> pl.DataFrame:
    """Typed value and rule columns for every declared column."""
    direct: list[pl.Expr] = []
    staged: list[str] = []
    out = frame
    for col in spec.columns:
        stages = STAGED.get(col.kind, lambda _c: [])(col.name)
        parser = PARSERS[col.kind]
        if col.kind == "money":
            value, rule = parser(col.name, col, ctx, factors.get(col.name, 1.0))
        else:
            value, rule = parser(col.name, col, ctx)
        value = value.cast(VALUE_DTYPES[col.kind])
        if col.kind in PARSE_DISTINCT:
            distinct = frame.select(pl.col(col.name).unique())
            for stage in stages:
                distinct = distinct.with_columns(stage)
            distinct = distinct.select(
                col.name, value.alias(f"{col.name}__value"), rule.alias(_rule_col(col.name))
            )
            # only this column is joined, in row order: the other columns are not copied
            mapped = frame.select(col.name).join(distinct, on=col.name, how="left", nulls_equal=True,
                                                 maintain_order="left")
            out = out.with_columns(mapped[f"{col.name}__value"], mapped[_rule_col(col.name)])
            continue
        for stage in stages:
            out = out.with_columns(stage)
            staged.append(stage.meta.output_name())
        direct += [value.alias(f"{col.name}__value"), rule.alias(_rule_col(col.name))]
    if direct:
        out = out.with_columns(direct)
    return out.drop(staged)


def _unsafe_cells(frame: pl.DataFrame, names: list[str]) -> list[pl.Expr]:
    """value_invalid for cells holding a control character or longer than Excel's 32,767
    characters (contract v4 section 2), overriding the parser's verdict; nothing is stripped.

    Cheap on clean files: a column is looked at cell by cell only when its longest cell or a
    quick scan for control characters says it needs to be."""
    present = [n for n in names if n in frame.columns]
    if not present or frame.height == 0:
        return []
    stats = frame.select(
        *[pl.col(n).str.len_bytes().max().alias(f"{n}__len") for n in present],
        *[has_control_expr(pl.col(n)).any().alias(f"{n}__ctl") for n in present],
    ).row(0, named=True)
    out = []
    for n in present:
        long_ = (stats[f"{n}__len"] or 0) > CELL_MAX_CHARS
        control = bool(stats[f"{n}__ctl"])
        if not (long_ or control):
            continue
        bad = pl.lit(False)
        if long_:
            bad = bad | (pl.col(n).str.len_chars() > CELL_MAX_CHARS).fill_null(False)
        if control:
            bad = bad | has_control_expr(pl.col(n))
        out.append(pl.when(bad).then(pl.lit(RuleName.VALUE_INVALID)).otherwise(pl.col(_rule_col(n)))
                   .alias(_rule_col(n)))
    return out


def validate_table(frame: pl.DataFrame, spec: SourceSpec, ctx: ParseContext,
                   factors: dict[str, float] | None = None) -> Validated:
    """Apply every column rule, the cross-cell rules and `duplicate_key`.

    `frame` holds text cells under canonical names plus `source_row`.
    """
    parsed = _parse_columns(frame, spec, ctx, factors or {})
    unsafe = _unsafe_cells(frame, [c.name for c in spec.columns])
    if unsafe:
        parsed = parsed.with_columns(unsafe)

    cross: list[pl.Expr] = []
    names = [c.name for c in spec.columns]
    if "established" in names and "deregistered" in names:
        before = (pl.col("deregistered__value") < pl.col("established__value")).fill_null(False)
        cross.append(
            pl.when(before & pl.col(_rule_col("deregistered")).is_null())
            .then(pl.lit(RuleName.OUT_OF_RANGE))
            .otherwise(pl.col(_rule_col("deregistered")))
            .alias(_rule_col("deregistered"))
        )
    if cross:
        parsed = parsed.with_columns(cross)

    # duplicate_key: among rows whose key columns are valid, a key seen twice in this file.
    key_values = [f"{k}__value" for k in spec.key]
    key_valid = pl.all_horizontal(
        pl.col(_rule_col(k)).is_null() & pl.col(f"{k}__value").is_not_null() for k in spec.key
    )
    dup = key_valid & (pl.len().over(key_values) > 1)
    key_label = ";".join(spec.key)
    masked_key = pl.concat_str(
        [pl.lit("***") if spec.column(k).kind == "person_id" else pl.col(f"{k}__value").cast(pl.String)
         for k in spec.key],
        separator=";",
    )
    parsed = parsed.with_columns(
        pl.when(dup).then(pl.lit(RuleName.DUPLICATE_KEY)).alias("__dup_rule"),
        pl.when(dup).then(masked_key).alias("__dup_value"),
    )

    rule_cols = [_rule_col(n) for n in names]
    rejected_any = pl.any_horizontal(pl.col(r).is_not_null() for r in [*rule_cols, "__dup_rule"])
    parsed = parsed.with_columns(rejected_any.alias("__rejected"))

    accepted = parsed.filter(~pl.col("__rejected")).select(
        "source_row", *[pl.col(f"{n}__value").alias(n) for n in names]
    )

    bad = parsed.filter(pl.col("__rejected"))
    parts = []
    for col in spec.columns:
        # Never echo a person ID, not even an invalid one.
        shown = pl.lit(None, dtype=pl.String) if col.kind == "person_id" else pl.col(col.name)
        parts.append(
            bad.filter(pl.col(_rule_col(col.name)).is_not_null()).select(
                "source_row",
                pl.lit(col.name).alias("column"),
                pl.col(_rule_col(col.name)).alias("rule"),
                shown.cast(pl.String).alias("value"),
            )
        )
    parts.append(
        bad.filter(pl.col("__dup_rule").is_not_null()).select(
            "source_row",
            pl.lit(key_label).alias("column"),
            pl.col("__dup_rule").alias("rule"),
            pl.col("__dup_value").alias("value"),
        )
    )
    rejected = pl.concat([p.cast(REJECTED_SCHEMA) for p in parts]).sort("source_row", "column")
    return Validated(accepted.sort("source_row"), rejected, frame.height)


def rejection_messages(rejected: pl.DataFrame | pl.LazyFrame, path: str | pl.Expr, spec: SourceSpec) -> pl.Expr:
    """A bilingual message per rejected cell naming the file, row, column and rule (`path`: the
    file's echoed path, or an expression giving it per row)."""
    path = pl.lit(path) if isinstance(path, str) else path
    labels = {c.name: c.label_zh or c.name for c in spec.columns}
    labels[";".join(spec.key)] = "主键（" + "、".join(labels[k] for k in spec.key) + "）"
    zh = {name: r.zh for name, r in RULES.items()}
    en = {name: r.en for name, r in RULES.items()}
    fix_zh = {name: r.fix_zh for name, r in RULES.items()}
    fix_en = {name: r.fix_en for name, r in RULES.items()}
    value_part = pl.when(pl.col("value").is_not_null()).then(
        pl.format("（值“{}”）", pl.col("value").str.slice(0, 60))
    ).otherwise(pl.lit(""))
    value_part_en = pl.when(pl.col("value").is_not_null()).then(
        pl.format(" (value '{}')", pl.col("value").str.slice(0, 60))
    ).otherwise(pl.lit(""))
    return pl.format(
        "文件 {} 第{}行，{}：{}{}，{}。 / File {}, row {}, column {}: {}{}; {}.",
        path, pl.col("source_row"),
        pl.col("column").replace_strict(labels, default=pl.col("column")),
        pl.col("rule").replace_strict(zh, default=pl.col("rule")),
        value_part,
        pl.col("rule").replace_strict(fix_zh, default=pl.lit("")),
        path, pl.col("source_row"), pl.col("column"),
        pl.col("rule").replace_strict(en, default=pl.col("rule")),
        value_part_en,
        pl.col("rule").replace_strict(fix_en, default=pl.lit("")),
    )
