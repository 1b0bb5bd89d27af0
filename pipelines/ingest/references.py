"""The reference files of raw/reference/ (contract section 2.2).

`towns.csv` decides which town codes every other source accepts, so it is read first; when
the raw area has none, or it cannot be read, the shipped Shanxi list is used. A reference
row that breaks its rules goes to `dq_rejected_row` and is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipelines.echo import has_control_expr
from pipelines.indicators.catalogue import indicators
from pipelines.ingest.cells import (
    BLANK_MARKERS,
    ParseContext,
    current_year,
    parse_boolean,
    parse_year,
)
from pipelines.ingest.inventory import RawFile
from pipelines.ingest.limits import CELL_MAX_CHARS, REJECTED_ROWS_PER_RULE, cap_rejected
from pipelines.ingest.readers import FileRejected, failure_message, read_cells, read_version
from pipelines.ingest.validate import REJECTED_SCHEMA, validate_table
from pipelines.reference import TOWN_COLUMNS, industry_classes, shipped_towns
from schemas.columns import (
    LEADING_REF,
    MARKET_TOTALS_REF,
    REFERENCES,
    SPECIALTY_CATEGORIES,
    SPECIALTY_TOWNS_REF,
    TARGETS_FILES,
    TARGETS_REF,
    TOWNS_REF,
)
from schemas.rules import RuleName


@dataclass
class ReferenceResult:
    towns: pl.DataFrame
    specialty_towns: pl.DataFrame
    leading: pl.DataFrame
    market_totals: pl.DataFrame
    # the yearly targets in force (contract section 6.2): level, id, year, indicator, target
    targets: pl.DataFrame = field(default_factory=lambda: EMPTY_TARGETS.clear())
    # per file: (RawFile, status, rows_read, rows_loaded, message, rejected rows)
    files: list[tuple[RawFile, str, int, int, str, pl.DataFrame]] = field(default_factory=list)


EMPTY_SPECIALTY = pl.DataFrame(schema={
    "id": pl.String, "name": pl.String, "county_code": pl.String, "host_town_codes": pl.String,
    "category": pl.String, "heritage": pl.Boolean, "national_market": pl.Boolean,
    "core_industry_codes": pl.String, "supporting_industry_codes": pl.String,
})
EMPTY_LEADING = pl.DataFrame(schema={"specialty_town_id": pl.String, "uscc": pl.String,
                                     "from_year": pl.Int32, "to_year": pl.Int32})
EMPTY_MARKET = pl.DataFrame(schema={"specialty_town_id": pl.String, "year": pl.Int32,
                                    "provincial_output": pl.Float64})
EMPTY_TARGETS = pl.DataFrame(schema={"level": pl.String, "id": pl.String, "year": pl.Int32,
                                     "indicator": pl.String, "target": pl.Float64})

#: A target's level as written (lower-cased) -> its name in eval_target (contract section 6.2).
TARGET_LEVELS: dict[str, str] = {
    "town": "town", "乡镇": "town",
    "specialty_town": "specialty_town", "专业镇": "specialty_town",
}
#: The indicator table whose columns a level's targets name.
TARGET_TABLES: dict[str, str] = {"town": "ind_town_year", "specialty_town": "ind_specialty_town_year"}


def _empty_rejected() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTED_SCHEMA)


def _list_rule(col: str, normalise: pl.Expr, valid: pl.Series, rule: RuleName,
               required: bool) -> tuple[pl.Expr, pl.Expr]:
    """A ';'-separated code list: normalised text, and the rule when an element is unknown."""
    items = pl.col(col).fill_null("").str.split(";").list.eval(
        normalise.filter(pl.element().str.strip_chars() != "")
    )
    bad = items.list.eval(~pl.element().is_in(valid.implode())).list.any()
    empty = items.list.len() == 0
    joined = items.list.join(";")
    rule_expr = (pl.when(bad).then(pl.lit(rule))
                 .when(empty & required).then(pl.lit(RuleName.REQUIRED_MISSING)))
    return joined, rule_expr


def _industry_element() -> pl.Expr:
    e = pl.element().str.strip_chars().str.to_uppercase().str.replace(r"^[A-Z]", "")
    return pl.when(e.str.contains(r"^\d{1,4}$")).then(e.str.zfill(4)).otherwise(e)


def _town_element() -> pl.Expr:
    e = pl.element().str.strip_chars()
    return pl.when(e.str.contains(r"^\d{12}$") & e.str.ends_with("000")).then(e.str.slice(0, 9)).otherwise(e)


def _extra_rules(frame: pl.DataFrame, checks: list[tuple[str, pl.Expr, pl.Expr]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply (column, new value, rule) checks; return accepted rows and rejected records."""
    frame = frame.with_columns(
        *[v.alias(c) for c, v, _ in checks],
        *[r.alias(f"{c}__rule") for c, _, r in checks],
    )
    rule_cols = [f"{c}__rule" for c, _, _ in checks]
    bad_any = pl.any_horizontal(pl.col(r).is_not_null() for r in rule_cols)
    rejected = pl.concat([
        frame.filter(pl.col(f"{c}__rule").is_not_null()).select(
            "source_row", pl.lit(c).alias("column"), pl.col(f"{c}__rule").alias("rule"),
            pl.col(c).cast(pl.String).alias("value"))
        for c, _, _ in checks
    ]).cast(REJECTED_SCHEMA)
    return frame.filter(~bad_any).drop(rule_cols), rejected


