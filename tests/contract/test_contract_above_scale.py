"""above_scale (规模以上 / 限额以上), contract section 2.1: revenue ≥ the threshold of the
enterprise's industry. Boundary values per industry kind, exactly at and one fen under the
threshold, worked out by hand from the contract's table; and every class of the shipped
GB/T 4754-2017 list against an independent reading of that table."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.reference import industry_classes
from schemas.above_scale import above_scale_expr, threshold_table
from tests.ingest.rawfiles import TONGCHENG, ingest, uscc, write_csv

M = 1_000_000


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    monkeypatch.setenv("TOWNSTAT_INGEST_WORKERS", "1")  # no process pool for two small files

# (class code, section, what the contract's table says about it, threshold in yuan or None)
CASES = [
    ("0610", "B", "B mining", 20 * M),
    ("3054", "C", "C manufacturing", 20 * M),
    ("1713", "C", "C manufacturing", 20 * M),
    ("4411", "D", "D power", 20 * M),
    ("5111", "F", "F51 wholesale", 20 * M),
    ("5431", "G", "G transport", 20 * M),
    ("6513", "I", "I software", 20 * M),
    ("7610", "N", "N water and environment", 20 * M),
    ("8411", "Q", "division 84 health", 20 * M),
    ("7111", "L", "L leasing and business services", 10 * M),
    ("7310", "M", "M research", 10 * M),
    ("8310", "P", "P education", 10 * M),
    ("7020", "K", "class 7020 property management", 10 * M),
    ("7030", "K", "class 7030", 10 * M),
    ("7040", "K", "class 7040", 10 * M),
    ("7090", "K", "class 7090", 10 * M),
    ("5211", "F", "F52 retail", 5 * M),
    ("8010", "O", "O residents' services", 5 * M),
    ("8610", "R", "R culture", 5 * M),
    ("8511", "Q", "division 85 social work", 5 * M),
    ("8521", "Q", "division 85 social work", 5 * M),
    ("6110", "H", "H accommodation", 2 * M),
    ("6210", "H", "H catering", 2 * M),
    ("0111", "A", "A agriculture: none", None),
    ("4710", "E", "E construction: none", None),
    ("6610", "J", "J finance: none", None),
    ("7010", "K", "K other than 7020/7030/7040/7090: none", None),
    ("9100", "S", "S: none", None),
    ("9700", "T", "T: none", None),
]


def contract_threshold(code: str, section: str) -> float | None:
    """The contract's table of section 2.1, read independently of schemas/above_scale.py."""
    division = code[:2]
    if code in ("7020", "7030", "7040", "7090"):
        return 10 * M
    if division == "84":
        return 20 * M
    if division == "85":
        return 5 * M
    if division == "51":
        return 20 * M
    if division == "52":
        return 5 * M
    if section in ("B", "C", "D", "G", "I", "N"):
        return 20 * M
    if section in ("L", "M", "P"):
        return 10 * M
    if section in ("O", "R"):
        return 5 * M
    if section == "H":
        return 2 * M
    return None


def test_cases_are_classes_of_the_shipped_list():
    classes = dict(industry_classes().select("industry_code", "section").iter_rows())
    for code, section, _, threshold in CASES:
        assert classes.get(code) == section, code
        assert contract_threshold(code, section) == threshold, code


def test_every_class_has_the_contract_threshold():
    classes = industry_classes().select("industry_code", "section")
    got = dict(threshold_table().select("industry_code", "above_scale_threshold").iter_rows())
    wrong = []
    for code, section in classes.iter_rows():
        want = contract_threshold(code, section)
        if got.get(code) != want:
            wrong.append((code, section, got.get(code), want))
    assert not wrong, wrong[:20]
    assert len(classes) > 1300


def _above(rows: list[tuple[str, float | None]]) -> list[bool]:
    frame = pl.DataFrame(rows, schema={"industry_code": pl.String, "revenue": pl.Float64}, orient="row")
    return (
        frame.join(threshold_table(), on="industry_code", how="left")
        .select(above_scale_expr().alias("a"))["a"].to_list()
    )


@pytest.mark.parametrize("code,section,label,threshold", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_above_scale_expr_at_and_one_fen_under(code, section, label, threshold):
    if threshold is None:
        # no revenue threshold: never above scale, however large the revenue
        assert _above([(code, 1e12), (code, 0.0), (code, None)]) == [False, False, False]
    else:
        got = _above([(code, float(threshold)), (code, threshold - 0.01), (code, None), (code, 1e12)])
        assert got == [True, False, False, True]


ENT_HEADER = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数"


def test_above_scale_through_ingest_at_the_boundaries(tmp_path):
    """The same boundaries through a raw file: the flag the fact table carries."""
    lines, want = [ENT_HEADER], {}
    n = 0
    for code, _, _, threshold in CASES:
        revenues = [1e12] if threshold is None else [threshold, threshold - 0.01]
        for revenue in revenues:
            n += 1
            lines.append(f"2024,{uscc(n)},企业{n},{TONGCHENG},{code},1,{revenue:.2f},10")
            want[uscc(n)] = threshold is not None and revenue >= threshold
    write_csv(tmp_path / "enterprise" / "e.csv", lines)
    res = ingest(tmp_path, "enterprise")
    assert res.outcomes[0].rows_loaded == n
    got = dict(res.current.select("uscc", "above_scale").iter_rows())
    assert got == want


def test_above_scale_after_unit_conversion(tmp_path):
    """Revenue in 万元 and 亿元 (section 1): the threshold applies to the yuan value."""
    write_csv(tmp_path / "enterprise" / "wan.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值,营业收入(万元),从业人员期末人数",
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,1,2000,10",  # 20,000,000 yuan: C, at the threshold
        f"2024,{uscc(2)},乙,{TONGCHENG},3054,1,1999.9999,10",  # 19,999,999 yuan
        f"2024,{uscc(3)},丙,{TONGCHENG},6210,1,200,10",  # 2,000,000: H at the threshold
        f"2024,{uscc(4)},丁,{TONGCHENG},6210,1,199.9999,10",  # 1,999,999
    ])
    write_csv(tmp_path / "enterprise" / "yi.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值,营业收入（亿元）,从业人员期末人数",
        f"2024,{uscc(5)},戊,{TONGCHENG},5211,1,0.05,10",  # 5,000,000: F52 at the threshold
        f"2024,{uscc(6)},己,{TONGCHENG},5211,1,0.0499999999,10",  # 4,999,999.99
    ])
    res = ingest(tmp_path, "enterprise")
    got = {u: (r, a) for u, r, a in res.current.select("uscc", "revenue", "above_scale").iter_rows()}
    assert got == {
        uscc(1): (20_000_000.0, True), uscc(2): (19_999_999.0, False),
        uscc(3): (2_000_000.0, True), uscc(4): (1_999_999.0, False),
        uscc(5): (5_000_000.0, True), uscc(6): (4_999_999.99, False),
    }
