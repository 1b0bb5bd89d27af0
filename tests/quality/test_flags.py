"""Cross-source flags (contract section 8)."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "indicators"))
from synthetic_facts import employment_frame, enterprise_frame, random_facts, tax_frame  # noqa: E402

from pipelines.quality import FLAG_COLUMNS, cross_source_flags  # noqa: E402

T = "140823100"


def _flags(ent_rows, tax_rows=(), emp_rows=()):
    return cross_source_flags(enterprise_frame(ent_rows), tax_frame(list(tax_rows)), employment_frame(list(emp_rows)))


def _keys(flags, rule):
    return set(flags.filter(pl.col("rule") == rule)["key"])


def test_tax_sales_gap_boundary():
    ents = [{"year": 2023, "uscc": u, "town_code": T, "revenue": 100.0} for u in ("A", "B", "C")]
    tax = [
        {"period": "2023-01", "uscc": "A", "invoice_sales": 40.0}, {"period": "2023-02", "uscc": "A", "invoice_sales": 30.0},
        {"period": "2023-01", "uscc": "B", "invoice_sales": 69.99},
        {"period": "2023-01", "uscc": "C", "invoice_sales": None},
    ]
    f = _flags(ents, tax)
    assert _keys(f, "tax_sales_gap") == {"2023|B"}  # A: 70 vs 100 is exactly 30 %: not more
    detail = f.filter(pl.col("rule") == "tax_sales_gap")["detail"][0]
    assert "69.99" in detail and "100.0" in detail and "30%" in detail


def test_employment_gap_uses_december_distinct_persons():
    ents = [{"year": 2023, "uscc": "A", "town_code": T, "employees": 4},
            {"year": 2023, "uscc": "B", "town_code": T, "employees": 5}]
    emp = [{"period": "2023-12", "person_key": p, "employer_uscc": "A", "hukou_county_code": "140823"} for p in "pq"]
    emp += [{"period": "2023-11", "person_key": p, "employer_uscc": "B", "hukou_county_code": "140823"} for p in "pqrs"]
    emp += [{"period": "2023-12", "person_key": "p", "employer_uscc": "B", "hukou_county_code": "140823"}]
    f = _flags(ents, emp_rows=emp)
    assert _keys(f, "employment_gap") == {"2023|B"}  # A: 2 vs 4 is exactly 50 %


def test_yoy_jump_rd_little_giant():
    ents = [
        {"year": 2022, "uscc": "A", "town_code": T, "output_value": 10.0},
        {"year": 2023, "uscc": "A", "town_code": T, "output_value": 100.01},
        {"year": 2022, "uscc": "B", "town_code": T, "output_value": 100.0},
        {"year": 2023, "uscc": "B", "town_code": T, "output_value": 10.0},
        {"year": 2022, "uscc": "C", "town_code": T, "output_value": 0.0},
        {"year": 2023, "uscc": "C", "town_code": T, "output_value": 1000.0, "revenue": 5.0, "rd_expenditure": 6.0,
         "little_giant": True},
        {"year": 2023, "uscc": "D", "town_code": T, "little_giant": True, "specialized_sme": True,
         "revenue": 5.0, "rd_expenditure": 5.0},
    ]
    f = _flags(ents)
    assert _keys(f, "yoy_jump") == {"2023|A"}
    assert _keys(f, "rd_exceeds_revenue") == {"2023|C"}
    assert _keys(f, "little_giant_not_sme") == {"2023|C"}
    assert set(f.filter(pl.col("key") == "2023|C")["source"]) == {"enterprise"}


def test_total_tax_mismatch():
    tax = [
        {"period": "2023-01", "uscc": "A", "vat": 1.0, "corporate_income_tax": 1.0, "other_tax": 1.0,
         "total_tax": 4.0, "total_tax_reported": 4.0},  # exactly 1 yuan off: fine
        {"period": "2023-02", "uscc": "A", "vat": 1.0, "corporate_income_tax": 1.0, "other_tax": 1.0,
         "total_tax": 4.01, "total_tax_reported": 4.01},
        {"period": "2023-03", "uscc": "A", "vat": 1.0, "corporate_income_tax": None, "other_tax": 1.0,
         "total_tax": 9.0, "total_tax_reported": 9.0},  # a part missing: not compared
    ]
    f = _flags([{"year": 2023, "uscc": "A", "town_code": T}], tax)
    rows = f.filter(pl.col("rule") == "total_tax_mismatch").to_dicts()
    assert [(r["source"], r["key"]) for r in rows] == [("tax", "2023-02|A")]


def test_shape_and_uniqueness_on_synthetic():
    facts = random_facts(seed=3)
    f = cross_source_flags(facts["enterprise"], facts["tax"], facts["employment"])
    assert f.columns == FLAG_COLUMNS
    assert f.height > 0 and not f.select("source", "key", "rule").is_duplicated().any()
