"""Great Expectations suites over the published county warehouse, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
from county_warehouse import county_warehouse  # noqa: E402

from pipelines.quality.expectations import CRITICAL, WARNING, checks, validate_warehouse  # noqa: E402
from pipelines.warehouse import make_engine, publish, read_table  # noqa: E402

SMALL_TABLES = ["dim_town", "dim_specialty_town", "fact_enterprise_year", "ind_town_year",
                "ind_specialty_town_year", "eval_criterion", "eval_specialty_town", "pub_town_year",
                "dq_file", "dq_rejected_row", "dq_flag"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def county_url(request) -> str:
    return county_warehouse(request, request.param)


def test_published_warehouse_passes_and_docs_are_offline(county_url, tmp_path):
    result = validate_warehouse(county_url, tmp_path / "quality")
    assert result.critical_failed == [], [r for r in result.results if not r["success"]]
    assert len(result.results) == len(checks())
    assert {r["severity"] for r in result.results} == {CRITICAL, WARNING}
    assert all(r["id"] and r["error"] is None for r in result.results)
    # the row count GX observed equals the table's, read independently
    docs = tmp_path / "quality"
    assert result.docs_index == docs / "index.html" and result.docs_index.exists()
    pages = list(docs.rglob("*.html"))
    assert len(pages) >= 1 + 2 * 11  # index, a suite page and a result page per table
    height = read_table(county_url, "pub_town_year").height
    pub_page = next(p for p in pages if "validations" in p.parts and "pub_town_year" in p.name)
    assert re.search(rf">\s*{height}\s*<", pub_page.read_text(encoding="utf-8"))
    # no page loads anything from the network; the local assets are there
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"""<(script|link)[^>]+(src|href)=["']https?://""", text), page
        assert "url('https://" not in text, page
        assert "townstat-gx.css" in text and "jquery.min.js" in text, page
    for asset in ("townstat-gx.css", "townstat-gx.js", "jquery.min.js"):
        assert (docs / "static" / "townstat" / asset).stat().st_size > 1000


def test_a_broken_published_table_fails_critical_expectations(county_url, request, tmp_path):
    # a copy of the published tables, then broken with plain SQL
    if county_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'broken.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(f"brk_{uuid.uuid4().hex[:12]}")
    publish(url, {n: read_table(county_url, n) for n in SMALL_TABLES})
    pub = read_table(url, "pub_town_year")
    town = pub.row(0, named=True)
    supp = pub.filter(pl.col("suppressed").str.contains("export_value")).row(0, named=True)
    file_ids = set(read_table(url, "dq_file")["file_id"])
    rej = read_table(url, "dq_rejected_row").row(0, named=True)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE pub_town_year SET enterprises = -3 WHERE town_code = "
                             f"'{town['town_code']}' AND year = {town['year']}")
        conn.exec_driver_sql(f"UPDATE pub_town_year SET export_value = 12345.0 WHERE town_code = "
                             f"'{supp['town_code']}' AND year = {supp['year']}")
        conn.exec_driver_sql(
            "UPDATE dq_rejected_row SET file_id = 'no_such_file' WHERE file_id = "
            f"'{rej['file_id']}' AND source_row = {rej['source_row']} AND \"column\" = "
            f"'{rej['column']}' AND rule = '{rej['rule']}'")
    engine.dispose()
    assert "no_such_file" not in file_ids
    result = validate_warehouse(url, tmp_path / "docs")
    assert set(result.critical_failed) == {
        "pub_town_year.enterprises.non_negative",
        "pub_town_year.export_value.null_when_suppressed",
        "pub_town_year.rows.equal_ind_town_year",  # counts no longer equal ind_town_year's
        "dq_rejected_row.file_id.in_dq_file",
    }
    by_id = {r["id"]: r for r in result.results}
    assert by_id["pub_town_year.export_value.null_when_suppressed"]["unexpected_count"] == 1
    assert by_id["pub_town_year.enterprises.non_negative"]["unexpected_count"] == 1
    assert result.docs_index.exists()
    assert not result.success


