"""The county demo data, refreshed end to end through Dagster, against the generator's truth.

The generator computes its truth from its own records before writing any file; here the
pipeline reads those files back and must arrive at the same numbers, on SQLite and on a
real PostgreSQL server.
"""

import json
import os
import uuid
from pathlib import Path

import polars as pl
import pytest

from pipelines.demo import write_demo_raw_area
from pipelines.refresh import run_refresh
from pipelines.warehouse.read import read_table

README = Path(__file__).parents[1] / "README.md"


@pytest.fixture(scope="session")
def county_demo(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("county")
    summary = write_demo_raw_area(root / "raw", scale="county", seed=7)
    return summary.out, summary.truth_dir


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def published(request, county_demo, tmp_path_factory) -> tuple[str, Path]:
    raw, truth = county_demo
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('wh') / 'warehouse.sqlite'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"e2e_{uuid.uuid4().hex[:12]}")
    # the whole pipeline, the GX suite and the reports included
    reports = tmp_path_factory.mktemp("reports")
    os.environ["TOWNSTAT_GX"] = "on"
    try:
        outcome = run_refresh(raw, url, cache_dir=str(tmp_path_factory.mktemp("cache")),
                              reports_dir=str(reports))
    finally:
        os.environ["TOWNSTAT_GX"] = "off"
    assert outcome.published and not outcome.failed_steps, outcome.summary_text()
    assert not outcome.failed_checks, outcome.failed_checks
    for name in ("quality.html", "dashboard.html", "evaluation_2024.xlsx", "data_docs/index.html"):
        assert (reports / name).exists(), name
    return url, truth


def test_row_counts_equal_the_truth(published):
    url, truth = published
    summary = json.loads((truth / "summary.json").read_text())
    for source, table in [("enterprise", "fact_enterprise_year"), ("tax", "fact_tax_month"),
                          ("employment", "fact_employment_month"), ("registry", "fact_market_entity")]:
        assert read_table(url, table).height == summary["sources"][source]["current_rows"], table
    assert read_table(url, "dim_specialty_town").height == len(summary["specialty_town_ids"])
    # every rejected row the generator planted, by rule
    by_rule = dict(read_table(url, "dq_rejected_row").group_by("rule").len().iter_rows())
    assert by_rule == summary["bad_rows_by_rule"]


def test_town_indicators_equal_the_truth(published):
    url, truth = published
    expected = pl.read_csv(truth / "town_year.csv", schema_overrides={"town_code": pl.String})
    got = read_table(url, "ind_town_year")
    joined = expected.join(got, on=["town_code", "year"], how="left", suffix="_got")
    assert joined.height == expected.height
    for col in ["enterprises", "output_value", "revenue", "employees", "tax_total", "insured_persons",
                "market_entities"]:
        diff = joined.filter((pl.col(col) - pl.col(f"{col}_got")).abs().fill_null(1.0) > 0.005)
        assert diff.height == 0, (col, diff.select("town_code", "year", col, f"{col}_got").head())
    # one town spelled out: 桐城镇 (140823100) in 2024
    row = joined.filter((pl.col("town_code") == "140823100") & (pl.col("year") == 2024)).row(0, named=True)
    assert row["output_value_got"] == pytest.approx(row["output_value"], abs=0.005)
    assert row["tax_total_got"] == pytest.approx(row["tax_total"], abs=0.005)


def test_specialty_town_indicators_equal_the_truth(published):
    url, truth = published
    expected = pl.read_csv(truth / "specialty_town_year.csv")
    got = read_table(url, "ind_specialty_town_year")
    joined = expected.join(got, on=["specialty_town_id", "year"], how="left", suffix="_got")
    for col in ["member_enterprises", "leading_enterprises", "supporting_enterprises", "output_value",
                "core_output_value", "employees", "market_share"]:
        diff = joined.filter((pl.col(col) - pl.col(f"{col}_got")).abs().fill_null(1.0) > 1e-6 * (
            pl.col(col).abs() + 1))
        assert diff.height == 0, (col, diff.head())


def test_every_planted_bad_row_is_rejected_at_its_row(published):
    url, truth = published
    expected = pl.read_csv(truth / "bad_rows.csv")
    got = read_table(url, "dq_rejected_row").select("path", "source_row", "column", "rule")
    assert expected.join(got, on=expected.columns, how="anti").height == 0
    assert got.join(expected, on=expected.columns, how="anti").height == 0
    messages = read_table(url, "dq_rejected_row")["message"]
    assert messages.str.contains("第").all() and messages.str.contains("row").all()


def test_every_file_has_its_expected_status_and_counts(published):
    url, truth = published
    expected = pl.read_csv(truth / "files.csv").select("path", "status", "rows_read", "rows_loaded",
                                                        "rows_rejected")
    got = read_table(url, "dq_file").select(expected.columns)
    assert got.sort("path").equals(expected.sort("path"))


def _readme_queries() -> list[str]:
    text = README.read_text()
    block = text.split("```sql", 1)[1].split("```", 1)[0]
    return [q.strip() for q in block.split(";") if "SELECT" in q]


def test_readme_queries_run_and_answer(published):
    from sqlalchemy import text

    from pipelines.warehouse.engine import make_engine

    url, truth = published
    queries = _readme_queries()
    assert len(queries) == 3
    engine = make_engine(url)
    with engine.connect() as conn:
        results = [conn.execute(text(q)).fetchall() for q in queries]
    engine.dispose()
    # 1: two criteria sets' municipal rows: 3 specialty towns x 3 years
    assert len(results[0]) == 9 and all(r[0] == "municipal_yuncheng" for r in results[0])
    # 2: 13 Wenxi towns x 3 years
    assert len(results[1]) == 39
    # 3: the rejected rows, by file and rule, add up to the planted ones
    assert sum(r[2] for r in results[2]) == pl.read_csv(truth / "bad_rows.csv").height
