"""Yearly partitions: one year recomputed on its own gives the rows the full refresh gave."""

import polars as pl
from dagster import MultiPartitionKey, materialize
from sqlalchemy import text

from pipelines.defs.backfill import (
    county_fact_reads,
    county_year,
    county_year_recomputed,
    year_recomputed,
)
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


def _append(path, lines):
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(f"{line}\n" for line in lines))


def test_county_partitions_read_only_their_units_and_attribute_across_counties(tmp_path):
    """The county filter of the partition's reads (`county_fact_reads`) against the full refresh.

    Wenxi (140823): firms 1-8 as in `_raw`. Firm 30 is registered in Yanhu (140802001) and
    reports in 2024 in Wenxi's Tongcheng, not in 2023: its tax and insured persons of 2024 go
    to Tongcheng, those of 2023 to its register town 140802001. Firm 31 is registered in
    Yanhu's 140802002 without a report. Firm 32 reports and is registered in Linyi (140821)
    only; firm 33 is registered in Wanrong (140822) only, whose units reported nothing in 2024.
    """
    raw, url = tmp_path / "raw", f"sqlite:///{tmp_path / 'w.sqlite'}"
    _raw(raw)
    linyi, wanrong = "140821100", "140822100"
    _append(raw / "enterprise" / "reports.csv", [
        f"2024,{uscc(30)},企业30,{TONGCHENG},3054,5000,40000000,3",
        f"2023,{uscc(32)},企业32,{linyi},3054,6000,1000,4", f"2024,{uscc(32)},企业32,{linyi},3054,7000,1000,4"])
    _append(raw / "tax" / "t.csv", [f"2023-12,{uscc(30)},700", f"2024-12,{uscc(30)},1000", f"2024-12,{uscc(31)},50",
                                    f"2024-12,{uscc(32)},333", f"2024-12,{uscc(33)},40"])
    _append(raw / "employment" / "e.csv", [
        f"2023-12,{person(30)},{uscc(30)},140802", f"2024-12,{person(30)},{uscc(30)},140802",
        f"2024-12,{person(31)},{uscc(30)},140802", f"2024-12,{person(32)},{uscc(31)},140802",
        f"2024-12,{person(33)},{uscc(32)},140821"])
    write_csv(raw / "registry" / "r.csv", [
        "统一社会信用代码,名称,市场主体类型,乡镇代码,行业代码,成立日期,注销日期",
        f"{uscc(30)},企业30,企业,140802001,3054,2020-01-01,", f"{uscc(31)},企业31,企业,140802002,3054,2020-01-01,",
        f"{uscc(32)},企业32,企业,{linyi},3054,2020-01-01,", f"{uscc(33)},企业33,企业,{wanrong},3054,2020-01-01,"])
    assert run_refresh(raw, url, cache_dir=str(tmp_path / "cache")).published
    before = {t: read_table(url, t) for t in ("ind_town_year", "pub_town_year")}

    # by hand: firm 30's 2024 tax (1000) and insured persons (2) in Tongcheng, 2023's (700, 1) in 140802001
    ind = before["ind_town_year"]

    def cell(town, year, column):
        return ind.filter(pl.col("town_code") == town, pl.col("year") == year)[column].to_list()

    assert cell(TONGCHENG, 2024, "tax_total") == [10 + 30 + 50 + 70 + 1000]
    assert cell(TONGCHENG, 2024, "insured_persons") == [4 + 2]
    assert cell(TONGCHENG, 2023, "tax_total") == [10 + 30 + 50 + 70]
    assert cell("140802001", 2024, "tax_total") == [0] and cell("140802001", 2024, "insured_persons") == [0]
    assert cell("140802001", 2024, "market_entities") == [1] and cell("140802001", 2024, "enterprises") == [0]
    assert cell("140802001", 2023, "tax_total") == [700] and cell("140802001", 2023, "insured_persons") == [1]
    assert cell("140802002", 2024, "tax_total") == [50] and cell("140802002", 2024, "local_insured_persons") == [1]
    assert cell(wanrong, 2024, "tax_total") == [40] and cell(wanrong, 2024, "market_entities") == [1]
    # Tongcheng's tax is dominated by firm 30 (100 x 1000 > 85 x 1160): primary; Guojiazhuang, the
    # only other tax cell of Wenxi in 2024, secondary (within the county)
    pub = before["pub_town_year"].filter(pl.col("year") == 2024, pl.col("county_code") == "140823")
    assert pub["tax_total"].to_list() == [None, None]
    assert all("tax_total" in s.split(";") for s in pub["suppressed"].to_list())

    # the partition of Yanhu reads firms 30 and 31 (registered there), not those of Linyi or Wanrong
    reads = county_fact_reads("140802", 2024)
    read = {t: set(read_table(url, t, *reads[t])["employer_uscc" if t == "fact_employment_month" else "uscc"])
            for t in reads}
    assert {uscc(30), uscc(31)} <= read["fact_market_entity"] and {uscc(30), uscc(31)} <= read["fact_tax_month"]
    assert uscc(30) in read["fact_enterprise_year"] and {uscc(30), uscc(31)} <= read["fact_employment_month"]
    assert not {uscc(32), uscc(33)} & set().union(*read.values())

    counties = ("140823", "140802", "140822")
    engine = make_engine(url)
    with engine.begin() as conn:
        for t in ("ind_town_year", "pub_town_year"):
            conn.execute(text(f"DELETE FROM {t} WHERE year = 2024 AND county_code IN ('140823', '140802', '140822')"))
    engine.dispose()
    for county in counties:
        result = materialize([county_year_recomputed],
                             partition_key=MultiPartitionKey({"county": county, "year": "2024"}),
                             resources={"raw_area": RawArea(path=str(raw)), "warehouse": Warehouse(url=url)})
        assert result.success, county
    for t in ("ind_town_year", "pub_town_year"):
        after = read_table(url, t)
        assert after.equals(before[t]), t
        assert after.filter(pl.col("year") == 2024, pl.col("county_code").is_in(counties)).height == 2 + 2 + 1


def test_county_year_partitions_cover_every_shanxi_county():
    counties = county_year.get_partitions_def_for_dimension("county").get_partition_keys()
    # 117 county-level divisions in the shipped reference, every one a 6-digit 14xxxx code
    towns = pl.read_csv(TOWNS_CSV, infer_schema=False)
    assert counties == sorted(towns["county_code"].unique().to_list())
    assert len(counties) == towns["county_code"].n_unique() and all(c.startswith("14") and len(c) == 6 for c in counties)
