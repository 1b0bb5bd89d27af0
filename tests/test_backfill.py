"""Yearly partitions: one year recomputed on its own gives the rows the full refresh gave."""

import polars as pl
from dagster import MultiPartitionKey, materialize
from sqlalchemy import text

from pipelines.defs.backfill import county_year, county_year_recomputed, year_recomputed
from pipelines.defs.resources import RawArea, Warehouse
from pipelines.reference import TOWNS_CSV
from pipelines.refresh import run_refresh
from pipelines.warehouse.engine import make_engine
from pipelines.warehouse.read import read_table
from tests.ingest.rawfiles import GUOJIAZHUANG, TONGCHENG, person, uscc, write_csv

TABLES = ("ind_town_year", "pub_town_year", "ind_specialty_town_year", "eval_specialty_town")


def _raw(root):
    header = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数"
    rows = [f"{y},{uscc(i)},企业{i},{TONGCHENG if i % 2 else GUOJIAZHUANG},3054,{1000 * i + y},{30_000_000 * (i % 3) + y},{i}"
            for y in (2023, 2024) for i in range(1, 9)]
    write_csv(root / "enterprise" / "reports.csv", [header, *rows])
    write_csv(root / "tax" / "t.csv", ["所属期,纳税人识别号,增值税",
                                       *[f"{y}-12,{uscc(i)},{10 * i}" for y in (2023, 2024) for i in range(1, 9)]])
    write_csv(root / "employment" / "e.csv", ["所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码",
                                              *[f"{y}-12,{person(i)},{uscc(i)},140823" for y in (2023, 2024)
                                                for i in range(1, 9)]])
    write_csv(root / "reference" / "specialty_towns.csv", [
        "id,name,county_code,host_town_codes,category,heritage,national_market,core_industry_codes,supporting_industry_codes",
        "glass,玻璃器皿专业镇,140823,,manufacturing,否,是,3054,"])


def test_recomputing_a_year_restores_exactly_its_rows(tmp_path):
    raw, url = tmp_path / "raw", f"sqlite:///{tmp_path / 'w.sqlite'}"
    _raw(raw)
    assert run_refresh(raw, url, cache_dir=str(tmp_path / "cache")).published
    before = {t: read_table(url, t) for t in TABLES}
    assert set(before["ind_town_year"]["year"].to_list()) == {2023, 2024}

    engine = make_engine(url)
    with engine.begin() as conn:
        for t in TABLES:
            conn.execute(text(f"DELETE FROM {t} WHERE year = 2024"))
    engine.dispose()
    assert set(read_table(url, "ind_town_year")["year"].to_list()) == {2023}

    result = materialize([year_recomputed], partition_key="2024",
                         resources={"raw_area": RawArea(path=str(raw)), "warehouse": Warehouse(url=url)})
    assert result.success
    for t in TABLES:
        assert read_table(url, t).equals(before[t]), t
    # the refresh's fingerprints of these tables are forgotten: the next publication rewrites them
    engine = make_engine(url)
    with engine.connect() as conn:
        for book in ("townstat_publication", "townstat_publication_part"):
            left = conn.execute(text(f"SELECT count(*) FROM {book} WHERE table_name IN "
                                     "('ind_town_year', 'pub_town_year', 'ind_specialty_town_year', "
                                     "'eval_specialty_town')")).scalar()
            assert left == 0, book
        assert conn.execute(text("SELECT count(*) FROM townstat_publication_part "
                                 "WHERE table_name = 'dq_rejected_row'")).scalar() == 0  # none: few rows
        assert conn.execute(text("SELECT count(*) FROM townstat_publication "
                                 "WHERE table_name = 'fact_tax_month'")).scalar() == 1
    engine.dispose()


def test_recomputing_one_county_year_touches_only_that_county(tmp_path):
    """Towns of two counties; the partition (Wenxi, 2024) restores exactly Wenxi's 2024 rows."""
    raw, url = tmp_path / "raw", f"sqlite:///{tmp_path / 'w.sqlite'}"
    _raw(raw)
    # a second county (Yanhu, 140802) with one enterprise in 2024
    with (raw / "enterprise" / "reports.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"2024,{uscc(20)},企业20,140802001,3054,5000,40000000,7\n")
    assert run_refresh(raw, url, cache_dir=str(tmp_path / "cache")).published
    before = {t: read_table(url, t) for t in ("ind_town_year", "pub_town_year")}
    yanhu = before["ind_town_year"].filter(pl.col("town_code") == "140802001", pl.col("year") == 2024)
    assert yanhu["enterprises"].to_list() == [1] and yanhu["county_code"].to_list() == ["140802"]

    engine = make_engine(url)
    with engine.begin() as conn:
        # Wenxi's 2024 rows deleted, Yanhu's 2024 row altered: only the first is the partition's to mend
        for t in ("ind_town_year", "pub_town_year"):
            conn.execute(text(f"DELETE FROM {t} WHERE year = 2024 AND county_code = '140823'"))
        conn.execute(text("UPDATE ind_town_year SET enterprises = 99 WHERE town_code = '140802001' AND year = 2024"))
    engine.dispose()

    result = materialize([county_year_recomputed], partition_key=MultiPartitionKey({"county": "140823", "year": "2024"}),
                         resources={"raw_area": RawArea(path=str(raw)), "warehouse": Warehouse(url=url)})
    assert result.success
    after = read_table(url, "ind_town_year")
    assert after.filter(pl.col("county_code") == "140823").equals(
        before["ind_town_year"].filter(pl.col("county_code") == "140823"))
    assert after.filter(pl.col("town_code") == "140802001", pl.col("year") == 2024)["enterprises"].to_list() == [99]
    assert read_table(url, "pub_town_year").filter(pl.col("county_code") == "140823").equals(
        before["pub_town_year"].filter(pl.col("county_code") == "140823"))


def test_county_year_partitions_cover_every_shanxi_county():
    counties = county_year.get_partitions_def_for_dimension("county").get_partition_keys()
    # 117 county-level divisions in the shipped reference, every one a 6-digit 14xxxx code
    towns = pl.read_csv(TOWNS_CSV, infer_schema=False)
    assert counties == sorted(towns["county_code"].unique().to_list())
    assert len(counties) == towns["county_code"].n_unique() and all(c.startswith("14") and len(c) == 6 for c in counties)