def read_towns(file: RawFile | None) -> tuple[pl.DataFrame, tuple | None]:
    """The towns in force and, when the raw area has a towns.csv, its dq record."""
    if file is None:
        return shipped_towns(), None
    try:
        table = read_cells(file.path, TOWNS_REF, read_version(file.path, file.sha256 or None))
    except FileRejected as exc:
        msg = f"{exc.zh}；改用系统自带的山西乡镇名录 / {exc.en}; the shipped Shanxi towns list is used instead"
        return shipped_towns(), (file, "rejected", 0, 0, msg, _empty_rejected())
    frame = table.frame.with_columns(pl.col(c).str.strip_chars() for c in TOWN_COLUMNS)
    checks = [
        ("town_code", pl.col("town_code"),
         pl.when(~pl.col("town_code").str.contains(r"^\d{9}$").fill_null(False)).then(pl.lit(RuleName.VALUE_INVALID))),
        ("county_code", pl.col("county_code"),
         pl.when(~pl.col("county_code").str.contains(r"^\d{6}$").fill_null(False)).then(pl.lit(RuleName.VALUE_INVALID))),
        ("town_name", pl.col("town_name"),
         pl.when(pl.col("town_name").fill_null("") == "").then(pl.lit(RuleName.REQUIRED_MISSING))),
    ]
    accepted, rejected = _extra_rules(frame, checks)
    dup = accepted.filter(pl.len().over("town_code") > 1)
    if dup.height:
        rejected = pl.concat([rejected, dup.select(
            "source_row", pl.lit("town_code").alias("column"), pl.lit(RuleName.DUPLICATE_KEY).alias("rule"),
            pl.col("town_code").alias("value")).cast(REJECTED_SCHEMA)])
        accepted = accepted.filter(pl.len().over("town_code") == 1)
    towns = accepted.select(TOWN_COLUMNS).sort("town_code")
    return towns, (file, "loaded", table.frame.height, towns.height, "", rejected)


