"""Builders of fact frames for tests: hand-made rows with defaults, and a seeded random
generator of valid fact frames (several towns, counties and years, nulls included)."""

from __future__ import annotations

import random
from datetime import date

import polars as pl

ENTERPRISE_SCHEMA = {
    "year": pl.Int32, "uscc": pl.String, "name": pl.String, "town_code": pl.String,
    "industry_code": pl.String, "output_value": pl.Float64, "revenue": pl.Float64,
    "employees": pl.Int64, "rd_expenditure": pl.Float64, "export_value": pl.Float64,
    "ecommerce_sales": pl.Float64, "patents_granted": pl.Int64, "high_tech": pl.Boolean,
    "specialized_sme": pl.Boolean, "little_giant": pl.Boolean, "tech_center_level": pl.String,
    "above_scale": pl.Boolean, "source_file_id": pl.String, "source_row": pl.Int64,
}
TAX_SCHEMA = {
    "period": pl.String, "year": pl.Int32, "uscc": pl.String, "vat": pl.Float64,
    "corporate_income_tax": pl.Float64, "other_tax": pl.Float64, "total_tax": pl.Float64,
    "total_tax_reported": pl.Float64, "invoice_sales": pl.Float64,
    "source_file_id": pl.String, "source_row": pl.Int64,
}
EMPLOYMENT_SCHEMA = {
    "period": pl.String, "year": pl.Int32, "person_key": pl.String, "employer_uscc": pl.String,
    "hukou_code": pl.String, "hukou_county_code": pl.String, "contribution_base": pl.Float64,
    "source_file_id": pl.String, "source_row": pl.Int64,
}
REGISTRY_SCHEMA = {
    "uscc": pl.String, "name": pl.String, "entity_type": pl.String, "town_code": pl.String,
    "industry_code": pl.String, "established": pl.Date, "deregistered": pl.Date,
    "source_file_id": pl.String, "source_row": pl.Int64,
}
TOWN_SCHEMA = {c: pl.String for c in (
    "town_code", "town_name", "county_code", "county_name", "city_code", "city_name",
    "province_code", "province_name")}
SPECIALTY_SCHEMA = {
    "id": pl.String, "name": pl.String, "county_code": pl.String, "host_town_codes": pl.String,
    "category": pl.String, "heritage": pl.Boolean, "national_market": pl.Boolean,
    "core_industry_codes": pl.String, "supporting_industry_codes": pl.String,
}
LEADING_SCHEMA = {"specialty_town_id": pl.String, "uscc": pl.String, "from_year": pl.Int32, "to_year": pl.Int32}
MARKET_SCHEMA = {"specialty_town_id": pl.String, "year": pl.Int32, "provincial_output": pl.Float64}

ENTERPRISE_DEFAULTS = {
    "name": "企业", "industry_code": "3311", "output_value": 0.0, "revenue": 0.0, "employees": 0,
    "rd_expenditure": None, "export_value": None, "ecommerce_sales": None, "patents_granted": None,
    "high_tech": False, "specialized_sme": False, "little_giant": False,
    "tech_center_level": "none", "above_scale": False, "source_file_id": "f", "source_row": 2,
}


def _frame(rows: list[dict], schema: dict, defaults: dict | None = None) -> pl.DataFrame:
    full = [{**(defaults or {}), **r} for r in rows]
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in full], schema=schema)


def enterprise_frame(rows: list[dict]) -> pl.DataFrame:
    return _frame(rows, ENTERPRISE_SCHEMA, ENTERPRISE_DEFAULTS)


def tax_frame(rows: list[dict]) -> pl.DataFrame:
    out = []
    for r in rows:
        r = dict(r)
        r.setdefault("year", int(r["period"][:4]))
        if "total_tax" not in r:
            parts = [r.get(k) for k in ("vat", "corporate_income_tax", "other_tax")]
            present = [p for p in parts if p is not None]
            r["total_tax"] = round(sum(present), 2) if present else None
        out.append(r)
    return _frame(out, TAX_SCHEMA, {"source_file_id": "t", "source_row": 2})


def employment_frame(rows: list[dict]) -> pl.DataFrame:
    out = []
    for r in rows:
        r = dict(r)
        r.setdefault("year", int(r["period"][:4]))
        r.setdefault("hukou_code", r["hukou_county_code"])
        out.append(r)
    return _frame(out, EMPLOYMENT_SCHEMA, {"source_file_id": "m", "source_row": 2})


