"""The blocking `no_suppressed_value_published` check of pub_town_year (contract section 7):
every money column listed in a row's `suppressed` is NULL in that row, and so is every yoy or
ratio column computed from one of them (`DERIVED`)."""

from __future__ import annotations

import polars as pl

from pipelines.disclosure.suppression import DERIVED, MONEY


def _listed(pub: pl.DataFrame) -> pl.Series:
    return pub["suppressed"].str.split(";")


def suppressed_cells(pub: pl.DataFrame) -> dict[str, int]:
    """Money column -> the rows of `pub` whose `suppressed` lists it (every money column)."""
    listed = _listed(pub)
    return {c: int(listed.list.contains(c).sum()) for c in MONEY}


def leaking_cells(pub: pl.DataFrame) -> int:
    """The cells of `pub` that hold a value although `suppressed` says they may not: a money
    column listed in the row, or a derived column one of whose money columns is listed."""
    listed = _listed(pub)
    leaks = 0
    for c in MONEY:
        leaks += pub.filter(listed.list.contains(c) & pl.col(c).is_not_null()).height
    for d, (bases, _previous) in DERIVED.items():
        leaks += pub.filter(pl.any_horizontal(listed.list.contains(b) for b in bases)
                            & pl.col(d).is_not_null()).height
    return leaks