def read_references(files: list[RawFile]) -> ReferenceResult:
    """All reference files; other files in raw/reference/ are rejected."""
    by_name: dict[str, RawFile] = {}
    result_files: list[tuple] = []
    for f in files:  # files are in version order: the last one of a name is in force
        name = f.relpath.split("/")[-1]
        if name in TARGETS_FILES:  # targets.csv and targets.xlsx: one file, the later in force
            name = TARGETS_FILES[0]
        if f.relpath.count("/") == 1 and name in REFERENCES:
            if name in by_name:
                old = by_name[name]
                result_files.append((old, "rejected", 0, 0,
                                     f"已被同名的较新文件 {f.relpath} 取代 / superseded by the newer {f.relpath}",
                                     _empty_rejected()))
            by_name[name] = f
        else:
            result_files.append((f, "rejected", 0, 0,
                                 "不是已知的参考文件（应为 towns.csv、specialty_towns.csv、leading_enterprises.csv、"
                                 "market_totals.csv、targets.csv 或 targets.xlsx）/ not a known reference file "
                                 "(expected towns.csv, specialty_towns.csv, leading_enterprises.csv, "
                                 "market_totals.csv, targets.csv or targets.xlsx)",
                                 _empty_rejected()))

    towns, towns_record = _guarded(read_towns, by_name.get("towns.csv"), shipped_towns())
    if towns_record:
        result_files.append(towns_record)
    ctx = reference_context(towns)
    specialty, record = _guarded(_read_specialty, by_name.get("specialty_towns.csv"), EMPTY_SPECIALTY,
                                 ctx, towns)
    if record:
        result_files.append(record)
    leading, record = _guarded(_read_simple, by_name.get("leading_enterprises.csv"), EMPTY_LEADING,
                               LEADING_REF, ctx, EMPTY_LEADING, specialty)
    if record:
        result_files.append(record)
    market, record = _guarded(_read_simple, by_name.get("market_totals.csv"), EMPTY_MARKET,
                              MARKET_TOTALS_REF, ctx, EMPTY_MARKET, specialty)
    if record:
        result_files.append(record)
    targets, record = _guarded(_read_targets, by_name.get(TARGETS_FILES[0]), EMPTY_TARGETS,
                               ctx, towns, specialty)
    if record:
        result_files.append(record)
    return ReferenceResult(towns, specialty, leading, market, targets,
                           [_capped(r) for r in result_files])


def _guarded(read, file: RawFile | None, fallback: pl.DataFrame, *args) -> tuple[pl.DataFrame, tuple | None]:
    """`read(file, *args)`; any accident with the file rejects it and the fallback is used."""
    if file is None:
        return read(None, *args)
    try:
        return read(file, *args)
    except Exception as exc:  # noqa: BLE001 - one file's accident never stops the others
        return fallback, (file, "rejected", 0, 0, failure_message(exc), _empty_rejected())


def _capped(record: tuple) -> tuple:
    """At most REJECTED_ROWS_PER_RULE rejected rows per rule listed, the rest counted."""
    f, status, read, loaded, message, rejected = record
    rejected, left_out = cap_rejected(rejected)
    if left_out:
        zh, _, en = message.partition(" / ")
        zh += f"{'；' if zh else ''}{left_out} 行拒收行未逐条列出（每条规则只列前 {REJECTED_ROWS_PER_RULE:,} 行）"
        en += f"{'; ' if en else ''}{left_out} rejected rows not listed (the first {REJECTED_ROWS_PER_RULE:,} of each rule are)"
        message = f"{zh} / {en}"
    return f, status, read, loaded, message, rejected


def reference_context(towns: pl.DataFrame) -> ParseContext:
    return ParseContext(
        town_codes=towns["town_code"],
        industry_codes=industry_classes()["industry_code"],
        max_year=current_year(),
    )


