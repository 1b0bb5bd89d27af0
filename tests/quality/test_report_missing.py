"""report_missing (contract v4, section 8): reported in Y-1, not in Y, with tax or enrolment
rows in Y. Hand-worked cases, and the quality report's part listing the enterprises."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "indicators"))
from synthetic_facts import (  # noqa: E402
    employment_frame,
    enterprise_frame,
    specialty_frame,
    tax_frame,
    towns_frame,
)

from pipelines.indicators.memo import Memo  # noqa: E402
from pipelines.quality import cross_source_flags, expectations  # noqa: E402
from pipelines.reports.quality_report import write_quality_report  # noqa: E402
from pipelines.warehouse import publish  # noqa: E402
from pipelines.warehouse.tables import polars_schema  # noqa: E402
from schemas.rules import FLAGS, FlagName  # noqa: E402

RULE = str(FlagName.REPORT_MISSING)
T, T2 = "140823100", "140823200"
# A stops after 2023 (tax in 2024), B stops (nothing in 2024), C stops (enrolment only in 2024),
# D is new in 2024, E reports in both years; F reports only in 2022, the first report year, and
# has tax in 2022 -- a year before the first report year has no Y-1; F is missing in 2023 too,
# with nothing in 2023.
ENTS = [
    {"year": 2022, "uscc": "F", "town_code": T, "output_value": 5.0},
    {"year": 2023, "uscc": "A", "name": "甲厂", "town_code": T, "industry_code": "3311", "output_value": 1234567.891},
    {"year": 2023, "uscc": "B", "town_code": T, "output_value": 10.0},
    {"year": 2023, "uscc": "C", "name": "丙厂", "town_code": T2, "industry_code": "3312", "output_value": 200.0},
    {"year": 2023, "uscc": "E", "town_code": T, "output_value": 7.0},
    {"year": 2024, "uscc": "D", "town_code": T, "output_value": 3.0},
    {"year": 2024, "uscc": "E", "town_code": T, "output_value": 8.0},
]
TAX = [
    {"period": "2022-05", "uscc": "F", "vat": 1.0},
    {"period": "2024-03", "uscc": "A", "vat": 1.0},
    {"period": "2024-01", "uscc": "D", "vat": 1.0},
    {"period": "2023-06", "uscc": "B", "vat": 1.0},  # B's tax is of 2023, not of 2024
    {"period": "2025-01", "uscc": "B", "vat": 1.0},  # nor of 2025 (not a report year)
]
EMP = [
    {"period": "2024-07", "person_key": "p", "employer_uscc": "C", "hukou_county_code": "140823"},
    {"period": "2024-12", "person_key": "q", "employer_uscc": "C", "hukou_county_code": "140823"},
    {"period": "2024-02", "person_key": "r", "employer_uscc": "E", "hukou_county_code": "140823"},
]


def _flags(ents=ENTS, tax=TAX, emp=EMP, memo=None):
    args = (enterprise_frame(list(ents)), tax_frame(list(tax)), employment_frame(list(emp)))
    return cross_source_flags(*args, memo) if memo is not None else cross_source_flags(*args)


def _missing(flags: pl.DataFrame) -> dict[str, str]:
    rows = flags.filter(pl.col("rule") == RULE)
    assert set(rows["source"]) <= {FLAGS[RULE].source}
    return dict(rows.select("key", "detail").iter_rows())


def test_hand_worked_cases():
    got = _missing(_flags())
    # A: tax in 2024; C: enrolment only; not B (no 2024 rows), D (new), E (reported), F (2023
    # has neither tax nor enrolment; 2022 is the first report year)
    assert set(got) == {"2024|A", "2024|C"}
    assert got["2024|A"] == (
        f"上年已报送年报（工业总产值 1234567.89 元，乡镇 {T}），本年有税收或参保记录但未报送 / reported the "
        f"year before (output value 1234567.89 yuan, town {T}) and has tax or enrolment rows this year, "
        "but no report")
    assert "工业总产值 200.0 元，乡镇 140823200" in got["2024|C"]


def test_without_rows_in_y_not_flagged_and_with_only_enrolment_flagged():
    ents = [{"year": 2023, "uscc": "A", "town_code": T, "output_value": 1.0},
            {"year": 2024, "uscc": "Z", "town_code": T, "output_value": 1.0}]
    assert _missing(_flags(ents, [], [])) == {}
    assert set(_missing(_flags(ents, [{"period": "2024-12", "uscc": "A", "vat": 0.0}], []))) == {"2024|A"}
    emp = [{"period": "2024-01", "person_key": "p", "employer_uscc": "A", "hukou_county_code": "140823"}]
    assert set(_missing(_flags(ents, [], emp))) == {"2024|A"}


def test_first_report_year_and_a_year_without_reports_are_not_flagged():
    # 2023 is the only report year: no Y-1; tax of 2024 (no reports of 2024 yet) is not a Y
    ents = [{"year": 2023, "uscc": "A", "town_code": T, "output_value": 1.0}]
    tax = [{"period": "2023-01", "uscc": "B", "vat": 1.0}, {"period": "2024-01", "uscc": "A", "vat": 1.0}]
    assert _missing(_flags(ents, tax, [])) == {}


def test_memoised_enrolment_gives_the_same_flags(tmp_path):
    first = Memo(tmp_path, "e", "m")
    a = _flags(memo=first)
    second = Memo(tmp_path, "e", "m")
    b = _flags(memo=second)
    assert "employer_enrolled_years" in first.computed and "employer_enrolled_years" in second.reused
    assert a.equals(b) and a.equals(_flags())


def test_gx_value_set_accepts_the_flag():
    assert FLAGS[RULE].computed and RULE in expectations.FLAG_RULES


def test_quality_report_lists_missing_reports_with_their_specialty_town(tmp_path):
    flags = _flags()
    specialty = specialty_frame([
        # A (town T, 3311 core) belongs to S1; C (town T2, 3312 supporting) to S2 by county
        {"id": "S1", "name": "铸造专业镇", "county_code": "140823", "host_town_codes": T,
         "core_industry_codes": "3311", "supporting_industry_codes": ""},
        {"id": "S2", "name": "五金专业镇", "county_code": "140823", "host_town_codes": "",
         "core_industry_codes": "3399", "supporting_industry_codes": "3312;3311"},
        {"id": "S3", "name": "别处专业镇", "county_code": "140823", "host_town_codes": T2,
         "core_industry_codes": "3311", "supporting_industry_codes": ""},
    ])
    frames = {t: pl.DataFrame(schema=polars_schema(t)) for t in ("dq_file", "dq_rejected_row")}
    frames |= {"dq_flag": flags, "fact_enterprise_year": enterprise_frame(ENTS),
               "dim_town": towns_frame([T, T2]).with_columns(
                   pl.when(pl.col("town_code") == T).then(pl.lit("甲镇")).otherwise(pl.lit("乙镇")).alias("town_name")),
               "dim_specialty_town": specialty}
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    publish(url, frames)
    for source in (url, frames):
        page = write_quality_report(source, tmp_path / "q.html").read_text(encoding="utf-8")
        part = page.split("id='report-missing'>")[1].split("<h2")[0]
        assert "未报企业" in part and "enterprises that did not report" in part.lower()
        rows = part.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]
        assert rows == [
            f"<tr><td>2024</td><td>A</td><td>甲厂</td><td>{T} 甲镇</td><td>铸造专业镇；五金专业镇</td>"
            "<td class=n>1,234,567.89</td>",
            f"<tr><td>2024</td><td>C</td><td>丙厂</td><td>{T2} 乙镇</td><td>五金专业镇</td>"
            "<td class=n>200.00</td>",
        ]
        # and among the warnings per enterprise
        assert f"({RULE}, enterprise 2024|A)" in page