def registry_frame(rows: list[dict]) -> pl.DataFrame:
    return _frame(rows, REGISTRY_SCHEMA, {"name": "主体", "entity_type": "enterprise",
                                          "industry_code": "3311", "source_file_id": "r", "source_row": 2})


def towns_frame(town_codes: list[str]) -> pl.DataFrame:
    rows = [{"town_code": t, "town_name": t, "county_code": t[:6], "county_name": t[:6],
             "city_code": t[:4] + "00", "city_name": "市", "province_code": "140000",
             "province_name": "山西省"} for t in town_codes]
    return _frame(rows, TOWN_SCHEMA)


def specialty_frame(rows: list[dict]) -> pl.DataFrame:
    return _frame(rows, SPECIALTY_SCHEMA, {"name": "专业镇", "host_town_codes": "", "category": "manufacturing",
                                           "heritage": False, "national_market": False,
                                           "core_industry_codes": "3311", "supporting_industry_codes": ""})


def leading_frame(rows: list[dict]) -> pl.DataFrame:
    return _frame(rows, LEADING_SCHEMA)


def market_frame(rows: list[dict]) -> pl.DataFrame:
    return _frame(rows, MARKET_SCHEMA)


# ---------------------------------------------------------------------------------------
COUNTY_A, COUNTY_B, COUNTY_X = "140823", "140824", "140825"
TOWNS_A = [f"{COUNTY_A}{i:03d}" for i in (100, 101, 102, 103, 200)]
TOWNS_B = [f"{COUNTY_B}{i:03d}" for i in (100, 101, 102, 200)]
INDUSTRIES = ["3311", "3312", "3399", "1311", "1331", "0171", "5211", "5261", "1751", "7020", "6110"]
REPORT_YEARS = [2019, 2020, 2022, 2023]  # 2021 missing on purpose
ALL_YEARS = list(range(2017, 2025))


def _money(rng: random.Random, high: float, null_rate: float = 0.0, zero_rate: float = 0.05):
    u = rng.random()
    if u < null_rate:
        return None
    if u < null_rate + zero_rate:
        return 0.0
    return round(rng.uniform(0, high), 2)


def _date(rng: random.Random, start: int, end: int) -> date:
    y = rng.randint(start, end)
    if rng.random() < 0.15:
        return date(y, 12, 31)
    if rng.random() < 0.05:
        return date(y, 1, 1)
    return date(y, rng.randint(1, 12), rng.randint(1, 28))


