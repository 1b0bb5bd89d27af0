"""Lineage (pipelines/lineage/explain.py) on the county demo warehouse, SQLite and PostgreSQL.

For several indicators and towns the rows listed add up to the value in ind_*, and to an
independent value: the generator's truth computed before it wrote any file. Every row listed
points at a real file of the raw area and at a row of it whose cells hold what the row says.
No person ID ever appears in the rendered text.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from pipelines.lineage import LineageError, explain, render_explanation
from pipelines.warehouse.read import read_table
from tests.lineage.demo_warehouse import published_demo

YEARS = (2022, 2023, 2024)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request):
    return published_demo(request, request.param)


@pytest.fixture(scope="module")
def truth_town(demo) -> pl.DataFrame:
    return pl.read_csv(demo.truth / "town_year.csv", schema_overrides={"town_code": pl.String})


@pytest.fixture(scope="module")
def truth_specialty(demo) -> pl.DataFrame:
    return pl.read_csv(demo.truth / "specialty_town_year.csv")


@pytest.fixture(scope="module")
def ind_town(demo) -> pl.DataFrame:
    return read_table(demo.url, "ind_town_year")


@pytest.fixture(scope="module")
def ind_specialty(demo) -> pl.DataFrame:
    return read_table(demo.url, "ind_specialty_town_year")


def _cell(frame: pl.DataFrame, key: dict, column: str):
    rows = frame.filter(*[pl.col(k) == v for k, v in key.items()])
    assert rows.height == 1, (key, rows.height)
    return rows[column][0]


def _close(a, b, money: bool) -> bool:
    return abs(float(a) - float(b)) < 0.005 if money else int(a) == int(b)


# ---------------------------------------------------------------------------- towns

TOWN_CASES = [
    ("output_value", "140823100", 2024),
    ("output_value", "140823104", 2022),
    ("revenue", "140823101", 2023),
    ("employees", "140823102", 2022),
    ("enterprises", "140823103", 2024),
    ("tax_total", "桐城镇", 2024),  # by name: 140823100
    ("tax_total", "140823105", 2023),
    ("tax_total", "140823101", 2022),
    ("insured_persons", "140823101", 2024),
    ("insured_persons", "140823100", 2023),
    ("market_entities", "140823102", 2023),
    ("market_entities", "140823100", 2024),
]


@pytest.mark.parametrize(("indicator", "town", "year"), TOWN_CASES)
def test_town_rows_add_up_to_ind_and_to_the_truth(demo, truth_town, ind_town, indicator, town, year):
    e = explain(demo.url, indicator, year, town=town)
    code = e.subject_code
    assert re.fullmatch(r"\d{9}", code)
    if town == "桐城镇":
        assert code == "140823100"
    money = e.unit == "元"
    published = _cell(ind_town, {"town_code": code, "year": year}, indicator)
    expected = _cell(truth_town, {"town_code": code, "year": year}, indicator)
    assert e.rows.height > 0
    assert e.matches
    assert _close(e.total, published, money), (e.total, published)
    assert _close(e.published, published, money)
    assert _close(e.total, expected, money), (e.total, expected)
    # the sum is over every row, not only the ones displayed
    listed = e.rows["value"].drop_nulls().sum()
    assert _close(listed, expected, money)
    text = render_explanation(e, limit=10)
    assert "一致 ✓" in text
    if e.rows.height > 10:
        assert f"另有 {e.rows.height - 10:,d} 行" in text


@pytest.mark.parametrize("indicator", ["enterprises", "output_value", "insured_persons",
                                       "market_entities"])
def test_every_town_of_2024_adds_up(demo, truth_town, indicator):
    money = indicator == "output_value"
    for row in truth_town.filter(pl.col("year") == 2024).iter_rows(named=True):
        e = explain(demo.url, indicator, 2024, town=row["town_code"])
        assert e.matches, (row["town_code"], e.total, e.published)
        assert _close(e.total, row[indicator], money), (row["town_code"], e.total, row[indicator])


def test_local_insured_and_tax_attribution(demo, ind_town):
    e = explain(demo.url, "local_insured_persons", 2024, town="140823101")
    assert e.matches and e.total == _cell(ind_town, {"town_code": "140823101", "year": 2024},
                                          "local_insured_persons")
    assert set(e.rows["detail"].str.extract(r"户籍县 (\d{6})").to_list()) == {"140823"}
    tax = explain(demo.url, "tax_total", 2024, town="140823100")
    # every tax row says on which basis its taxpayer is in the town, and is of the year
    assert tax.rows["detail"].str.contains("report town|register town").all()
    assert tax.rows["period"].str.starts_with("2024-").all()


# ------------------------------------------------------------------ specialty towns

SPECIALTY_COLUMNS = ["member_enterprises", "leading_enterprises", "supporting_enterprises",
                     "output_value", "core_output_value", "employees"]


@pytest.mark.parametrize("specialty", ["140823-01", "140823-02", "闻喜县中药材专业镇"])
def test_specialty_rows_add_up_to_ind_and_to_the_truth(demo, truth_specialty, ind_specialty,
                                                       specialty):
    year = 2023
    for indicator in SPECIALTY_COLUMNS:
        e = explain(demo.url, indicator, year, specialty_town=specialty, raw_dir=demo.raw)
        money = e.unit == "元"
        key = {"specialty_town_id": e.subject_code, "year": year}
        assert e.matches, (indicator, e.total, e.published)
        assert _close(e.total, _cell(ind_specialty, key, indicator), money)
        assert _close(e.total, _cell(truth_specialty, key, indicator), money), indicator
    for indicator in ("tax_total", "insured_persons"):
        e = explain(demo.url, indicator, year, specialty_town=specialty, raw_dir=demo.raw)
        assert e.matches, (indicator, e.total, e.published)


# ------------------------------------------------------------- rows and their cells

USCC_HEADERS = {"统一社会信用代码", "信用代码", "纳税人识别号", "uscc"}
VALUE_HEADERS = {
    "output_value": {"工业总产值", "总产值", "产值", "output_value"},
    "total_tax": {"税收合计", "total_tax"},
}
TAX_PARTS = [{"增值税", "vat"}, {"企业所得税", "corporate_income_tax"}, {"其他税收", "other_tax"}]
UNITS = {"元": 1.0, "千元": 1e3, "万元": 1e4, "亿元": 1e8}
DEFAULT_UNIT = {"enterprise": "万元", "tax": "元"}


def _file_rows(path: Path, upto: int | None = None) -> list[list]:
    """The rows of a raw file as the bureau sees it (row i of the list = row i + 1); for an
    xlsx file only the first ``upto`` rows."""
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            return [list(r) for r in sheet.iter_rows(max_row=upto, values_only=True)]
        finally:
            book.close()
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    return [list(r) for r in csv.reader(text.splitlines())]


def _header(text) -> tuple[str, str | None]:
    h = str(text or "").strip()
    m = re.fullmatch(r"(.*?)\s*[（(]\s*(元|千元|万元|亿元)\s*[)）]", h)
    return (m.group(1), m.group(2)) if m else (h, None)


def _number(cell) -> float | None:
    if cell is None:
        return None
    if isinstance(cell, int | float):
        return float(cell)
    t = str(cell).strip().replace(",", "")
    try:
        return float(t)
    except ValueError:
        return None


def _check_row(raw: Path, row: dict, source: str) -> None:
    n = row["source_row"]
    rows = _file_rows(raw / row["path"], upto=n)
    assert 1 <= n <= len(rows), (row["path"], n)
    header_at = next(i for i, r in enumerate(rows)
                     if any(_header(c)[0] in USCC_HEADERS for c in r))
    assert header_at < n - 1, "source_row counts the header and title rows"
    header = [_header(c) for c in rows[header_at]]
    title_unit = None
    for r in rows[:header_at]:
        m = re.search(r"单位[：:]\s*(元|千元|万元|亿元)", " ".join(str(c or "") for c in r))
        if m:
            title_unit = m.group(1)
    cells = rows[n - 1]
    uscc_col = next(i for i, (h, _) in enumerate(header) if h in USCC_HEADERS)
    assert re.sub(r"\s", "", str(cells[uscc_col])).upper() == row["uscc"], (row["path"], n)

    def amount(names: set[str]) -> float | None:
        for i, (h, unit) in enumerate(header):
            if h in names:
                v = _number(cells[i])
                factor = UNITS[unit or title_unit or DEFAULT_UNIT[source]]
                return None if v is None else v * factor
        raise KeyError

    column = row["column"]
    try:
        got = amount(VALUE_HEADERS[column])
    except KeyError:
        got = None
    if got is None and column == "total_tax":  # no total given: the sum of the parts given
        parts = [amount(p) for p in TAX_PARTS]
        given = [p for p in parts if p is not None]
        got = sum(given) if given else None
    if row["value"] is None:
        assert got is None
    else:
        assert got is not None and abs(got - row["value"]) < 0.006, (row, got)


@pytest.mark.parametrize(("indicator", "town", "year", "source"), [
    ("output_value", "140823100", 2024, "enterprise"),   # CSV, UTF-8, units in the headers
    ("output_value", "140823100", 2023, "enterprise"),   # CSV with title rows, and an xlsx
    ("output_value", "140823104", 2022, "enterprise"),   # xlsx
    ("tax_total", "140823101", 2024, "tax"),             # CSV in GBK and xlsx, monthly
])
def test_rows_point_at_their_file_and_cell(demo, indicator, town, year, source):
    e = explain(demo.url, indicator, year, town=town)
    paths = e.rows["path"].unique().sort().to_list()
    assert paths
    for p in paths:
        assert (demo.raw / p).is_file(), p
    assert e.rows.select("path", "source_row").is_unique().all()
    assert e.rows.equals(e.rows.sort("path", "source_row")), "rows are sorted by file and row"
    checked = {"csv": 0, "xlsx": 0}
    for p in paths:
        for row in e.rows.filter(pl.col("path") == p).head(3).iter_rows(named=True):
            _check_row(demo.raw, row, source)
            checked[p.rsplit(".", 1)[-1]] += 1
    assert checked["csv"] + checked["xlsx"] >= 3
    if source == "tax" or year == 2024:
        assert checked["csv"] >= 3


# ------------------------------------------------------------------ personal data

ID_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def _december_person_ids(raw: Path, year: int) -> set[str]:
    ids: set[str] = set()
    for path in sorted((raw / "employment" / str(year)).glob(f"*{year}12*.csv")):
        rows = _file_rows(path)
        at = next(i for i, r in enumerate(rows) if "公民身份号码" in r or "身份证号" in r)
        col = next(i for i, c in enumerate(rows[at]) if c in ("公民身份号码", "身份证号"))
        ids |= {re.sub(r"\s", "", str(r[col])).upper() for r in rows[at + 1:] if len(r) > col}
    return {i for i in ids if len(i) >= 15}


def test_no_person_id_in_the_rendered_text(demo):
    texts = [
        render_explanation(explain(demo.url, ind, 2024, town=t), limit=limit)
        for ind, t, limit in [("insured_persons", "140823100", 300),
                              ("local_insured_persons", "140823101", 10_000),
                              ("insured_persons", "140823106", 10_000)]
    ]
    texts.append(render_explanation(
        explain(demo.url, "insured_persons", 2024, specialty_town="140823-02"), limit=10_000))
    ids = _december_person_ids(demo.raw, 2024)
    assert len(ids) > 100
    for text in texts:
        found = set(ID_LIKE.findall(text))
        assert not found, sorted(found)[:3]
        assert not any(i in text for i in ids)
        assert "person_key" in text and "人" in text


# ----------------------------------------------------------------- what it refuses

def test_unknown_indicator_is_a_bilingual_error_listing_the_supported(demo):
    with pytest.raises(LineageError) as err:
        explain(demo.url, "rd_intensity", 2024, town="140823100")
    message = str(err.value)
    assert "不支持" in message and "Supported" in message
    for name in ("output_value", "tax_total", "insured_persons", "market_entities"):
        assert name in message
    with pytest.raises(LineageError, match="member_enterprises"):
        explain(demo.url, "nonsense", 2024, specialty_town="140823-01")


def test_unknown_town_year_and_ambiguous_name(demo):
    with pytest.raises(LineageError, match="dim_town"):
        explain(demo.url, "output_value", 2024, town="999999999")
    with pytest.raises(LineageError, match="2022, 2023, 2024"):
        explain(demo.url, "output_value", 2019, town="140823100")
    with pytest.raises(LineageError, match="several towns"):
        explain(demo.url, "output_value", 2024, town="镇")
    with pytest.raises(LineageError):
        explain(demo.url, "output_value", 2024)


def test_display_limit_keeps_the_sum_over_all_rows(demo):
    e = explain(demo.url, "tax_total", 2024, town="140823100")
    text = render_explanation(e, limit=5)
    data_lines = [ln for ln in text.splitlines() if re.match(r"\|\s+\d+ \| ", ln)]
    assert len(data_lines) == 5
    assert f"另有 {e.rows.height - 5:,d} 行" in text
    assert f"{e.total:,.2f}" in text and f"{e.published:,.2f}" in text
