"""`dq_rejected_row` of a whole source made in one pass (issue 16) equals the files' records
made one by one, and says what the contract asks of a record."""

from __future__ import annotations

import polars as pl

from pipelines.ingest.file_records import (
    DQ_REJECTED_SCHEMA,
    rejected_records,
    source_rejected_records,
)
from schemas.columns import SOURCES
from tests.ingest.rawfiles import PERSON_A, ingest, uscc, write_csv

HEADER = "税款所属期,纳税人识别号,增值税,企业所得税,其他税收,税收合计,开票销售额"


def _tax_area(root) -> None:
    write_csv(root / "tax" / "a.csv", [
        HEADER,
        f"2024-01,{uscc(1)},1,1,1,,",  # 2 ok
        f"2024-13,{uscc(2)},1,1,1,,",  # 3 value_invalid period
        f"2024-01,{uscc(3)},一百,1,1,,",  # 4 value_invalid vat
    ])
    write_csv(root / "tax" / "b.csv", [HEADER, f"2024-02,{uscc(4)},1,1,1,,"])  # clean
    # a person ID typed into the amount: masked in the value and in the message
    write_csv(root / "tax" / f"c_{PERSON_A}.csv", [HEADER, f"2024-03,{uscc(5)},{PERSON_A},1,1,,"])


def test_one_pass_equals_file_by_file(tmp_path):
    _tax_area(tmp_path)
    res = ingest(tmp_path, "tax")
    spec = SOURCES["tax"]
    one_by_one = pl.concat([pl.DataFrame(schema=DQ_REJECTED_SCHEMA),
                            *(rejected_records(o.file, o.rejected, spec) for o in res.outcomes)])
    together = source_rejected_records([(o.file, o.rejected) for o in res.outcomes], spec).collect()
    assert together.schema == pl.Schema(DQ_REJECTED_SCHEMA)
    assert together.to_dicts() == one_by_one.to_dicts()
    # by hand: three rejected cells, in file order, no clear person ID anywhere
    assert together.select("source_row", "column", "rule").rows() == [
        (3, "period", "value_invalid"), (4, "vat", "value_invalid"), (2, "vat", "value_invalid")]
    assert together["path"].to_list()[:2] == ["tax/a.csv", "tax/a.csv"]
    assert together["path"][2].startswith("tax/c_") and together["path"][2] != f"tax/c_{PERSON_A}.csv"
    text = " ".join(str(v) for row in together.rows() for v in row)
    assert PERSON_A not in text
    assert together["message"][0].startswith("文件 tax/a.csv 第3行")
    assert together["value"][1] == "一百"


def test_no_rejected_rows(tmp_path):
    write_csv(tmp_path / "tax" / "b.csv", [HEADER, f"2024-02,{uscc(4)},1,1,1,,"])
    res = ingest(tmp_path, "tax")
    out = source_rejected_records([(o.file, o.rejected) for o in res.outcomes], SOURCES["tax"]).collect()
    assert out.height == 0 and out.schema == pl.Schema(DQ_REJECTED_SCHEMA)