def random_facts(seed: int = 7, firms: int = 260) -> dict[str, pl.DataFrame]:
    """A consistent set of valid fact and reference frames, a few thousand rows."""
    rng = random.Random(seed)
    towns = TOWNS_A + TOWNS_B
    usccs = [f"91140{i:013d}" for i in range(firms + 150)]
    reported, registered_only, nowhere = usccs[:firms], usccs[firms:firms + 100], usccs[firms + 100:]

    ent_rows = []
    for u in reported:
        town = rng.choice(towns)
        ind = rng.choice(INDUSTRIES)
        for y in REPORT_YEARS:
            if rng.random() < 0.25:
                continue
            if rng.random() < 0.1:
                town = rng.choice(towns)
            if rng.random() < 0.05:
                ind = rng.choice(INDUSTRIES)
            revenue = _money(rng, 6e7)
            ent_rows.append({
                "year": y, "uscc": u, "town_code": town, "industry_code": ind,
                "output_value": _money(rng, 8e7), "revenue": revenue,
                "employees": rng.choice([0, rng.randint(1, 500)]),
                "rd_expenditure": _money(rng, 3e6, 0.3), "export_value": _money(rng, 1e7, 0.3, 0.3),
                "ecommerce_sales": _money(rng, 1e6, 0.3, 0.3),
                "patents_granted": None if rng.random() < 0.3 else rng.randint(0, 9),
                "high_tech": rng.random() < 0.2, "specialized_sme": rng.random() < 0.2,
                "little_giant": rng.random() < 0.05,
                "tech_center_level": rng.choice(["none", "none", "municipal", "provincial", "national"]),
                "above_scale": revenue >= 2e7,
            })
    enterprise = enterprise_frame(ent_rows)

    reg_rows = []
    for u in reported[: int(firms * 0.7)] + registered_only:
        est = _date(rng, 2012, 2023)
        dereg = None
        if rng.random() < 0.3:
            d = _date(rng, est.year, 2024)
            dereg = max(d, est)
        reg_rows.append({
            "uscc": u, "entity_type": rng.choice(["enterprise", "individual", "cooperative"]),
            "town_code": rng.choice(towns), "industry_code": rng.choice(INDUSTRIES),
            "established": est, "deregistered": dereg,
        })
    registry = registry_frame(reg_rows)

    tax_rows = []
    for u in reported + registered_only + nowhere:
        for y in ALL_YEARS[1:]:
            if rng.random() < 0.3:
                continue
            for m in rng.sample(range(1, 13), rng.randint(1, 5)):
                parts = [None if rng.random() < 0.2 else round(rng.uniform(-2e4, 2e5), 2) for _ in range(3)]
                present = [p for p in parts if p is not None]
                total = round(sum(present), 2) if present else None
                reported_total = total if rng.random() < 0.8 else (None if rng.random() < 0.5 else _money(rng, 2e5))
                tax_rows.append({
                    "period": f"{y}-{m:02d}", "uscc": u, "vat": parts[0], "corporate_income_tax": parts[1],
                    "other_tax": parts[2], "total_tax": reported_total if reported_total is not None else total,
                    "total_tax_reported": reported_total, "invoice_sales": _money(rng, 5e6, 0.2),
                })
    tax = tax_frame(tax_rows)

    persons = [f"{i:064x}" for i in range(900)]
    emp_rows = []
    seen = set()
    employers = rng.sample(reported, firms // 2) + registered_only[:40] + nowhere[:20]
    for e in employers:
        staff = rng.sample(persons, rng.randint(1, 12))
        for y in ALL_YEARS[2:]:
            if rng.random() < 0.3:
                continue
            months = {12} if rng.random() < 0.6 else set()
            months |= set(rng.sample(range(1, 12), 2))
            for m in months:
                for p in staff:
                    if rng.random() < 0.2 or (f"{y}-{m:02d}", p, e) in seen:
                        continue
                    seen.add((f"{y}-{m:02d}", p, e))
                    county = rng.choice([COUNTY_A, COUNTY_B, COUNTY_X])
                    emp_rows.append({
                        "period": f"{y}-{m:02d}", "person_key": p, "employer_uscc": e,
                        "hukou_code": county + "100", "hukou_county_code": county,
                        "contribution_base": _money(rng, 9000, 0.2),
                    })
    employment = employment_frame(emp_rows)

    specialty = specialty_frame([
        {"id": "S1", "county_code": COUNTY_A, "host_town_codes": ";".join(TOWNS_A[:2]),
         "core_industry_codes": "3311;3312", "supporting_industry_codes": "3399;5261"},
        {"id": "S2", "county_code": COUNTY_B, "host_town_codes": "", "category": "agriculture",
         "core_industry_codes": "0171", "supporting_industry_codes": "1311;1331;0171"},
        {"id": "S3", "county_code": COUNTY_A, "host_town_codes": TOWNS_A[4], "category": "light_industry",
         "core_industry_codes": "1751", "supporting_industry_codes": "6110"},
        {"id": "S4", "county_code": COUNTY_X, "host_town_codes": "", "core_industry_codes": "3311"},
    ])
    leading = leading_frame(
        [{"specialty_town_id": "S1", "uscc": u, "from_year": rng.choice([2018, 2020, 2022]),
          "to_year": rng.choice([None, 2020, 2023])} for u in rng.sample(reported, 40)]
        + [{"specialty_town_id": "S2", "uscc": u, "from_year": 2019, "to_year": None}
           for u in rng.sample(reported, 30)]
    )
    market = market_frame(
        [{"specialty_town_id": s, "year": y, "provincial_output": round(rng.uniform(1e8, 1e9), 2)}
         for s in ("S1", "S2", "S3") for y in REPORT_YEARS if (s, y) != ("S2", 2022)]
        + [{"specialty_town_id": "S3", "year": 2018, "provincial_output": 0.0}]
    ).filter(~((pl.col("specialty_town_id") == "S3") & (pl.col("year") == 2020))).vstack(
        market_frame([{"specialty_town_id": "S3", "year": 2020, "provincial_output": 0.0}]))
    return {
        "enterprise": enterprise, "tax": tax, "employment": employment, "registry": registry,
        "towns": towns_frame(towns), "specialty_towns": specialty, "leading": leading,
        "market_totals": market,
    }