def test_gx_stays_out_of_other_import_paths():
    code = ("import sys; import pipelines.quality.expectations, pipelines.reports.workbook, "
            "pipelines.reports.dashboard, pipelines.reports.quality_report; "
            "assert 'great_expectations' not in sys.modules, 'GX imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr


def test_results_are_kept_for_tables_whose_content_did_not_change(request, tmp_path):
    # the staging copy's case: tables published with their content fingerprints, validated
    # night after night with the results kept in the cache
    county = county_warehouse(request, "sqlite")
    url = f"sqlite:///{tmp_path / 'staging.sqlite'}"
    publish(url, {n: read_table(county, n) for n in SMALL_TABLES}, fingerprints={})
    kept = tmp_path / "kept"
    first = validate_warehouse(url, tmp_path / "d1", kept)
    assert first.reused == [] and first.critical_failed == []

    second = validate_warehouse(url, tmp_path / "d2", kept)
    assert sorted(second.reused) == sorted(SMALL_TABLES)
    assert second.results == first.results
    # the Data Docs still show a validation of every table
    pages = [p.name for p in (tmp_path / "d2").rglob("*.html") if "validations" in p.parts]
    for table in SMALL_TABLES:
        assert any(table in p for p in pages), table

    # one table changed: it is validated again, and so is every table whose checks read it
    pub = read_table(url, "pub_town_year")
    broken = pub.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(-3).otherwise(pl.col("enterprises"))
                              .alias("enterprises"))
    publish(url, {"pub_town_year": broken}, fingerprints={})
    readers = {c.table for c in checks() if "pub_town_year" in repr(c.args)} | {"pub_town_year"}
    third = validate_warehouse(url, tmp_path / "d3", kept)
    assert set(SMALL_TABLES) - set(third.reused) == readers
    assert "pub_town_year.enterprises.non_negative" in third.critical_failed
    assert {r["id"] for r in third.results} == {r["id"] for r in first.results}
    assert next(r for r in third.results if r["id"] == "pub_town_year.enterprises.non_negative"
                )["unexpected_count"] == 1

    dim_readers = {c.table for c in checks() if "dim_town" in repr(c.args)} | {"dim_town"}
    assert "ind_town_year" in dim_readers  # its towns are looked up in dim_town
    towns = read_table(url, "dim_town")
    publish(url, {"dim_town": towns.with_columns(pl.col("town_name") + "镇")}, fingerprints={})
    fourth = validate_warehouse(url, tmp_path / "d4", kept)
    assert set(SMALL_TABLES) - set(fourth.reused) == dim_readers
    # without a kept folder nothing is reused
    assert validate_warehouse(url, tmp_path / "d5").reused == []


def test_a_relative_kept_folder_is_taken_from_the_working_directory(request, tmp_path, monkeypatch):
    # the default cache folder (warehouse/cache) is relative to where the refresh runs
    county = county_warehouse(request, "sqlite")
    url = f"sqlite:///{tmp_path / 'staging.sqlite'}"
    publish(url, {n: read_table(county, n) for n in ("dim_town", "dim_specialty_town")}, fingerprints={})
    monkeypatch.chdir(tmp_path)
    first = validate_warehouse(url, Path("docs"), Path("cache") / "gx-results")
    assert first.reused == [] and (tmp_path / "cache" / "gx-results" / "validations").is_dir()
    again = validate_warehouse(url, Path("docs"), Path("cache") / "gx-results")
    assert sorted(again.reused) == ["dim_specialty_town", "dim_town"]


@pytest.mark.parametrize("how", ["truncate", "garbage", "delete"])
def test_damaged_kept_results_are_validated_again(request, tmp_path, how):
    # contract v4 section 3: the cache can never stop a refresh, nor change what it publishes
    from pipelines.quality.staging import results_folder, validate_staged

    county = county_warehouse(request, "sqlite")
    frames = {n: read_table(county, n) for n in SMALL_TABLES}
    cache = tmp_path / "cache"
    first = validate_staged(frames, cache, tmp_path / "d1")
    kept = results_folder(cache / "gx-staging.sqlite")
    memo = sorted(p for p in kept.glob("*.json"))
    stored = sorted(p for p in (kept / "validations").rglob("*.json"))
    assert len(memo) == len(stored) == len(SMALL_TABLES)
    for path in (memo[0], stored[-1]):
        if how == "delete":
            path.unlink()
        elif how == "truncate":
            path.write_bytes(path.read_bytes()[:10])
        else:
            path.write_bytes(b"\x00\xff garbage" * 10)
    warnings: list[str] = []
    again = validate_staged(frames, cache, tmp_path / "d2", warn=warnings.append)
    assert again.results == first.results and again.critical_failed == []
    assert len(again.reused) <= len(SMALL_TABLES) - 1  # at least the damaged ones validated again
    pages = [p.name for p in (tmp_path / "d2").rglob("*.html") if "validations" in p.parts]
    for table in SMALL_TABLES:
        assert any(table in p for p in pages), table
