"""Reference files: bad rows dropped with their rule, an unreadable towns.csv falls back."""

from pipelines.ingest.inventory import scan_raw_area
from pipelines.ingest.references import read_references
from tests.ingest.rawfiles import GUOJIAZHUANG, TONGCHENG, uscc, write_csv


def _records(result):
    return {(f.relpath, row, col, rule) for f, _s, _r, _l, _m, rej in result.files
            for row, col, rule in rej.select("source_row", "column", "rule").iter_rows()}


def test_specialty_leading_and_market_rows(tmp_path):
    ref = tmp_path / "reference"
    write_csv(ref / "specialty_towns.csv", [
        "id,name,county_code,host_town_codes,category,heritage,national_market,core_industry_codes,supporting_industry_codes",
        f"glass,玻璃器皿专业镇,140823,{TONGCHENG};{GUOJIAZHUANG}000,manufacturing,否,是,3054;C3053,2231",  # 2 ok
        "herb,中药材专业镇,140823,,agriculture,是,否,171;0179,2730",  # 3 ok: whole county, padded code
        "bad1,坏类别,140823,,mining,否,否,3054,",  # 4 value_invalid category
        "bad2,坏乡镇,140823,140823999,manufacturing,否,否,3054,",  # 5 unknown_town host
        "bad3,坏行业,140823,,manufacturing,否,否,3050,",  # 6 industry_invalid core (a group)
        "bad4,坏县,999999,,manufacturing,否,否,3054,",  # 7 unknown_town county
    ])
    write_csv(ref / "leading_enterprises.csv", [
        "specialty_town_id,uscc,from_year,to_year",
        f"glass,{uscc(1)},2022,",  # ok, open
        f"nosuch,{uscc(2)},2022,2024",  # value_invalid specialty id
        f"glass,{uscc(3)[:17]}0,2022,",  # uscc_invalid (check char changed... unless it was 0)
    ])
    write_csv(ref / "market_totals.csv", [
        "specialty_town_id,year,provincial_output", "glass,2024,\"1,000,000\"", "glass,2024x,5"])
    result = read_references(scan_raw_area(tmp_path))
    st = result.specialty_towns.sort("id")
    assert st["id"].to_list() == ["glass", "herb"]
    glass = st.row(0, named=True)
    assert glass["host_town_codes"] == f"{TONGCHENG};{GUOJIAZHUANG}"
    assert glass["core_industry_codes"] == "3054;3053"
    assert (glass["heritage"], glass["national_market"]) == (False, True)
    assert st.row(1, named=True)["core_industry_codes"] == "0171;0179"
    records = _records(result)
    assert {r for r in records if r[0].endswith("specialty_towns.csv")} == {
        ("reference/specialty_towns.csv", 4, "category", "value_invalid"),
        ("reference/specialty_towns.csv", 5, "host_town_codes", "unknown_town"),
        ("reference/specialty_towns.csv", 6, "core_industry_codes", "industry_invalid"),
        ("reference/specialty_towns.csv", 7, "county_code", "unknown_town"),
    }
    assert result.leading.height == 1 and result.leading["to_year"][0] is None
    lead = {r[2:] for r in records if r[0].endswith("leading_enterprises.csv")}
    assert ("specialty_town_id", "value_invalid") in lead
    if uscc(3)[17] != "0":
        assert ("uscc", "uscc_invalid") in lead
    assert result.market_totals["provincial_output"].to_list() == [1_000_000.0]
    assert ("reference/market_totals.csv", 3, "year", "value_invalid") in records


def test_unreadable_towns_csv_falls_back_to_the_shipped_list(tmp_path):
    write_csv(tmp_path / "reference" / "towns.csv", ["town_code,town_name", "140823100,桐城镇"])
    result = read_references(scan_raw_area(tmp_path))
    assert result.towns.height == 1352
    status = {f.relpath: (s, m) for f, s, _r, _l, m, _rej in result.files}
    assert status["reference/towns.csv"][0] == "rejected"
    assert "shipped" in status["reference/towns.csv"][1]


def test_a_towns_csv_of_its_own_replaces_the_shipped_list(tmp_path):
    header = "town_code,town_name,county_code,county_name,city_code,city_name,province_code,province_name"
    write_csv(tmp_path / "reference" / "towns.csv", [
        header, f"{TONGCHENG},桐城镇,140823,闻喜县,140800,运城市,140000,山西省",
        "12345,坏,140823,闻喜县,140800,运城市,140000,山西省"])
    result = read_references(scan_raw_area(tmp_path))
    assert result.towns["town_code"].to_list() == [TONGCHENG]
    assert ("reference/towns.csv", 3, "town_code", "value_invalid") in _records(result)
