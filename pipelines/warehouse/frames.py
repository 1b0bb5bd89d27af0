"""Frames as the warehouse stores them: selected and cast to the declared columns, and digested.

`prepare_frame` fits a frame to its table (`tables.py`) before the database is touched;
`content_fingerprint` and `content_partitions` digest a frame's rows (whole, or per
partition: file, month or year) so that a publication can leave unchanged content alone.
"""

from __future__ import annotations

import hashlib

import polars as pl

from .tables import SPEC_BY_NAME, polars_schema, table_names


class PublishError(ValueError):
    """A frame does not fit its warehouse table; nothing was published."""


def prepare_frame(name: str, df: pl.DataFrame) -> pl.DataFrame:
    """`df` selected and cast to the declared columns of table `name`, in declared order.

    Missing nullable columns become NULL; a missing NOT NULL column, a NOT NULL column with
    nulls, or a value that cannot be cast is a `PublishError` naming table and column.
    Columns not declared are dropped.
    """
    if name not in SPEC_BY_NAME:
        raise PublishError(f"unknown warehouse table {name!r}; known: {', '.join(table_names())}")
    spec = SPEC_BY_NAME[name]
    schema = polars_schema(name)
    exprs = []
    for col in spec.columns:
        dtype = schema[col.name]
        if col.name not in df.columns:
            if col.required:
                raise PublishError(f"{name}: required column {col.name!r} is missing from the frame")
            exprs.append(pl.lit(None, dtype=dtype).alias(col.name))
            continue
        src = df.schema[col.name]
        expr = pl.col(col.name)
        if isinstance(dtype, pl.Datetime) and isinstance(src, pl.Datetime):
            expr = (
                expr.dt.replace_time_zone("UTC")
                if src.time_zone is None
                else expr.dt.convert_time_zone("UTC")
            ).dt.cast_time_unit("us")
        elif src == pl.Null:
            expr = expr.cast(dtype)
        if src == dtype:
            exprs.append(expr.alias(col.name))
            continue
        try:
            df.select(expr.cast(dtype, strict=True).alias("_check"))
        except Exception as exc:  # noqa: BLE001 - reported with table and column
            raise PublishError(
                f"{name}.{col.name}: cannot cast {src} to {dtype}: {exc}"
            ) from exc
        exprs.append(expr.cast(dtype).alias(col.name))
    out = df.select(exprs)
    # Length limits (PostgreSQL enforces them, SQLite would not): same error on both.
    # A string has at most as many characters as UTF-8 bytes: the byte lengths (a cheap read of
    # the offsets) settle most columns, characters are counted only when the bytes exceed.
    for col in spec.columns:
        length = getattr(col.type, "length", None)
        if length and out.height:
            widest = out.select(pl.col(col.name).str.len_bytes().max()).item()
            if widest is None or widest <= length:
                continue
            longest = out.select(pl.col(col.name).str.len_chars().max()).item()
            if longest is not None and longest > length:
                raise PublishError(
                    f"{name}.{col.name}: value of {longest} characters, at most {length} allowed"
                )
    required = [c.name for c in spec.columns if c.required]
    nulls = out.select(pl.col(required).null_count()).row(0, named=True) if required else {}
    bad = [f"{c} ({n} nulls)" for c, n in nulls.items() if n]
    if bad:
        raise PublishError(f"{name}: NOT NULL column(s) with nulls: {', '.join(bad)}")
    return out


# -- content fingerprints -------------------------------------------------------------------


def content_fingerprint(df: pl.DataFrame) -> str:
    """A digest of a frame's rows, whatever their order (for tables built every run)."""
    hashes = df.hash_rows(seed=0x746F776E).sort().to_numpy().tobytes()
    digest = hashlib.sha256(hashes)
    digest.update(repr(df.schema).encode())
    return digest.hexdigest()


#: The column a table's rows are republished by, when not its key's first column: the derived
#: tables by year, so that one changed year of inputs rewrites that year's rows only.
PARTITION_COLUMNS = {"ind_town_year": "year", "ind_specialty_town_year": "year", "eval_criterion": "year",
                     "eval_specialty_town": "year", "pub_town_year": "year"}
#: Any other table built every run (a DataFrame) with at least this many rows is compared per value
#: of its key's first column too (dq_rejected_row per file), so one new file reloads one slice.
PARTITION_MIN_ROWS = 100_000
#: ... unless that column has more values than this: a column nearly unique (the register's
#: USCC, 326,696 values at province scale) would make a partition, and a digest, per row
#: (12.5 s for the register), and a changed row would reload as much as the whole table.
PARTITION_MAX_PARTS = 10_000


def partition_column(name: str) -> str:
    return PARTITION_COLUMNS.get(name, SPEC_BY_NAME[name].key[0])


def partition_value(name: str, part: str) -> str | int:
    """A partition's name (text, as recorded) as a value of its column."""
    return int(part) if polars_schema(name)[partition_column(name)].is_integer() else part


def content_partitions(name: str, df: pl.DataFrame) -> dict[str, str]:
    """A digest of the rows per value of the table's partition column (file, month, year)."""
    col = partition_column(name)
    hashed = df.select(pl.col(col), df.hash_rows(seed=0x746F776E).alias("h"))
    out = {}
    for (part,), group in hashed.partition_by(col, as_dict=True).items():  # one per file, month or year
        out[str(part)] = hashlib.sha256(group["h"].sort().to_numpy().tobytes()).hexdigest()
    return out


def partitioned_by_content(name: str, df: pl.DataFrame) -> bool:
    col = partition_column(name)
    dtype = df.schema.get(col)
    if dtype is None or not (dtype == pl.String or dtype.is_integer()):
        return False
    if name in PARTITION_COLUMNS:
        return True
    return df.height >= PARTITION_MIN_ROWS and df[col].n_unique() <= PARTITION_MAX_PARTS
