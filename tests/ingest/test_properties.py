"""Property-based tests: whatever the bureau drops, ingest rejects cleanly and loses no valid row."""

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest.cells import ParseContext, current_year
from pipelines.ingest.readers import FileRejected, read_cells
from pipelines.ingest.validate import validate_table
from pipelines.reference import industry_classes, shipped_towns
from schemas.columns import TAX
from tests.ingest.rawfiles import uscc

CTX = ParseContext(shipped_towns()["town_code"], industry_classes()["industry_code"], current_year())
HEADER = "所属期,纳税人识别号,增值税,企业所得税"
VALID = [f"2024-0{m},{uscc(m)},{m}00.5,{m}" for m in range(1, 4)]
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])  # huge cells on purpose

cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["=cmd|' /C calc'!A0", "+1+1", "@SUM(A1)", "-", "——", "无", "NaN", "inf", "1e309",
                     "２０２４-03", "2024-13", "0", "", '"', '""', "\r", "\x00", "9" * 400]),
    st.text(alphabet=string.printable, min_size=1000, max_size=5000),  # a huge cell
)


def _ingest_bytes(tmp_path, data: bytes):
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    try:
        table = read_cells(path, TAX)
    except FileRejected as exc:
        assert exc.zh and exc.en
        return None
    return validate_table(table.frame, TAX, CTX, table.money_factors)


@SETTINGS
@given(garbage=st.lists(st.lists(cell, min_size=1, max_size=6), max_size=8))
def test_garbage_rows_never_crash_and_never_cost_a_valid_row(tmp_path, garbage):
    rows = [",".join('"' + c.replace('"', '""') + '"' for c in r) for r in garbage]
    data = "\n".join([HEADER, *VALID, *rows]).encode("utf-8")
    v = _ingest_bytes(tmp_path, data)
    assert v is not None  # the header is fine: the file is read
    got = set(v.accepted["uscc"].to_list())
    assert {uscc(m) for m in range(1, 4)} <= got  # no valid row lost
    # every row is either accepted or rejected with a named rule
    rejected_rows = set(v.rejected["source_row"].to_list())
    assert v.accepted.height + len(rejected_rows) == v.rows_read
    assert set(v.rejected["rule"].to_list()) <= {"uscc_invalid", "value_invalid", "out_of_range",
                                                  "required_missing", "duplicate_key"}


@SETTINGS
@given(cut=st.integers(min_value=0, max_value=400), encoding=st.sampled_from(["utf-8", "gbk", "utf-16",
                                                                              "latin-1", "gb18030"]))
def test_truncated_files_and_wrong_encodings_are_clean(tmp_path, cut, encoding):
    text = "\n".join(["税收明细表（单位：元）", HEADER, *VALID]) + "\n"
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8", errors="replace")
    _ingest_bytes(tmp_path, data[:cut])  # either a clean rejection or rows: never an exception


@SETTINGS
@given(blob=st.binary(max_size=3000))
def test_random_bytes_are_rejected_or_read(tmp_path, blob):
    _ingest_bytes(tmp_path, blob)


@SETTINGS
@given(blob=st.one_of(
    st.binary(max_size=2000),
    # what an xlsx (a zip archive) starts with, then garbage: past the first sniff
    st.binary(max_size=2000).map(lambda b: b"PK\x03\x04" + b),
    st.binary(max_size=2000).map(lambda b: b"PK\x05\x06" + b),  # an "empty archive" record
))
def test_random_bytes_named_xlsx_are_rejected(tmp_path, blob):
    path = tmp_path / "t.xlsx"
    path.write_bytes(blob)
    # never a table, never another exception: rejected whole, with a message in both languages
    with pytest.raises(FileRejected) as info:
        read_cells(path, TAX)
    exc = info.value
    assert "xlsx" in exc.en and exc.zh and exc.zh != exc.en
