"""Distinct counts of persons over the enrolment rows, in passes, so that memory stays flat.

Counting the distinct persons of each town (or employer, specialty town, target id) holds
every distinct (group, person) pair of the rows read: for the three Decembers of a province,
3.2 million pairs of 64-character keys, about 1.2 GB in Polars' streaming group-by, four
times that for four provinces. Here the rows are read once per pass and each pass keeps the
groups of a share of the ids only (the hash of the id modulo the number of passes). The
passes are as many as there are `PASS_ROWS` rows to read, so one pass holds about as much
for a county as for a province; the groups of different passes are disjoint, so the passes'
results together are the whole answer, exactly.
"""

from __future__ import annotations

import math

import polars as pl

#: Rows read per pass: one pass holds the groups of about this many rows.
PASS_ROWS = 2_000_000


def passes_for(rows: pl.LazyFrame) -> int:
    """How many passes the distinct counts over `rows` (the enrolment rows they read) take."""
    n = rows.select(pl.len()).collect().item()
    return max(1, math.ceil(n / PASS_ROWS))


def grouped_in_passes(rows: pl.LazyFrame, by: list[str], aggs: list[pl.Expr], passes: int,
                      share: str | None = None) -> pl.DataFrame:
    """`rows.group_by(by).agg(aggs)`, computed in `passes` passes, each over the rows whose
    `share` column (default: the first of `by`) hashes to that pass."""
    if passes <= 1:
        return rows.group_by(by).agg(aggs).collect()
    part = pl.col(share or by[0]).hash(seed=0) % passes
    # one pass after another, each collected: a lazy union could run them side by side
    return pl.concat([rows.filter(part == i).group_by(by).agg(aggs).collect() for i in range(passes)])
