"""The source specs (schemas.columns) are the only declaration of a fact table's shape.

The pandera schema, the fact frame (and its cache) and the warehouse table of each source
agree with its spec column by column, and a column added to a spec appears in all three
without another edit.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest
from sqlalchemy import MetaData
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateTable

from pipelines.ingest.sources import FACT_TABLES, empty_fact, fact_columns, fact_dtypes
from pipelines.warehouse.frames import prepare_frame
from pipelines.warehouse.tables import SPEC_BY_NAME, TABLES, build_table, fact_spec, polars_schema
from schemas import facts
from schemas.columns import SOURCES, ColumnSpec, SourceSpec, derived
from tests.ingest.rawfiles import TONGCHENG, ingest, uscc, write_csv

# The four fact tables as they stood before their shape moved into the source specs, written
# out from the DDL of that version (SQLite dialect): name, type, NOT NULL; key; indexes.
EXPECTED = {
    "fact_enterprise_year": (
        ["year INTEGER NOT NULL", "uscc VARCHAR(18) NOT NULL", "name TEXT NOT NULL",
         "town_code VARCHAR(9) NOT NULL", "industry_code VARCHAR(4) NOT NULL",
         "output_value DOUBLE NOT NULL", "revenue DOUBLE NOT NULL", "employees BIGINT NOT NULL",
         "rd_expenditure DOUBLE", "export_value DOUBLE", "ecommerce_sales DOUBLE",
         "patents_granted BIGINT", "high_tech BOOLEAN NOT NULL", "specialized_sme BOOLEAN NOT NULL",
         "little_giant BOOLEAN NOT NULL", "tech_center_level VARCHAR NOT NULL",
         "above_scale BOOLEAN NOT NULL", "source_file_id VARCHAR", "source_row BIGINT"],
        ["year", "uscc"], [["town_code"], ["uscc"]]),
    "fact_tax_month": (
        ["period VARCHAR(7) NOT NULL", "uscc VARCHAR(18) NOT NULL", "year INTEGER NOT NULL",
         "vat DOUBLE", "corporate_income_tax DOUBLE", "other_tax DOUBLE", "total_tax DOUBLE",
         "total_tax_reported DOUBLE", "invoice_sales DOUBLE", "source_file_id VARCHAR",
         "source_row BIGINT"],
        ["period", "uscc"], [["uscc"], ["year"]]),
    "fact_employment_month": (
        ["period VARCHAR(7) NOT NULL", "person_key VARCHAR(64) NOT NULL",
         "employer_uscc VARCHAR(18) NOT NULL", "year INTEGER NOT NULL",
         "hukou_code VARCHAR(12) NOT NULL", "hukou_county_code VARCHAR(6) NOT NULL",
         "contribution_base DOUBLE", "source_file_id VARCHAR", "source_row BIGINT"],
        ["period", "person_key", "employer_uscc"], []),
    "fact_market_entity": (
        ["uscc VARCHAR(18) NOT NULL", "name TEXT NOT NULL", "entity_type VARCHAR NOT NULL",
         "town_code VARCHAR(9) NOT NULL", "industry_code VARCHAR(4) NOT NULL",
         "established DATE NOT NULL", "deregistered DATE", "source_file_id VARCHAR",
         "source_row BIGINT"],
        ["uscc"], [["town_code"]]),
}

# A few comments as they stood, with the unit a money column gets in the warehouse.
EXPECTED_COMMENTS = {
    ("fact_enterprise_year", "output_value"): "工业总产值（元） | gross output value, yuan",
    ("fact_enterprise_year", "name"): "单位详细名称 | enterprise name",
    ("fact_tax_month", "total_tax_reported"): "税收合计（原表填报值）（元） | total tax as reported in the file, yuan",
    ("fact_employment_month", "person_key"): "人员假名键（身份证号的 HMAC-SHA256） | person key: HMAC-SHA256 of the person ID",
    ("fact_employment_month", "source_row"): "来源文件中的行号（从1起，含表头） | row number in the source file, 1-based, header rows counted",
    ("fact_market_entity", "town_code"): "乡镇代码（9位统计用区划代码） | town code, 9-digit statistical division code",
}


def _column_lines(table) -> list[str]:
    ddl = str(CreateTable(table).compile(dialect=sqlite.dialect()))
    return [line.strip().rstrip(",").strip() for line in ddl.splitlines()
            if line.startswith("\t") and "CONSTRAINT" not in line]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_fact_tables_keep_their_shape(name):
    lines, key, indexes = EXPECTED[name]
    table = TABLES[name]
    assert _column_lines(table) == lines
    assert [c.name for c in table.primary_key.columns] == key
    assert sorted([c.name for c in ix.columns] for ix in table.indexes) == indexes
    for (t, col), comment in EXPECTED_COMMENTS.items():
        if t == name:
            assert table.c[col].comment == comment


@pytest.mark.parametrize("source", list(SOURCES))
def test_pandera_frame_and_warehouse_agree_with_the_spec(source):
    spec = SOURCES[source]
    names = [c.name for c in spec.fact_columns]
    schema = facts.fact_schema(source)
    table = TABLES[FACT_TABLES[source]]
    dtypes = fact_dtypes(source)
    assert list(schema.columns) == names
    assert [c.name for c in table.columns] == names
    assert fact_columns(source) == names == list(dtypes)
    assert empty_fact(source).schema == pl.Schema(dtypes)
    # the warehouse's Polars reading of its SQL types is the fact frame's dtype
    assert polars_schema(table.name) == dtypes
    assert list(schema.unique) == list(spec.fact_key) == [c.name for c in table.primary_key.columns]
    for col in spec.fact_columns:
        assert col.comment_zh and col.comment_en, col.name
        assert schema.columns[col.name].dtype.type == dtypes[col.name]
        assert schema.columns[col.name].nullable is not col.not_null, col.name
        assert table.c[col.name].nullable is (not col.not_null or col.warehouse_nullable), col.name
        assert table.c[col.name].comment.startswith(col.comment_zh), col.name
        assert col.comment_en in table.c[col.name].comment
    # a clear person ID never reaches a fact (contract section 4)
    assert "person_id" not in names


@pytest.fixture
def fresh_schemas():
    facts.fact_schema.cache_clear()
    yield
    facts.fact_schema.cache_clear()


LAND = ColumnSpec("land_value", ("土地价值",), "money", False, 0.0, None, "土地价值", "land value")


def test_a_read_column_added_to_a_spec_is_in_every_shape(monkeypatch, tmp_path, fresh_schemas):
    enterprise = SOURCES["enterprise"]
    monkeypatch.setitem(SOURCES, "enterprise", replace(enterprise, columns=(*enterprise.columns, LAND)))

    # the fact frame and its cache
    assert fact_dtypes("enterprise")["land_value"] == pl.Float64
    assert fact_columns("enterprise")[-4:] == ["land_value", "above_scale", "source_file_id", "source_row"]
    # pandera
    col = facts.fact_schema("enterprise").columns["land_value"]
    assert (col.dtype.type, col.nullable) == (pl.Float64, True)
    # the warehouse
    old = SPEC_BY_NAME["fact_enterprise_year"]
    spec = fact_spec(SOURCES["enterprise"], old.name, old.zh, old.en, old.indexes)
    table = build_table(spec, MetaData())
    assert "land_value DOUBLE," in str(CreateTable(table).compile(dialect=sqlite.dialect()))
    assert table.c.land_value.nullable
    assert table.c.land_value.comment == "土地价值（元） | land value, yuan"

    # and a file with that column: read, validated, checked by pandera, framed for publication
    write_csv(tmp_path / "enterprise" / "e.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数,土地价值(元)",
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,100,100,10,12.5",
        f"2024,{uscc(2)},乙,{TONGCHENG},3054,100,100,10,",
        f"2024,{uscc(3)},丙,{TONGCHENG},3054,100,100,10,-1",
    ])
    res = ingest(tmp_path, "enterprise")
    fact = res.current.sort("uscc")
    assert fact["land_value"].to_list() == [12.5, None]
    assert {(r, c) for r, c in res.outcomes[0].rejected.select("source_row", "column").iter_rows()} \
        == {(4, "land_value")}
    assert facts.schema_failures("enterprise", fact) is None
    monkeypatch.setitem(SPEC_BY_NAME, old.name, spec)
    monkeypatch.setitem(TABLES, old.name, table)
    framed = prepare_frame(old.name, fact)
    assert framed.columns == [c.name for c in table.columns]
    assert framed["land_value"].to_list() == [12.5, None]


def test_a_derived_column_takes_its_declared_place(monkeypatch, fresh_schemas):
    tax = SOURCES["tax"]
    share = derived("vat_share", "money", "增值税占比", "VAT share", required=False, after="vat")
    monkeypatch.setitem(SOURCES, "tax", replace(tax, derived=(*tax.derived, share)))
    names = ["period", "uscc", "year", "vat", "vat_share", "corporate_income_tax", "other_tax",
             "total_tax", "total_tax_reported", "invoice_sales", "source_file_id", "source_row"]
    assert fact_columns("tax") == names
    assert list(facts.fact_schema("tax").columns) == names
    old = SPEC_BY_NAME["fact_tax_month"]
    table = build_table(fact_spec(SOURCES["tax"], old.name, old.zh, old.en, old.indexes), MetaData())
    assert [c.name for c in table.columns] == names
    assert table.c.vat_share.comment == "增值税占比（元） | VAT share, yuan"


def test_a_derived_column_with_no_place_is_refused():
    col = ColumnSpec("a", ("a",), "text", True, comment_en="a")
    with pytest.raises(ValueError, match="b"):
        SourceSpec("s", "s", ("a",), (col,), derived=(derived("b", "text", "乙", "b", after="nowhere"),))
    with pytest.raises(ValueError, match="c"):
        SourceSpec("s", "s", ("a",), (col,), derived=(derived("c", "text", "丙", "c", replaces="z"),))
    ok = SourceSpec("s", "s", ("a",), (col,), derived=(derived("k", "text", "键", "k", replaces="a"),))
    assert [c.name for c in ok.fact_columns] == ["k", "source_file_id", "source_row"]
    assert ok.fact_key == ("k",)
