"""A failed critical Great Expectations expectation stops publication."""

import polars as pl

from pipelines.refresh import run_refresh
from pipelines.warehouse.read import read_table
from tests.ingest.rawfiles import TONGCHENG, uscc, write_csv


def test_critical_expectation_blocks_publication(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    write_csv(raw / "enterprise" / "2024.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数,专利授权数",
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,100,100,10,2"])
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    monkeypatch.setenv("TOWNSTAT_GX", "on")
    first = run_refresh(raw, url, cache_dir=str(tmp_path / "cache"), reports_dir=str(tmp_path / "r"))
    assert first.published and not first.failed_checks
    assert (tmp_path / "r" / "data_docs" / "index.html").exists()

    # an indicator stage that produces a negative count only the GX suite looks at
    import pipelines.defs.indicators as ind

    real = ind.town_year
    monkeypatch.setattr(ind, "town_year", lambda *a: real(*a).with_columns(
        pl.lit(-1, dtype=pl.Int64).alias("patents_granted")))
    second = run_refresh(raw, url, cache_dir=str(tmp_path / "cache"), reports_dir=str(tmp_path / "r"))
    assert not second.published
    assert "dq/expectations:critical_expectations" in second.failed_checks
    assert read_table(url, "ind_town_year")["patents_granted"].to_list() == [2]
    # the suite's staging copy is kept in the cache, and follows the frames both ways
    assert (tmp_path / "cache" / "gx-staging.sqlite").exists()
    monkeypatch.setattr(ind, "town_year", real)
    third = run_refresh(raw, url, cache_dir=str(tmp_path / "cache"), reports_dir=str(tmp_path / "r"))
    assert third.published and not third.failed_checks
    assert read_table(f"sqlite:///{tmp_path / 'cache' / 'gx-staging.sqlite'}", "ind_town_year")[
        "patents_granted"].to_list() == [2]