def _read_specialty(file: RawFile | None, ctx: ParseContext,
                    towns: pl.DataFrame) -> tuple[pl.DataFrame, tuple | None]:
    if file is None:
        return EMPTY_SPECIALTY, None
    try:
        table = read_cells(file.path, SPECIALTY_TOWNS_REF, read_version(file.path, file.sha256 or None))
    except FileRejected as exc:
        return EMPTY_SPECIALTY, (file, "rejected", 0, 0, f"{exc.zh} / {exc.en}", _empty_rejected())
    frame = table.frame.with_columns(
        pl.col(c).str.strip_chars() for c in ("id", "name", "county_code", "category")
    )
    host, host_rule = _list_rule("host_town_codes", _town_element(), ctx.town_codes, RuleName.UNKNOWN_TOWN, False)
    core, core_rule = _list_rule("core_industry_codes", _industry_element(), ctx.industry_codes,
                                 RuleName.INDUSTRY_INVALID, True)
    sup, sup_rule = _list_rule("supporting_industry_codes", _industry_element(), ctx.industry_codes,
                               RuleName.INDUSTRY_INVALID, False)
    heritage, heritage_rule = parse_boolean("heritage", SPECIALTY_TOWNS_REF.column("heritage"), ctx)
    national, national_rule = parse_boolean("national_market",
                                            SPECIALTY_TOWNS_REF.column("national_market"), ctx)
    category = pl.col("category").str.to_lowercase()
    counties = towns["county_code"].unique()
    checks = [
        ("id", pl.col("id"), pl.when(pl.col("id").fill_null("") == "").then(pl.lit(RuleName.REQUIRED_MISSING))),
        ("name", pl.col("name"), pl.when(pl.col("name").fill_null("") == "").then(pl.lit(RuleName.REQUIRED_MISSING))),
        ("county_code", pl.col("county_code"),
         pl.when(~pl.col("county_code").is_in(counties.implode()).fill_null(False)).then(pl.lit(RuleName.UNKNOWN_TOWN))),
        ("host_town_codes", host, host_rule),
        ("category", category,
         pl.when(~category.is_in(list(SPECIALTY_CATEGORIES)).fill_null(False)).then(pl.lit(RuleName.VALUE_INVALID))),
        ("heritage", heritage, heritage_rule),
        ("national_market", national, national_rule),
        ("core_industry_codes", core, core_rule),
        ("supporting_industry_codes", sup, sup_rule),
    ]
    accepted, rejected = _extra_rules(frame, checks)
    dup = pl.len().over("id") > 1
    rejected = pl.concat([rejected, accepted.filter(dup).select(
        "source_row", pl.lit("id").alias("column"), pl.lit(RuleName.DUPLICATE_KEY).alias("rule"),
        pl.col("id").alias("value")).cast(REJECTED_SCHEMA)])
    accepted = accepted.filter(~dup)
    out = accepted.select(EMPTY_SPECIALTY.columns).cast(EMPTY_SPECIALTY.schema).sort("id")
    return out, (file, "loaded", table.frame.height, out.height, "", rejected)


def _read_simple(file: RawFile | None, spec, ctx: ParseContext, empty: pl.DataFrame,
                 specialty: pl.DataFrame) -> tuple[pl.DataFrame, tuple | None]:
    if file is None:
        return empty, None
    try:
        table = read_cells(file.path, spec, read_version(file.path, file.sha256 or None))
    except FileRejected as exc:
        return empty, (file, "rejected", 0, 0, f"{exc.zh} / {exc.en}", _empty_rejected())
    v = validate_table(table.frame, spec, ctx, table.money_factors)
    accepted, extra = _extra_rules(v.accepted, [(
        "specialty_town_id", pl.col("specialty_town_id"),
        pl.when(~pl.col("specialty_town_id").is_in(specialty["id"].implode()).fill_null(False))
        .then(pl.lit(RuleName.VALUE_INVALID)),
    )])
    rejected = pl.concat([v.rejected, extra]).sort("source_row")
    out = accepted.select(empty.columns).cast(empty.schema)
    return out, (file, "loaded", table.frame.height, out.height, "", rejected)


