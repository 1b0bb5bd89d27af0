"""Yearly partitions: one year recomputed on its own gives the rows the full refresh gave."""

from dagster import materialize
from sqlalchemy import text

from pipelines.defs.backfill import year_recomputed
from pipelines.defs.resources import RawArea, Warehouse
from pipelines.refresh import run_refresh
from pipelines.warehouse.engine import make_engine
from pipelines.warehouse.publish import read_table
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
