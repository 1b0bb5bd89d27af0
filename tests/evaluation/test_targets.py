"""eval_target (contract v4 section 6.2), values worked out by hand.

Two towns of Wenxi county: A (桐城镇) and B (郭家庄镇); one specialty town, glass, hosted by A
(core industry 3054). Enterprise reports for 2023 and 2024, none for 2025 (January to March
tax files only, enrolment files up to February).

    enterprise reports        2023          2024          register town
    u1  3054                  A             A             B
    u2  3054                  A             B             B
    u3  1234 (not glass)      -             A             A
    u4  individual business   -             -             A
    u5                        -             -             B

Town of a taxpayer/employer: 2023 u1 A, u2 A, u3 A (register), u4 A, u5 B;
2024 u1 A, u2 B, u3 A, u4 A, u5 B; 2025 (no reports: the register) u1 B, u2 B, u3 A, u4 A, u5 B.
glass members: 2023 u1, u2; 2024 u1 (u2 moved to B); 2025 none reported: those of 2024, u1.
"""

from __future__ import annotations

import uuid

import polars as pl
import psycopg
import pytest
from sqlalchemy.engine import make_url

from pipelines.evaluation.targets import SCHEMA, target_table
from pipelines.indicators.memo import Memo
from pipelines.warehouse import READER_ROLE, grant_reader, publish, read_table
from pipelines.warehouse.tables import polars_schema, reader_can_read

A, B = "140823100", "140823101"
U1, U2, U3, U4, U5 = "U1", "U2", "U3", "U4", "U5"