def _read_targets(file: RawFile | None, ctx: ParseContext, towns: pl.DataFrame,
                  specialty: pl.DataFrame) -> tuple[pl.DataFrame, tuple | None]:
    """reference/targets.csv or .xlsx (contract section 6.2): the accepted targets, and the
    file's dq record.

    A blank cell is required_missing (every column is required); an unknown level, an
    indicator that is not a column of the level's indicator table or a target that is not a
    number is value_invalid; an id not in the towns (level town; a 12-digit code ending 000 is
    cut to 9) or the specialty towns is unknown_town; a year breaks the year rule; the same
    (level, id, year, indicator) twice, compared after normalisation among rows whose key
    cells are valid, is duplicate_key on every such row. The target is kept as written, in
    the indicator's own unit (no rounding: a ratio's target is a fraction).
    """
    if file is None:
        return EMPTY_TARGETS, None
    try:
        table = read_cells(file.path, TARGETS_REF, read_version(file.path, file.sha256 or None))
    except FileRejected as exc:
        return EMPTY_TARGETS, (file, "rejected", 0, 0, f"{exc.zh} / {exc.en}", _empty_rejected())
    frame = table.frame
    names = [c.name for c in TARGETS_REF.columns]

    def text(c: str) -> pl.Expr:
        t = pl.col(c).str.strip_chars()
        return pl.when(t != "").then(t)

    level = text("level").str.to_lowercase().replace_strict(TARGET_LEVELS, default=None)
    town_id = text("id")
    town_id = pl.when(town_id.str.contains(r"^\d{12}$") & town_id.str.ends_with("000")).then(
        town_id.str.slice(0, 9)).otherwise(town_id)
    ident = pl.when(level == "town").then(town_id).otherwise(text("id"))
    known_id = (pl.when(level == "town").then(ident.is_in(towns["town_code"].implode()))
                .otherwise(ident.is_in(specialty["id"].implode())))
    indicator = text("indicator")
    known_indicator = pl.lit(False)
    for lvl, table_name in TARGET_TABLES.items():
        known_indicator = known_indicator | (
            (level == lvl) & indicator.is_in([i.name for i in indicators(table_name)]))
    year, year_rule = parse_year("year", TARGETS_REF.column("year"), ctx)
    target_text = pl.col("target").str.strip_chars()
    number = target_text.str.replace_all(r"[,，\s]", "").cast(pl.Float64, strict=False)
    number = pl.when(number.is_finite()).then(number)

    missing, invalid = pl.lit(RuleName.REQUIRED_MISSING), pl.lit(RuleName.VALUE_INVALID)
    rules = {
        "level": pl.when(text("level").is_null()).then(missing).when(level.is_null()).then(invalid),
        "id": pl.when(text("id").is_null()).then(missing)
        .when(level.is_not_null() & ~known_id.fill_null(False)).then(pl.lit(RuleName.UNKNOWN_TOWN)),
        "year": year_rule,
        "indicator": pl.when(indicator.is_null()).then(missing)
        .when(level.is_not_null() & ~known_indicator.fill_null(False)).then(invalid),
        "target": pl.when(target_text.is_null() | target_text.is_in(BLANK_MARKERS)).then(missing)
        .when(number.is_null()).then(invalid),
    }
    # a cell holding a control character, or longer than Excel allows (contract section 2)
    unsafe = {c: has_control_expr(pl.col(c)) | (pl.col(c).str.len_chars() > CELL_MAX_CHARS).fill_null(False)
              for c in names}
    frame = frame.with_columns(
        level.alias("__level"), ident.alias("__id"), year.cast(pl.Int32).alias("__year"),
        indicator.alias("__indicator"), number.alias("__target"),
        *[pl.when(unsafe[c]).then(invalid).otherwise(rules[c]).cast(pl.String).alias(f"{c}__rule")
          for c in names],
    )
    key = list(TARGETS_REF.key)
    key_valid = pl.all_horizontal(pl.col(f"{k}__rule").is_null() for k in key)
    normalised = [f"__{k}" for k in key]
    dup = key_valid & (pl.len().over(normalised) > 1)
    frame = frame.with_columns(dup.alias("__dup"))
    rejected = pl.concat([
        *[frame.filter(pl.col(f"{c}__rule").is_not_null()).select(
            "source_row", pl.lit(c).alias("column"), pl.col(f"{c}__rule").alias("rule"),
            pl.col(c).alias("value")).cast(REJECTED_SCHEMA) for c in names],
        frame.filter("__dup").select(
            "source_row", pl.lit(";".join(key)).alias("column"),
            pl.lit(RuleName.DUPLICATE_KEY).alias("rule"),
            pl.concat_str([pl.col(c).cast(pl.String) for c in normalised], separator=";").alias("value"),
        ).cast(REJECTED_SCHEMA),
    ]).sort("source_row", "column")
    bad = pl.any_horizontal(*[pl.col(f"{c}__rule").is_not_null() for c in names], pl.col("__dup"))
    out = (
        frame.filter(~bad)
        .select(*[pl.col(f"__{c}").alias(c) for c in EMPTY_TARGETS.columns])
        .cast(EMPTY_TARGETS.schema)
        .sort(key)
    )
    return out, (file, "loaded", frame.height, out.height, "", rejected)
