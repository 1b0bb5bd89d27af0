"""ind_town_year and ind_specialty_town_year: Polars vs independent DuckDB SQL, and
hand-worked cases."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from cell_compare import assert_same_cells
from reference_sql import reference_specialty_town_year, reference_town_year
from synthetic_facts import (
    employment_frame,
    enterprise_frame,
    leading_frame,
    market_frame,
    random_facts,
    registry_frame,
    specialty_frame,
    tax_frame,
    towns_frame,
)

from pipelines.indicators import SPECIALTY_TOWN_YEAR, TOWN_YEAR, specialty_town_year, town_year
from pipelines.indicators.catalogue import data_dictionary, money_columns, report_headers


@pytest.fixture(scope="module", params=[7, 11, 2024])
def facts(request):
    return random_facts(seed=request.param)


def test_town_year_matches_sql(facts):
    got = town_year(facts["enterprise"], facts["tax"], facts["employment"], facts["registry"], facts["towns"])
    want = reference_town_year(facts["enterprise"], facts["tax"], facts["employment"], facts["registry"])
    assert got.columns == ["town_code", "year", "county_code", *[i.name for i in TOWN_YEAR]]
    assert got.height > 20
    assert_same_cells(got, want, ["town_code", "year"])


def test_specialty_town_year_matches_sql(facts):
    got = specialty_town_year(**facts)
    want = reference_specialty_town_year(**facts)
    assert got.columns == ["specialty_town_id", "year", *[i.name for i in SPECIALTY_TOWN_YEAR], "provincial_output"]
    assert got.height == 4 * 4
    assert_same_cells(got, want, ["specialty_town_id", "year"])


def test_generator_exercises_edge_cases(facts):
    reg = facts["registry"]
    assert reg.filter((pl.col("deregistered").dt.month() == 12) & (pl.col("deregistered").dt.day() == 31)).height > 0
    assert facts["enterprise"]["rd_expenditure"].null_count() > 0
    assert facts["tax"]["total_tax"].null_count() > 0


def test_catalogue_drives_everything():
    assert money_columns() == ["output_value", "revenue", "rd_expenditure", "export_value", "ecommerce_sales", "tax_total"]
    d = data_dictionary()
    assert set(d["unit"]) <= {"元", "家", "人", "件", "ratio"}
    assert set(d["kind"]) == {"count", "money", "ratio", "yoy"}
    assert report_headers("ind_town_year")["output_value"] == "工业总产值(元)"


# --------------------------------------------------------------------------- hand-made
A1, A2, A3 = "140823100", "140823101", "140823102"
B1 = "140824100"


def _run(enterprise, tax=None, employment=None, registry=None):
    return town_year(
        enterprise,
        tax if tax is not None else tax_frame([]),
        employment if employment is not None else employment_frame([]),
        registry if registry is not None else registry_frame([]),
        towns_frame([A1, A2, A3, B1]),
    )


def _row(frame: pl.DataFrame, town: str, year: int) -> dict:
    rows = frame.filter((pl.col("town_code") == town) & (pl.col("year") == year)).to_dicts()
    assert len(rows) == 1, f"{town} {year}: {len(rows)} rows"
    return rows[0]


def test_newly_above_scale_and_retail_counting():
    ent = enterprise_frame([
        # crosses the industrial line (20 million) from 2022 to 2023
        {"year": 2022, "uscc": "X1", "town_code": A1, "revenue": 15_000_000.0, "above_scale": False},
        {"year": 2023, "uscc": "X1", "town_code": A1, "revenue": 25_000_000.0, "above_scale": True},
        # above both years: not new
        {"year": 2022, "uscc": "X2", "town_code": A1, "revenue": 30_000_000.0, "above_scale": True},
        {"year": 2023, "uscc": "X2", "town_code": A1, "revenue": 30_000_000.0, "above_scale": True},
        # retail (F52) with 12 million: above its 5 million line, decided at ingest
        {"year": 2023, "uscc": "X3", "town_code": A1, "industry_code": "5261", "revenue": 12_000_000.0,
         "above_scale": True},
        # dropped below: not counted
        {"year": 2022, "uscc": "X4", "town_code": A1, "revenue": 30_000_000.0, "above_scale": True},
        {"year": 2023, "uscc": "X4", "town_code": A1, "revenue": 1_000_000.0, "above_scale": False},
    ])
    out = _run(ent)
    r = _row(out, A1, 2023)
    assert r["enterprises"] == 4
    assert r["above_scale_enterprises"] == 3  # X1, X2, X3
    assert r["newly_above_scale"] == 2  # X1 crossed; X3 absent in 2022 counts as not above
    assert _row(out, A1, 2022)["newly_above_scale"] == 2  # 2021 absent: X2, X4


def test_yoy_earlier_not_positive():
    ent = enterprise_frame([
        {"year": 2022, "uscc": "X1", "town_code": A1, "output_value": 0.0, "revenue": 100.0},
        {"year": 2023, "uscc": "X1", "town_code": A1, "output_value": 50.0, "revenue": 150.0,
         "rd_expenditure": 30.0},
    ])
    tax = tax_frame([
        {"period": "2022-05", "uscc": "X1", "vat": -10.0},
        {"period": "2023-05", "uscc": "X1", "vat": 40.0},
    ])
    r = _row(_run(ent, tax), A1, 2023)
    assert r["output_value_yoy"] is None  # earlier 0
    assert r["tax_total_yoy"] is None  # earlier -10
    assert r["revenue_yoy"] == pytest.approx(0.5)
    assert r["rd_intensity"] == pytest.approx(0.2)
    assert _row(_run(ent, tax), A1, 2022)["rd_intensity"] == 0.0  # rd all null: sum 0, revenue 100


def test_tax_and_enrolment_attribution():
    ent = enterprise_frame([
        {"year": 2023, "uscc": "R1", "town_code": A1},  # reported in A1, registered in A2
    ])
    reg = registry_frame([
        {"uscc": "R1", "town_code": A2, "established": date(2010, 1, 1)},
        {"uscc": "R2", "town_code": A3, "established": date(2010, 1, 1), "entity_type": "individual"},
    ])
    tax = tax_frame([
        {"period": "2023-01", "uscc": "R1", "vat": 100.0},
        {"period": "2023-02", "uscc": "R2", "vat": 7.0, "other_tax": 3.0},  # register town A3
        {"period": "2023-03", "uscc": "NOWHERE", "vat": 999.0},  # in no report, not registered
    ])
    emp = employment_frame([
        {"period": "2023-12", "person_key": "p1", "employer_uscc": "R2", "hukou_county_code": "140823"},
        {"period": "2023-12", "person_key": "p2", "employer_uscc": "R2", "hukou_county_code": "140824"},
        {"period": "2023-11", "person_key": "p3", "employer_uscc": "R2", "hukou_county_code": "140823"},
        {"period": "2023-12", "person_key": "p4", "employer_uscc": "NOWHERE", "hukou_county_code": "140823"},
    ])
    out = _run(ent, tax, emp, reg)
    assert _row(out, A1, 2023)["tax_total"] == 100.0
    a3 = _row(out, A3, 2023)
    assert a3["tax_total"] == 10.0
    assert (a3["insured_persons"], a3["local_insured_persons"]) == (2, 1)  # November p3 not counted
    assert _row(out, A2, 2023)["tax_total"] == 0.0  # R1's register town: row exists (alive entity)
    assert out["tax_total"].sum() == 110.0  # the 999 counts nowhere
    assert set(out["town_code"]) == {A1, A2, A3}


def test_alive_at_year_end():
    ent = enterprise_frame([{"year": 2022, "uscc": "E", "town_code": B1},
                            {"year": 2023, "uscc": "E", "town_code": B1}])
    reg = registry_frame([
        {"uscc": "D1", "town_code": A1, "established": date(2020, 5, 1), "deregistered": date(2023, 12, 31)},
        {"uscc": "D2", "town_code": A1, "established": date(2023, 12, 31)},
        {"uscc": "D3", "town_code": A1, "established": date(2021, 1, 1), "deregistered": date(2024, 1, 1)},
        {"uscc": "D4", "town_code": A2, "established": date(2023, 3, 1), "deregistered": date(2023, 6, 1)},
    ])
    out = _run(ent, registry=reg)
    y22, y23 = _row(out, A1, 2022), _row(out, A1, 2023)
    assert y22["market_entities"] == 2  # D1, D3
    assert y23["market_entities"] == 2  # D2, D3 (D1 deregistered on 2023-12-31 is not alive)
    assert y23["new_market_entities"] == 1
    assert y23["market_entities_yoy"] == 0.0
    # D4 was born and died in 2023: A2 has no entity alive at year end and no other fact
    assert out.filter(pl.col("town_code") == A2).height == 0


def test_specialty_hand_case():
    ent = enterprise_frame([
        {"year": 2023, "uscc": "L1", "town_code": A1, "industry_code": "3311", "output_value": 300.0, "employees": 10},
        {"year": 2023, "uscc": "M2", "town_code": A2, "industry_code": "3399", "output_value": 100.0, "employees": 5},
        {"year": 2023, "uscc": "M3", "town_code": A3, "industry_code": "3311", "output_value": 100.0},  # not host
        {"year": 2023, "uscc": "M4", "town_code": A1, "industry_code": "1311", "output_value": 100.0},  # not a code
        {"year": 2023, "uscc": "W1", "town_code": B1, "industry_code": "0171", "output_value": 80.0},
    ])
    st = specialty_frame([
        {"id": "S1", "county_code": "140823", "host_town_codes": f"{A1};{A2}",
         "core_industry_codes": "3311", "supporting_industry_codes": "3399"},
        {"id": "S2", "county_code": "140824", "host_town_codes": "", "category": "agriculture",
         "core_industry_codes": "0171", "supporting_industry_codes": ""},
    ])
    leading = leading_frame([
        {"specialty_town_id": "S1", "uscc": "L1", "from_year": 2020, "to_year": None},
        {"specialty_town_id": "S1", "uscc": "M2", "from_year": 2020, "to_year": 2022},  # expired
        {"specialty_town_id": "S2", "uscc": "L1", "from_year": 2020, "to_year": None},  # not a member of S2
    ])
    emp = employment_frame([
        {"period": "2023-12", "person_key": "p1", "employer_uscc": "L1", "hukou_county_code": "140823"},
        {"period": "2023-12", "person_key": "p1", "employer_uscc": "M2", "hukou_county_code": "140823"},
        {"period": "2023-12", "person_key": "p2", "employer_uscc": "M2", "hukou_county_code": "140824"},
    ])
    tax = tax_frame([{"period": "2023-04", "uscc": "M2", "vat": 5.0}, {"period": "2022-04", "uscc": "M2", "vat": 9.0}])
    market = market_frame([{"specialty_town_id": "S1", "year": 2023, "provincial_output": 600.0}])
    out = specialty_town_year(ent, tax, emp, registry_frame([]), towns_frame([A1, A2, A3, B1]), st, leading, market)
    s1 = out.filter(pl.col("specialty_town_id") == "S1").to_dicts()[0]
    assert (s1["member_enterprises"], s1["leading_enterprises"], s1["supporting_enterprises"]) == (2, 1, 1)
    assert (s1["output_value"], s1["core_output_value"]) == (400.0, 300.0)
    assert s1["market_share"] == pytest.approx(0.5)
    assert (s1["insured_persons"], s1["local_insured_persons"], s1["employees"]) == (2, 1, 15)
    assert s1["tax_total"] == 5.0
    s2 = out.filter(pl.col("specialty_town_id") == "S2").to_dicts()[0]
    assert (s2["member_enterprises"], s2["leading_enterprises"], s2["output_value"]) == (1, 0, 80.0)
    assert s2["market_share"] is None  # no provincial total
