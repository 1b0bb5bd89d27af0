"""Every format and spelling the contract allows, each in a hand-written file."""

import datetime as dt

import pytest

from tests.ingest.rawfiles import (
    GUOJIAZHUANG,
    TONGCHENG,
    ingest,
    only,
    rejected,
    uscc,
    write_csv,
    write_xlsx,
)

ENT_HEADER = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值,营业收入,从业人员期末人数"


def _enterprise_lines() -> list[str]:
    return [
        ENT_HEADER,
        f"2024,{uscc(1)},甲玻璃制品有限公司,{TONGCHENG},3054,1234.5,2000,120",
        f"2024,{uscc(2)},乙山楂食品厂,{GUOJIAZHUANG},1371,10,8.25,12",
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_give_the_same_rows(tmp_path, encoding):
    write_csv(tmp_path / "enterprise" / "2024.csv", _enterprise_lines(), encoding=encoding)
    res = ingest(tmp_path, "enterprise")
    assert res.outcomes[0].status == "loaded"
    row = only(res.current, uscc=uscc(1))
    assert row["name"] == "甲玻璃制品有限公司"
    # no unit anywhere: enterprise money is in 万元
    assert row["output_value"] == 12_345_000.0
    assert row["revenue"] == 20_000_000.0
    assert row["source_row"] == 2
    assert only(res.current, uscc=uscc(2))["revenue"] == 82_500.0


def test_title_rows_units_in_headers_and_title(tmp_path):
    lines = [
        "闻喜县规模以上工业企业年报,,,,,,,",
        "金额单位：千元,,,,,,,",
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值（万元）,营业收入,从业人员期末人数",
        f"2024,{uscc(1)},甲,{TONGCHENG},C3054,\"1,234.5\",\"2,000\",120",
    ]
    write_csv(tmp_path / "enterprise" / "a.csv", lines)
    res = ingest(tmp_path, "enterprise")
    row = only(res.current, uscc=uscc(1))
    assert row["output_value"] == 12_345_000.0  # header unit wins
    assert row["revenue"] == 2_000_000.0  # title unit 千元
    assert row["industry_code"] == "3054"
    assert row["source_row"] == 4


def test_unknown_unit_rejects_the_file(tmp_path):
    lines = [ENT_HEADER.replace("工业总产值", "工业总产值(美元)"), *_enterprise_lines()[1:]]
    write_csv(tmp_path / "enterprise" / "a.csv", lines)
    o = ingest(tmp_path, "enterprise").outcomes[0]
    assert o.status == "rejected" and "美元" in o.message


def test_two_headers_for_one_column_reject_the_file(tmp_path):
    lines = [ENT_HEADER + ",产值", *[ln + ",1" for ln in _enterprise_lines()[1:]]]
    write_csv(tmp_path / "enterprise" / "a.csv", lines)
    o = ingest(tmp_path, "enterprise").outcomes[0]
    assert o.status == "rejected" and "output_value" in o.message


def test_missing_required_column_and_no_header_reject_only_that_file(tmp_path):
    write_csv(tmp_path / "enterprise" / "a.csv", [ENT_HEADER.replace(",营业收入", ""), "2024,x,y,z,1,2,3"])
    write_csv(tmp_path / "enterprise" / "b.csv", ["just,some,text", "1,2,3"])
    write_csv(tmp_path / "enterprise" / "c.csv", _enterprise_lines())
    res = ingest(tmp_path, "enterprise")
    status = {o.file.relpath: (o.status, o.message) for o in res.outcomes}
    assert status["enterprise/a.csv"][0] == "rejected" and "revenue" in status["enterprise/a.csv"][1]
    assert status["enterprise/b.csv"][0] == "rejected" and "header" in status["enterprise/b.csv"][1]
    assert status["enterprise/c.csv"][0] == "loaded"
    assert res.current.height == 2


def test_unsupported_and_corrupt_files_are_rejected(tmp_path):
    (tmp_path / "tax").mkdir()
    (tmp_path / "tax" / "notes.pdf").write_bytes(b"%PDF-1.4 ...")
    (tmp_path / "tax" / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "tax" / "blob.csv").write_bytes(bytes(range(256)) * 10)
    res = ingest(tmp_path, "tax")
    assert {o.file.relpath: o.status for o in res.outcomes} == {
        "tax/blob.csv": "rejected", "tax/broken.xlsx": "rejected", "tax/notes.pdf": "rejected"}
    assert "unsupported" in next(o.message for o in res.outcomes if o.file.relpath.endswith(".pdf"))


def test_every_period_spelling(tmp_path):
    spellings = ["2024-03", "2024-3", "202403", "2024/3", "2024/03", "2024年3月", "2024年03月"]
    lines = ["所属期,纳税人识别号,增值税"]
    lines += [f"{p},{uscc(i)},1" for i, p in enumerate(spellings)]
    write_csv(tmp_path / "tax" / "t.csv", lines)
    res = ingest(tmp_path, "tax")
    assert sorted(res.current["period"].unique().to_list()) == ["2024-03"]
    assert res.current.height == len(spellings)


def test_xlsx_with_title_rows_date_cells_and_blank_and_total_rows(tmp_path):
    rows = [
        ["2024年3月社保参保明细"],
        [],
        ["费款所属期", "公民身份号码", "单位统一社会信用代码", "户籍地区划代码", "缴费基数"],
        [dt.date(2024, 3, 1), "11010519491231002X", uscc(1), "140823", 4500],
        [],
        ["合计", None, None, None, 4500],
        ["2024年4月", "11010519491231002x", uscc(1), 140823100, "4,600.5"],
    ]
    write_xlsx(tmp_path / "employment" / "e.xlsx", rows)
    res = ingest(tmp_path, "employment")
    o = res.outcomes[0]
    assert (o.status, o.rows_read, o.rows_loaded) == ("loaded", 2, 2)
    cur = res.current.sort("period")
    assert cur["period"].to_list() == ["2024-03", "2024-04"]
    assert cur["source_row"].to_list() == [4, 7]
    assert cur["contribution_base"].to_list() == [4500.0, 4600.5]
    assert cur["hukou_county_code"].to_list() == ["140823", "140823"]
    assert cur["person_key"][0] == cur["person_key"][1]
    assert "person_id" not in cur.columns


def test_registry_dates_and_entity_types(tmp_path):
    lines = [
        "统一社会信用代码,名称,市场主体类型,乡镇代码,行业代码,成立日期,注销日期",
        f"{uscc(1)},甲,企业,{TONGCHENG},3054,2024/3/15,",
        f"{uscc(2)},乙,个体工商户,{TONGCHENG},5221,20240315,2025年1月2日",
        f"{uscc(3)},丙,农民专业合作社,{TONGCHENG},0151,2024-03-15 00:00:00,-",
        f"{uscc(4)},丁,enterprise,{TONGCHENG},3054,2024-03-15,2024-03-14",
    ]
    write_csv(tmp_path / "registry" / "r.csv", lines, encoding="gb18030")
    res = ingest(tmp_path, "registry")
    cur = res.current.sort("uscc")
    assert cur["entity_type"].to_list() == ["enterprise", "individual", "cooperative"]
    assert {str(d) for d in cur["established"]} == {"2024-03-15"}
    assert str(cur["deregistered"][1]) == "2025-01-02"
    assert rejected(res) == {("registry/r.csv", 5, "deregistered", "out_of_range")}


def test_ignored_names_are_not_listed(tmp_path):
    for name in (".hidden.csv", "~$open.xlsx", "copy.tmp", "x.part", "y.crdownload"):
        write_csv(tmp_path / "tax" / name, ["garbage"])
    write_csv(tmp_path / "tax" / "t.csv", ["所属期,纳税人识别号,增值税", f"2024-01,{uscc(1)},1"])
    res = ingest(tmp_path, "tax")
    assert [o.file.relpath for o in res.outcomes] == ["tax/t.csv"]
