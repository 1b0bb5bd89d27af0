"""The independent DuckDB SQL (reference_sql.py) over the facts and references read back from
the county demo warehouse, against ind_town_year and ind_specialty_town_year as published,
cell by cell (floats to a relative 1e-9)."""

from __future__ import annotations

import polars as pl
import pytest
from cell_compare import assert_same_cells
from reference_sql import reference_specialty_town_year, reference_town_year

from pipelines.warehouse.read import read_table
from tests.lineage.demo_warehouse import published_demo


@pytest.fixture(scope="module", params=["sqlite"])
def facts(request):
    demo = published_demo(request, request.param)
    ref = demo.raw / "reference"
    # leading enterprises and market totals are not warehouse tables: the raw reference files
    leading = pl.read_csv(ref / "leading_enterprises.csv", infer_schema=False).select(
        pl.col("specialty_town_id").str.strip_chars(),
        pl.col("uscc").str.strip_chars().str.to_uppercase(),
        pl.col("from_year").cast(pl.Int32),
        pl.col("to_year").replace("", None).cast(pl.Int32),
    )
    market = pl.read_csv(ref / "market_totals.csv", infer_schema=False).select(
        pl.col("specialty_town_id").str.strip_chars(),
        pl.col("year").cast(pl.Int32),
        pl.col("provincial_output").cast(pl.Float64),
    )
    return demo.url, {
        "enterprise": read_table(demo.url, "fact_enterprise_year"),
        "tax": read_table(demo.url, "fact_tax_month"),
        "employment": read_table(demo.url, "fact_employment_month"),
        "registry": read_table(demo.url, "fact_market_entity"),
        "towns": read_table(demo.url, "dim_town"),
        "specialty_towns": read_table(demo.url, "dim_specialty_town"),
        "leading": leading,
        "market_totals": market,
    }


def test_ind_town_year_equals_the_sql_reference(facts):
    url, f = facts
    want = reference_town_year(f["enterprise"], f["tax"], f["employment"], f["registry"])
    got = read_table(url, "ind_town_year")
    assert set(got.columns) <= set(want.columns)
    assert got.height == 39  # 13 towns x 3 years
    n = assert_same_cells(got, want.select(got.columns), ["town_code", "year"])
    assert n == 39 * len(got.columns)


def test_insured_persons_counted_in_passes_equal_the_sql_reference(facts, monkeypatch):
    # at province scale the distinct persons are counted in passes over the enrolment rows, a
    # share of the towns (specialty towns) each (`indicators/passes.py`); here in many passes
    from pipelines.indicators.passes import passes_for
    from pipelines.indicators.specialty import specialty_town_year
    from pipelines.indicators.town import december_enrolments, town_year

    _, f = facts
    monkeypatch.setattr("pipelines.indicators.passes.PASS_ROWS", 97)
    december = december_enrolments(f["employment"], [2022, 2023, 2024])
    assert passes_for(december) == -(-december.select(pl.len()).collect().item() // 97) > 10
    counts = ["insured_persons", "local_insured_persons"]
    town = town_year(f["enterprise"], f["tax"], f["employment"], f["registry"], f["towns"])
    want = reference_town_year(f["enterprise"], f["tax"], f["employment"], f["registry"])
    assert town["insured_persons"].sum() > 0
    assert_same_cells(town.select("town_code", "year", *counts),
                      want.select("town_code", "year", *counts), ["town_code", "year"])
    st = specialty_town_year(f["enterprise"], f["tax"], f["employment"], f["registry"], f["towns"],
                             f["specialty_towns"], f["leading"], f["market_totals"])
    want = reference_specialty_town_year(**f)
    assert st["insured_persons"].sum() > 0
    assert_same_cells(st.select("specialty_town_id", "year", *counts),
                      want.select("specialty_town_id", "year", *counts), ["specialty_town_id", "year"])


def test_ind_specialty_town_year_equals_the_sql_reference(facts):
    url, f = facts
    want = reference_specialty_town_year(**f)
    got = read_table(url, "ind_specialty_town_year")
    assert set(got.columns) <= set(want.columns)
    assert got.height == 9  # 3 specialty towns x 3 years
    assert_same_cells(got, want.select(got.columns), ["specialty_town_id", "year"])
    assert got["leading_enterprises"].sum() > 0 and got["market_share"].null_count() == 0


def test_the_taxpayer_year_sums_stand_in_for_the_tax_fact(facts):
    # the steps downstream of ingest read the tax asset's taxpayer_year instead of the fact:
    # every table they make is the same either way
    from pipelines.disclosure.suppression import publish_town_year
    from pipelines.indicators.attribution import taxpayer_years
    from pipelines.indicators.specialty import specialty_town_year
    from pipelines.indicators.town import town_year
    from pipelines.quality.flags import cross_source_flags, tax_mismatch_flags

    _, f = facts
    yearly = taxpayer_years(f["tax"]).collect()
    # one taxpayer-year by hand: the sum of its monthly rows
    year, uscc = yearly.sort("year", "uscc").row(0)[:2]
    months = f["tax"].filter((pl.col("year") == year) & (pl.col("uscc") == uscc))
    assert yearly.filter((pl.col("year") == year) & (pl.col("uscc") == uscc))["total"][0] == \
        pytest.approx(sum(v for v in months["total_tax"].to_list() if v is not None), abs=0.005)
    assert yearly.height == f["tax"].select("year", "uscc").n_unique()
    assert taxpayer_years(yearly).collect().equals(yearly)  # sums are taken as they are

    ent, emp, reg, towns = f["enterprise"], f["employment"], f["registry"], f["towns"]
    by_fact = town_year(ent, f["tax"], emp, reg, towns)
    assert by_fact.equals(town_year(ent, yearly, emp, reg, towns))
    assert publish_town_year(by_fact, ent, f["tax"], reg, towns).equals(
        publish_town_year(by_fact, ent, yearly, reg, towns))
    args = (emp, reg, towns, f["specialty_towns"], f["leading"], f["market_totals"])
    assert specialty_town_year(ent, f["tax"], *args).equals(specialty_town_year(ent, yearly, *args))
    flags = cross_source_flags(ent, f["tax"], emp)
    assert flags.height > 0 and flags.equals(cross_source_flags(ent, f["tax"], emp, tax_years=yearly))
    # the mismatch flags made apart, year by year (as the tax ingest keeps them), give the same
    by_year = pl.concat([tax_mismatch_flags(part).collect() for part in f["tax"].partition_by("year")])
    mismatched = flags.filter(pl.col("rule") == "total_tax_mismatch")
    assert mismatched.height > 0 and sorted(by_year.rows()) == sorted(mismatched.rows())
    assert flags.equals(cross_source_flags(ent, f["tax"], emp, tax_years=yearly, tax_mismatch=by_year))
