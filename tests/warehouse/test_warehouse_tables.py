"""Declarations against the contract (section 3) and the brief's column lists."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from pipelines.warehouse.tables import READER_TABLES, SPEC_BY_NAME, TABLES, table_names

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def _contract_tables() -> dict[str, list[str]]:
    text = CONTRACT.read_text(encoding="utf-8")
    section = text.split("## 3. Warehouse tables", 1)[1].split("## 4.", 1)[0]
    out = {}
    for line in section.splitlines():
        m = re.match(r"\| (\w+) \| ([\w, ]+) \|", line)
        if m and m.group(1) != "table":
            out[m.group(1)] = [k.strip() for k in m.group(2).split(",")]
    return out


def test_every_contract_table_with_its_key():
    contract = _contract_tables()
    assert len(contract) == 16  # contract v4 added eval_gap and eval_target
    assert set(contract) == set(table_names())
    for name, key in contract.items():
        assert [c.name for c in TABLES[name].primary_key.columns] == key, name


def test_contract_columns_present():
    expect = {
        "fact_enterprise_year": "year uscc name town_code industry_code output_value revenue employees rd_expenditure export_value ecommerce_sales patents_granted high_tech specialized_sme little_giant tech_center_level above_scale source_file_id source_row",
        "fact_tax_month": "period uscc year vat corporate_income_tax other_tax total_tax total_tax_reported invoice_sales",
        "fact_employment_month": "period person_key employer_uscc hukou_code hukou_county_code contribution_base",
        "fact_market_entity": "uscc name entity_type town_code industry_code established deregistered",
        "dim_town": "town_code town_name county_code county_name city_code city_name province_code province_name",
        "dim_specialty_town": "id name county_code host_town_codes category heritage national_market core_industry_codes supporting_industry_codes",
        "ind_town_year": "town_code year enterprises above_scale_enterprises newly_above_scale output_value output_value_yoy revenue revenue_yoy employees rd_expenditure rd_intensity export_value ecommerce_sales patents_granted high_tech_enterprises specialized_sme_enterprises little_giant_enterprises tech_center_enterprises tax_total tax_total_yoy insured_persons local_insured_persons market_entities new_market_entities market_entities_yoy county_code",
        "ind_specialty_town_year": "specialty_town_id year member_enterprises leading_enterprises supporting_enterprises output_value output_value_yoy core_output_value market_share employees insured_persons local_insured_persons tax_total above_scale_enterprises newly_above_scale rd_intensity high_tech_enterprises specialized_sme_enterprises ecommerce_sales export_value market_entities market_entities_yoy",
        "eval_criterion": "criteria_set specialty_town_id year criterion value threshold ratio weight met",
        "dq_file": "file_id path source sha256 bytes mtime status rows_read rows_loaded rows_rejected message",
        "dq_rejected_row": "file_id source_row column rule path value message",
        "dq_flag": "source key rule detail",
    }
    for name, cols in expect.items():
        assert set(cols.split()) <= set(TABLES[name].columns.keys()), name
    ind = [c for c in TABLES["ind_town_year"].columns.keys()]
    assert [c for c in TABLES["pub_town_year"].columns.keys()] == [*ind, "suppressed"]


def test_eval_specialty_town_column_order():
    first = "criteria_set specialty_town_id year category leading_enterprises supporting_enterprises concentration_met output_value scale_threshold scale_met market_share market_threshold market_met employees employment_threshold employment_met all_met score rank".split()
    t = TABLES["eval_specialty_town"]
    assert list(t.columns.keys())[: len(first)] == first
    for c in first:
        if c.endswith("_met") and c != "all_met":
            assert t.c[c].nullable


def test_comments_bilingual_and_types():
    for t in TABLES.values():
        assert t.comment and " | " in t.comment
        for c in t.columns:
            zh, en = c.comment.split(" | ", 1)
            assert re.search(r"[\u4e00-\u9fff]", zh), (t.name, c.name)
            assert en.isascii() or re.search(r"[a-z]", en), (t.name, c.name)
    assert TABLES["ind_town_year"].c.output_value.type.__class__.__name__ == "Double"
    assert TABLES["ind_town_year"].c.enterprises.type.__class__.__name__ == "BigInteger"
    assert TABLES["fact_market_entity"].c.established.type.__class__.__name__ == "Date"
    assert TABLES["eval_criterion"].c.met.type.__class__.__name__ == "Boolean"
    assert TABLES["dq_file"].c.mtime.type.__class__.__name__ == "DateTime"


def test_reserved_words_quoted_and_ddl_compiles():
    for t in TABLES.values():
        for dialect in (postgresql.dialect(), sqlite.dialect()):
            CreateTable(t).compile(dialect=dialect)
    ddl = str(CreateTable(TABLES["dq_rejected_row"]).compile(dialect=postgresql.dialect()))
    assert '"column"' in ddl


def test_reader_tables():
    assert READER_TABLES == [
        "dim_town", "dim_specialty_town", "eval_criterion", "eval_specialty_town", "eval_gap",
        "pub_town_year", "dq_file",
    ]
    assert all(SPEC_BY_NAME[n].indexes is not None for n in READER_TABLES)
