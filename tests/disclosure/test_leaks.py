"""The `no_suppressed_value_published` check of pub_town_year as functions
(`pipelines/disclosure/leaks.py`), on rows made by hand: contract section 7 says which columns
are money and which yoy or ratio columns are computed from them."""

from __future__ import annotations

import polars as pl

from pipelines.disclosure.leaks import leaking_cells, suppressed_cells

MONEY = ["output_value", "revenue", "rd_expenditure", "export_value", "ecommerce_sales", "tax_total"]
DERIVED = ["output_value_yoy", "revenue_yoy", "tax_total_yoy", "rd_intensity"]


def row(suppressed: str, nulls: tuple[str, ...] = ()) -> dict:
    """A published row: every money and derived cell holds a value, except `nulls`."""
    return {"town_code": "140823100", "year": 2024, "suppressed": suppressed,
            **{c: None if c in nulls else 1.0 for c in MONEY + DERIVED}}


def frame(rows: list[dict]) -> pl.DataFrame:
    schema = {"town_code": pl.String, "year": pl.Int32, "suppressed": pl.String,
              **{c: pl.Float64 for c in MONEY + DERIVED}}
    return pl.DataFrame(rows, schema=schema)


def test_nothing_suppressed_nothing_leaks():
    pub = frame([row(""), row("", nulls=("revenue", "rd_intensity"))])
    assert leaking_cells(pub) == 0
    assert suppressed_cells(pub) == dict.fromkeys(MONEY, 0)


def test_suppressed_cells_and_what_they_null_do_not_leak():
    pub = frame([
        row("output_value", nulls=("output_value", "output_value_yoy")),
        row("output_value;revenue", nulls=("output_value", "output_value_yoy", "revenue",
                                           "revenue_yoy", "rd_intensity")),
    ])
    assert leaking_cells(pub) == 0
    assert suppressed_cells(pub) == {"output_value": 2, "revenue": 1, "rd_expenditure": 0,
                                     "export_value": 0, "ecommerce_sales": 0, "tax_total": 0}


def test_every_value_left_beside_a_listed_column_is_a_leak():
    pub = frame([
        # revenue listed but kept (1), and so are revenue_yoy (1) and rd_intensity (1)
        row("revenue"),
        # both nulled, but tax_total_yoy kept (1); rd_intensity nulled as it must be
        row("rd_expenditure;tax_total", nulls=("rd_expenditure", "tax_total", "rd_intensity")),
        # two money cells kept (2); nothing is derived from them
        row("export_value;ecommerce_sales"),
        # rd_intensity kept although rd_expenditure is listed (1)
        row("rd_expenditure", nulls=("rd_expenditure",)),
    ])
    assert leaking_cells(pub) == 3 + 1 + 2 + 1
    assert suppressed_cells(pub) == {"output_value": 0, "revenue": 1, "rd_expenditure": 2,
                                     "export_value": 1, "ecommerce_sales": 1, "tax_total": 1}


def test_a_null_cell_not_listed_is_no_leak_and_a_listed_one_counts_once():
    # output_value null without being listed: not the check's business (primary rule aside)
    pub = frame([row("", nulls=("output_value",)), row("tax_total", nulls=("tax_total_yoy",))])
    assert leaking_cells(pub) == 1  # tax_total itself
