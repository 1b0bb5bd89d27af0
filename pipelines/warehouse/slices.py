"""A large fact read in key order, one bounded slice at a time, for loading into a table.

A fact is loaded one value of its key's first column at a time (a month of enrolment rows),
each value's rows sorted by the whole key so that the table's key b-tree fills in order. A
month of a province is about a million enrolment rows; sorted, prepared and handed to the
database as Arrow it took about 1 GB in the loading process (measured: 1,053 MB for one
month, 1,622 MB for three in one worker), and a month grows with the area served. So a value
with more than `SLICE_ROWS` rows is cut further, into ranges of the key's second column (the
person key, a hex digest): the ranges are disjoint, cover every row and come in ascending
order, so the slices one after another are the value's rows in key order, exactly as one
sort would give them. Measured on one province month (1.07 M rows, one thread): read and
sorted whole 0.73 s and 817 MB; in four slices 0.79 s and 339 MB.

The ranges' bounds are prefixes of the second column's values, chosen from a histogram of
their first `PREFIX` characters (at most 16^4 groups for a hex key), so finding them holds no
row in memory. A value whose rows share one prefix is not cut finer: the slices are then
larger than `SLICE_ROWS`, never wrong.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import polars as pl

#: A key value with more rows than this is read in slices of about this many rows.
SLICE_ROWS = 300_000
#: Characters of the key's second column that the slices' bounds are chosen from.
PREFIX = 4


def slice_bounds(rows: pl.LazyFrame, column: str, slices: int) -> list[str]:
    """Ascending prefixes of `column` cutting `rows` into about `slices` ranges of equal size."""
    hist = (rows.group_by(pl.col(column).str.slice(0, PREFIX).alias("prefix")).agg(pl.len())
            .sort("prefix").collect())
    total = int(hist["len"].sum())
    # a range starts at the prefix where the running count first reaches its share
    before = hist["len"].cum_sum() - hist["len"]
    bounds: list[str] = []
    for i in range(1, slices):
        at = hist.filter(before >= total * i / slices)["prefix"]
        if at.len() and (not bounds or at[0] > bounds[-1]):
            bounds.append(at[0])
    return bounds


def key_ordered_slices(frame: pl.LazyFrame, key: list[str], value: object, rows: int | None = None,
                       column: str | None = None, slice_rows: int | None = None) -> Iterator[pl.DataFrame]:
    """The rows of `frame` whose `column` (default `key[0]`) is `value`, sorted by `key`, in
    slices (see above; only when `column` is `key[0]`: otherwise one slice).

    `rows`: how many rows `value` has, when known (otherwise they are counted); `slice_rows`:
    `SLICE_ROWS` unless given (a worker process is handed its parent's)."""
    column = column or key[0]
    selected = frame.filter(pl.col(column) == value)
    second = key[1] if len(key) > 1 and column == key[0] else None
    if rows is None and second is not None:
        rows = selected.select(pl.len()).collect().item()
    slices = math.ceil((rows or 0) / (slice_rows or SLICE_ROWS))
    if second is None or slices <= 1 or frame.collect_schema()[second] != pl.String:
        yield _sorted(selected, key, column)
        return
    bounds = slice_bounds(selected, second, slices)
    for lo, hi in zip([None, *bounds], [*bounds, None], strict=True):
        part = selected
        if lo is not None:
            part = part.filter(pl.col(second) >= lo)
        if hi is not None:
            part = part.filter(pl.col(second) < hi)
        yield _sorted(part, key, column)


def _sorted(rows: pl.LazyFrame, key: list[str], column: str) -> pl.DataFrame:
    """`rows` collected and sorted by `key`. When they all share `key[0]` (the month they were
    chosen by) the rest of the key orders them: Polars sorts a month's 1.07 M enrolment rows by
    (person key, employer) in 0.36 s, by the whole key, its constant month first, in 1.2 s."""
    if column != key[0]:
        return rows.sort(key).collect()
    rest = key[1:]
    return rows.collect().sort(rest) if rest else rows.collect()
