"""One hand-written file per source, each bad row breaking a known rule at a known row."""

from tests.ingest.rawfiles import (
    PERSON_A,
    TONGCHENG,
    ingest,
    person,
    rejected,
    uscc,
    write_csv,
)


def test_enterprise_rules(tmp_path):
    bad_uscc = uscc(9)[:17] + ("0" if uscc(9)[17] != "0" else "1")
    lines = [
        "2024年企业年报",  # row 1: title
        "年份,信用代码,企业名称,区划代码,国民经济行业代码,总产值,营业收入,从业人员,研发费用,高新技术企业,企业技术中心,专利授权数",
        f"2024,{uscc(1)},好,{TONGCHENG},3054,1,1,1,,是,国家级,0",  # 3 ok
        f"2024,{bad_uscc},坏码,{TONGCHENG},3054,1,1,1,,,,",  # 4 uscc_invalid
        f"2024,{uscc(2)},无镇,140823999,3054,1,1,1,,,,",  # 5 unknown_town
        f"2024,{uscc(3)},无业,{TONGCHENG},3050,1,1,1,,,,",  # 6 industry_invalid (a group, not a class)
        f"2024,{uscc(4)},,{TONGCHENG},3054,1,1,1,,,,",  # 7 required_missing name
        f"2024,{uscc(5)},数,{TONGCHENG},3054,abc,1,1,,,,",  # 8 value_invalid output_value
        f"2024,{uscc(6)},负,{TONGCHENG},3054,1,-1,1,,,,",  # 9 out_of_range revenue
        f"1999,{uscc(7)},早,{TONGCHENG},3054,1,1,1,,,,",  # 10 out_of_range year
        f"2024,{uscc(8)},多,{TONGCHENG},3054,1,1,1000001,,,,",  # 11 out_of_range employees
        f"2024,{uscc(10)},一,{TONGCHENG},3054,1,1,1,,,,",  # 12 duplicate_key
        f"2024,{uscc(10).lower()},二,{TONGCHENG},3054,1,1,1,,,,",  # 13 duplicate_key (same after normalising)
        f"2024,{uscc(11)},布,{TONGCHENG},3054,1,1,1,,也许,市级,",  # 14 value_invalid boolean
        f"2024,{uscc(12)},级,{TONGCHENG},3054,1,1,1,,,县级,",  # 15 value_invalid level
        f"2024,{uscc(13)},双,{TONGCHENG},9999,x,1,1,,,,",  # 16 industry_invalid + value_invalid
        ",,,,,,,,,,,",  # 17 blank: skipped, not counted
        f"2024,{uscc(14)},数,{TONGCHENG},3054,1,1,2.5,,,,",  # 18 value_invalid employees
        f"2024,{uscc(15)},专利,{TONGCHENG},3054,1,1,1,,,,-1",  # 19 out_of_range patents
    ]
    write_csv(tmp_path / "enterprise" / "e.csv", lines)
    res = ingest(tmp_path, "enterprise")
    p = "enterprise/e.csv"
    assert rejected(res) == {
        (p, 4, "uscc", "uscc_invalid"),
        (p, 5, "town_code", "unknown_town"),
        (p, 6, "industry_code", "industry_invalid"),
        (p, 7, "name", "required_missing"),
        (p, 8, "output_value", "value_invalid"),
        (p, 9, "revenue", "out_of_range"),
        (p, 10, "year", "out_of_range"),
        (p, 11, "employees", "out_of_range"),
        (p, 12, "year;uscc", "duplicate_key"),
        (p, 13, "year;uscc", "duplicate_key"),
        (p, 14, "high_tech", "value_invalid"),
        (p, 15, "tech_center_level", "value_invalid"),
        (p, 16, "industry_code", "industry_invalid"),
        (p, 16, "output_value", "value_invalid"),
        (p, 18, "employees", "value_invalid"),
        (p, 19, "patents_granted", "out_of_range"),
    }
    o = res.outcomes[0]
    assert (o.rows_read, o.rows_loaded) == (16, 1)
    good = res.current.row(0, named=True)
    assert (good["high_tech"], good["tech_center_level"], good["specialized_sme"]) == (True, "national", False)


def test_tax_rules_and_negative_taxes(tmp_path):
    lines = [
        "税款所属期,纳税人识别号,增值税,企业所得税,其他税收,税收合计,开票销售额",
        f"2024-01,{uscc(1)},-100.5,200,,,1000",  # 2 ok: refund; total filled = 99.5
        f"2024-13,{uscc(2)},1,1,1,,",  # 3 value_invalid period
        f"1999-01,{uscc(3)},1,1,1,,",  # 4 out_of_range period year
        f",{uscc(4)},1,1,1,,",  # 5 required_missing period
        f"2024-01,{uscc(5)},一百,1,1,,",  # 6 value_invalid vat
        f"2024-01,{uscc(6)},-,—,／,,",  # 7 ok: all blank -> total null... '／' is not a blank marker
    ]
    write_csv(tmp_path / "tax" / "t.csv", lines)
    res = ingest(tmp_path, "tax")
    p = "tax/t.csv"
    assert rejected(res) == {
        (p, 3, "period", "value_invalid"),
        (p, 4, "period", "out_of_range"),
        (p, 5, "period", "required_missing"),
        (p, 6, "vat", "value_invalid"),
        (p, 7, "other_tax", "value_invalid"),
    }
    row = res.current.row(0, named=True)
    assert (row["vat"], row["total_tax"], row["total_tax_reported"]) == (-100.5, 99.5, None)


def test_employment_rules_never_echo_a_person_id(tmp_path):
    bad_person = person(1)[:17] + ("0" if person(1)[17] != "0" else "1")
    lines = [
        "所属期,身份证号,参保单位信用代码,户籍地代码,缴费基数",
        f"2024-12,{PERSON_A},{uscc(1)},140823,3000",  # 2 ok
        f"2024-12,{bad_person},{uscc(1)},140823,3000",  # 3 person_id_invalid
        f"2024-12,{person(2)[:15]},{uscc(1)},140823,3000",  # 4 person_id_invalid (15 digits)
        f"2024-12,{person(3)},{uscc(1)},1408,3000",  # 5 value_invalid hukou
        f"2024-12,{person(4)},{uscc(1)},140823,-5",  # 6 out_of_range contribution_base
        f"2024-12,{person(5)},{uscc(1)},140823,1",  # 7 duplicate_key
        f"2024/12,{person(5)},{uscc(1)},140823100,2",  # 8 duplicate_key
    ]
    write_csv(tmp_path / "employment" / "m.csv", lines)
    res = ingest(tmp_path, "employment")
    p = "employment/m.csv"
    assert rejected(res) == {
        (p, 3, "person_id", "person_id_invalid"),
        (p, 4, "person_id", "person_id_invalid"),
        (p, 5, "hukou_code", "value_invalid"),
        (p, 6, "contribution_base", "out_of_range"),
        (p, 7, "period;person_id;employer_uscc", "duplicate_key"),
        (p, 8, "period;person_id;employer_uscc", "duplicate_key"),
    }
    shown = " ".join(str(v) for v in res.outcomes[0].rejected["value"].to_list())
    for pid in (bad_person, person(2)[:15], person(5)):
        assert pid not in shown
    assert res.current["person_key"].to_list() == [
        __import__("hmac").new(b"townstat-demo-key-NOT-FOR-PRODUCTION", PERSON_A.encode(),
                               "sha256").hexdigest()]