ENTERPRISE = pl.DataFrame(
    [(2023, U1, A, "3054"), (2023, U2, A, "3054"), (2024, U1, A, "3054"), (2024, U2, B, "3054"),
     (2024, U3, A, "1234")],
    schema={"year": pl.Int32, "uscc": pl.String, "town_code": pl.String, "industry_code": pl.String},
    orient="row",
)
REGISTRY = pl.DataFrame(
    [(U1, B, "3054"), (U2, B, "3054"), (U3, A, "1234"), (U4, A, "5111"), (U5, B, "5111")],
    schema={"uscc": pl.String, "town_code": pl.String, "industry_code": pl.String}, orient="row",
)
SPECIALTY = pl.DataFrame([{
    "id": "glass", "name": "玻璃器皿专业镇", "county_code": "140823", "host_town_codes": A,
    "category": "manufacturing", "heritage": False, "national_market": False,
    "core_industry_codes": "3054", "supporting_industry_codes": "",
}])
TAX = pl.DataFrame(
    [("2023-01", U1, 100.0), ("2023-02", U1, 50.0), ("2023-03", U2, 30.0), ("2023-04", U1, 1000.0),
     ("2023-12", U4, 7.0),
     ("2024-01", U1, 200.0), ("2024-02", U2, 40.0), ("2024-03", U3, 10.0), ("2024-03", U4, 5.0),
     ("2024-06", U1, 300.0), ("2024-12", U5, 9.0),
     ("2025-01", U1, 400.0), ("2025-02", U2, 60.0), ("2025-02", U4, None), ("2025-03", U3, 20.0)],
    schema={"period": pl.String, "uscc": pl.String, "total_tax": pl.Float64}, orient="row",
).with_columns(pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"))
EMPLOYMENT = pl.DataFrame(
    [("2023-12", U1, "p1"), ("2023-12", U2, "p2"),
     ("2024-02", U1, "p8"),
     ("2024-03", U1, "p1"), ("2024-03", U1, "p2"), ("2024-03", U2, "p3"), ("2024-03", U4, "p4"),
     ("2024-12", U1, "p1"), ("2024-12", U2, "p3"), ("2024-12", U1, "p3"), ("2024-12", U3, "p5"),
     ("2025-01", U1, "p1"),
     ("2025-02", U1, "p1"), ("2025-02", U1, "p2"), ("2025-02", U2, "p6"), ("2025-02", U4, "p4"),
     ("2025-02", U3, "p7")],
    schema={"period": pl.String, "employer_uscc": pl.String, "person_key": pl.String}, orient="row",
).with_columns(pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"),
               pl.lit("140823").alias("hukou_county_code"))


def _ind(table: str, rows: list[dict]) -> pl.DataFrame:
    """An ind_* table with every column, null unless given."""
    schema = polars_schema(table)
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


# the ind_* values of the cells targeted (worked out from the facts above, contract section 5)
IND_TOWN = _ind("ind_town_year", [
    {"town_code": A, "year": 2024, "tax_total": 515.0, "insured_persons": 3, "enterprises": 2,
     "output_value": 2e6},
    {"town_code": B, "year": 2024, "tax_total": 49.0, "insured_persons": 1, "enterprises": 1},
])
IND_SPECIALTY = _ind("ind_specialty_town_year", [
    {"specialty_town_id": "glass", "year": 2024, "tax_total": 500.0, "insured_persons": 2,
     "member_enterprises": 1, "market_share": None},
])

TARGETS = pl.DataFrame(
    [("town", A, 2024, "tax_total", 600.0),
     ("town", A, 2025, "tax_total", 100.0),
     ("town", B, 2025, "tax_total", 0.0),
     ("town", B, 2024, "enterprises", 0.0),
     ("town", A, 2024, "output_value", 1e6),
     ("town", A, 2026, "tax_total", 5.0),
     ("town", A, 2024, "insured_persons", 1.0),
     ("town", A, 2025, "insured_persons", 3.0),
     ("town", B, 2024, "insured_persons", 2.0),
     ("specialty_town", "glass", 2024, "tax_total", 1000.0),
     ("specialty_town", "glass", 2025, "tax_total", 200.0),
     ("specialty_town", "glass", 2024, "insured_persons", 2.0),
     ("specialty_town", "glass", 2025, "insured_persons", 10.0),
     ("specialty_town", "glass", 2024, "market_share", 0.5)],
    schema={"level": pl.String, "id": pl.String, "year": pl.Int32, "indicator": pl.String,
            "target": pl.Float64}, orient="row",
)

# (level, id, year, indicator): (actual, attainment, met, latest_period, to_date, to_date_prev)
EXPECTED = {
    # 515 of 600; Jan-Dec 2024 at A's 2024 taxpayers u1 200+300, u3 10, u4 5 = 515; 2023 at A's
    # 2023 taxpayers u1 100+50+1000, u2 30, u4 7 = 1187
    ("town", A, 2024, "tax_total"): (515.0, 515 / 600, False, "2024-12", 515.0, 1187.0),
    # no 2025 row; Jan-Mar 2025 at A (u1 now counts in B by its register town): u3 20, u4 null = 20;
    # Jan-Mar 2024 at A's 2024 taxpayers: u1 200, u3 10, u4 5 = 215
    ("town", A, 2025, "tax_total"): (None, None, False, "2025-03", 20.0, 215.0),
    # target 0: no attainment; Jan-Mar 2025 at B: u1 400 + u2 60; Jan-Mar 2024 at B: u2 40
    ("town", B, 2025, "tax_total"): (None, None, False, "2025-03", 460.0, 40.0),
    # target 0 with an actual: met, attainment null
    ("town", B, 2024, "enterprises"): (1.0, None, True, None, None, None),
    ("town", A, 2024, "output_value"): (2e6, 2.0, True, None, None, None),
    # a year without any tax row: no progress
    ("town", A, 2026, "tax_total"): (None, None, False, None, None, None),
    # 2024-12 at A's employers u1, u3, u4: p1, p3, p5; 2023-12 at u1, u2 (both A in 2023): p1, p2
    ("town", A, 2024, "insured_persons"): (3.0, 3.0, True, "2024-12", 3.0, 2.0),
    # enrolment runs to 2025-02 only; at A's 2025 employers u3, u4: p7, p4; 2024-02 at u1: p8
    ("town", A, 2025, "insured_persons"): (None, None, False, "2025-02", 2.0, 1.0),
    # 2024-12 at B's u2, u5: p3; 2023-12 at B's u5: nobody (0, not null)
    ("town", B, 2024, "insured_persons"): (1.0, 0.5, False, "2024-12", 1.0, 0.0),
    # members 2024: u1 (200+300); members 2023: u1 (100+50+1000), u2 (30)
    ("specialty_town", "glass", 2024, "tax_total"): (500.0, 0.5, False, "2024-12", 500.0, 1180.0),
    # 2025 has no reports: the members of 2024, u1: Jan-Mar 2025 400; Jan-Mar 2024 200
    ("specialty_town", "glass", 2025, "tax_total"): (None, None, False, "2025-03", 400.0, 200.0),
    # 2024-12 at u1: p1, p3; 2023-12 at u1, u2: p1, p2
    ("specialty_town", "glass", 2024, "insured_persons"): (2.0, 1.0, True, "2024-12", 2.0, 2.0),
    # 2025-02 at u1: p1, p2; 2024-02 at u1: p8
    ("specialty_town", "glass", 2025, "insured_persons"): (None, None, False, "2025-02", 2.0, 1.0),
    # the indicator's row exists, the value is null
    ("specialty_town", "glass", 2024, "market_share"): (None, None, False, None, None, None),
}


def _table(lazy_facts: bool = True) -> pl.DataFrame:
    tax, emp = (TAX.lazy(), EMPLOYMENT.lazy()) if lazy_facts else (TAX, EMPLOYMENT)
    return target_table(TARGETS, IND_TOWN, IND_SPECIALTY, tax, emp, ENTERPRISE, REGISTRY, SPECIALTY)


@pytest.mark.parametrize(("lazy_facts", "pass_rows"), [(True, None), (False, None), (True, 1), (True, 3)])
def test_hand_worked_values(lazy_facts, pass_rows, monkeypatch):
    if pass_rows is not None:  # the distinct persons counted in several passes (`indicators/passes.py`)
        monkeypatch.setattr("pipelines.indicators.passes.PASS_ROWS", pass_rows)
    out = _table(lazy_facts)
    assert out.schema == pl.Schema(SCHEMA)
    assert out.columns == list(polars_schema("eval_target"))
    assert out.height == TARGETS.height
    got = {tuple(r[:4]): r for r in out.iter_rows()}
    assert set(got) == set(EXPECTED)
    for key, (actual, attainment, met, latest, to_date, prev) in EXPECTED.items():
        row = dict(zip(out.columns, got[key], strict=True))
        assert row["target"] == TARGETS.filter(
            (pl.col("level") == key[0]) & (pl.col("id") == key[1]) & (pl.col("year") == key[2])
            & (pl.col("indicator") == key[3]))["target"][0]
        assert row["actual"] == actual, key
        if attainment is None:
            assert row["attainment"] is None, key
        else:
            assert row["attainment"] == pytest.approx(attainment, rel=1e-12), key
        assert row["met"] is met, key
        assert row["latest_period"] == latest, key
        assert row["to_date"] == to_date, key
        assert row["to_date_prev"] == prev, key


def test_money_to_the_fen():
    tax = pl.DataFrame(
        [("2024-01", U1, 0.1), ("2024-01", U3, 0.004), ("2024-02", U1, 0.2), ("2023-01", U1, 1 / 3)],
        schema={"period": pl.String, "uscc": pl.String, "total_tax": pl.Float64}, orient="row",
    ).with_columns(pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"))
    targets = TARGETS.filter((pl.col("id") == A) & (pl.col("year") == 2024) & (pl.col("indicator") == "tax_total"))
    row = target_table(targets, IND_TOWN, IND_SPECIALTY, tax.lazy(), EMPLOYMENT.lazy(), ENTERPRISE,
                       REGISTRY, SPECIALTY).row(0, named=True)
    # each taxpayer's total to the fen, as in ind_town_year: u1 0.1 + 0.2 = 0.3, u3 0.004 -> 0
    assert row["latest_period"] == "2024-02"
    assert row["to_date"] == 0.3
    assert row["to_date_prev"] == 0.33


def test_memoised_enrolment_progress_is_read_back_without_the_enrolment_fact(tmp_path):
    # the nightly case: the same enrolment, reports, register and references (the memo's inputs)
    first = Memo(tmp_path, "enrolment", "reports")
    computed = target_table(TARGETS, IND_TOWN, IND_SPECIALTY, TAX.lazy(), EMPLOYMENT.lazy(), ENTERPRISE,
                            REGISTRY, SPECIALTY, first)
    assert sorted(first.computed) == ["target_latest_insured_persons", "target_to_date_insured_persons"]
    boom = pl.LazyFrame({"period": ["x"]}).select(pl.col("period").cast(pl.Int32))  # fails if read
    second = Memo(tmp_path, "enrolment", "reports")
    reused = target_table(TARGETS, IND_TOWN, IND_SPECIALTY, TAX.lazy(), boom, ENTERPRISE, REGISTRY,
                          SPECIALTY, second)
    assert sorted(second.reused) == sorted(first.computed) and not second.computed
    assert computed.equals(_table()) and reused.equals(computed)
    # other inputs: computed again (and the enrolment fact read)
    third = Memo(tmp_path, "enrolment v2", "reports")
    with pytest.raises(pl.exceptions.PolarsError):
        target_table(TARGETS, IND_TOWN, IND_SPECIALTY, TAX.lazy(), boom, ENTERPRISE, REGISTRY, SPECIALTY, third)


def test_no_targets_gives_an_empty_table():
    out = target_table(TARGETS.clear(), IND_TOWN, IND_SPECIALTY, TAX.lazy(), EMPLOYMENT.lazy(),
                       ENTERPRISE, REGISTRY, SPECIALTY)
    assert out.height == 0 and out.schema == pl.Schema(SCHEMA)


def test_only_other_indicators_reads_no_fact():
    boom = pl.LazyFrame({"period": ["x"]}).select(pl.col("period").cast(pl.Int32))  # fails if run
    targets = TARGETS.filter(pl.col("indicator").is_in(["enterprises", "output_value"]))
    out = target_table(targets, IND_TOWN, IND_SPECIALTY, boom, boom, ENTERPRISE, REGISTRY, SPECIALTY)
    assert out["latest_period"].null_count() == out.height == 2


def test_reader_may_not_read_eval_target_on_postgresql(postgres_url):
    assert not reader_can_read("eval_target") and reader_can_read("eval_specialty_town")
    out = _table()
    publish(postgres_url, {"eval_target": out, "dim_specialty_town": SPECIALTY})
    back = read_table(postgres_url, "eval_target").sort("level", "id", "year", "indicator")
    assert back.equals(out.sort("level", "id", "year", "indicator"))
    granted = grant_reader(postgres_url, password=uuid.uuid4().hex)
    assert "eval_target" not in granted and "dim_specialty_town" in granted
    u = make_url(postgres_url)

    def check() -> None:
        with psycopg.connect(host=u.host, port=u.port, dbname=u.database, user=READER_ROLE,
                             autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM dim_specialty_town").fetchone()[0] == 1
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT 1 FROM eval_target LIMIT 1")

    check()
    publish(postgres_url, {"eval_target": out.head(3)})  # a new publication grants nothing on it
    check()
