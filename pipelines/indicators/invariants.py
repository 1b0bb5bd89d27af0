"""What must hold of an indicator table whatever the data (the blocking checks of the
indicator assets), read from the catalogue: counts are not negative, a subset never exceeds
its whole (`at_most`), a share lies in [0, 1], and the money summed from enterprise rows adds up
by county to what the facts hold."""

from __future__ import annotations

import polars as pl

from pipelines.indicators.catalogue import KEYS, indicators


def table_problems(ind: pl.DataFrame, table: str) -> list[str]:
    """Problems of an indicator table by its catalogue (an empty list: none)."""
    inds = indicators(table)
    problems = []
    if ind.height != ind.select(list(KEYS[table])).n_unique():
        problems.append("duplicate key")
    # a count of rows or persons is never negative (a sum of reported counts is the GX suite's)
    counts = [i.name for i in inds if i.kind == "count" and not (i.recipe and i.recipe.kind == "sum")]
    if counts and ind.filter(pl.any_horizontal(pl.col(c) < 0 for c in counts)).height:
        problems.append("negative count")
    for i in inds:
        if i.at_most and ind.filter(pl.col(i.name) > pl.col(i.at_most)).height:
            problems.append(f"{i.name} > {i.at_most}")
        if i.share and ind.filter((pl.col(i.name) < 0) | (pl.col(i.name) > 1)).height:
            problems.append(f"{i.name} outside [0, 1]")
    return problems


def town_totals_problems(ind: pl.DataFrame, enterprise: pl.DataFrame, towns: pl.DataFrame) -> list[str]:
    """Every enterprise row of an indicator year lands in exactly one town of its county: the
    row count and every money column summed from enterprise rows add up by county and year."""
    years = ind["year"].unique()
    ent = enterprise.filter(pl.col("year").is_in(years.implode())).join(
        towns.select("town_code", "county_code"), on="town_code")
    problems = []
    for i in indicators("ind_town_year"):
        r = i.recipe
        every_row = r is not None and r.kind == "count" and r.column == ""
        if r is None or r.source != "enterprise" or not (every_row or (r.kind == "sum" and i.kind == "money")):
            continue
        fact = pl.len() if r.kind == "count" else pl.col(r.column).sum()
        by_town = ind.group_by("county_code", "year").agg(pl.col(i.name).sum().alias("towns"))
        by_fact = ent.group_by("county_code", "year").agg(fact.alias("facts"))
        off = by_town.join(by_fact, on=["county_code", "year"], how="full", coalesce=True).filter(
            (pl.col("towns").fill_null(0) - pl.col("facts").fill_null(0)).abs() > 0.01)
        if off.height:
            problems.append(f"{i.name}: town sums differ from the facts in {off.height} county-years")
    return problems
