"""The targets template (pipelines/evaluation/target_template.py): its drop-downs, and a filled-in
copy read back by the pipeline's own reader (contract v4 section 6.2).

The template is opened with openpyxl, as a person's spreadsheet program would: the data
validations are checked against the lists they refer to, rows are typed into the data sheet,
and the file is saved as raw/reference/targets.xlsx of a temporary raw area and read with
`read_references` (the same call a refresh makes).
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl
import pytest
from openpyxl.utils import range_boundaries

from pipelines.evaluation.target_template import (
    DATA_SHEET,
    LIST_SHEET,
    NOTE_SHEET,
    header_cells,
    template_choices,
    write_target_template,
)
from pipelines.indicators.catalogue import indicators
from pipelines.ingest.inventory import scan_raw_area
from pipelines.ingest.readers import header_lookup
from pipelines.ingest.references import read_references
from pipelines.reference import shipped_towns
from pipelines.warehouse import publish
from schemas.columns import TARGETS_REF
from tests.ingest.rawfiles import GUOJIAZHUANG, TONGCHENG, person, write_csv

SPECIALTY = [
    "id,name,county_code,host_town_codes,category,heritage,national_market,core_industry_codes,supporting_industry_codes",
    f"glass,玻璃器皿专业镇,140823,{TONGCHENG},manufacturing,否,否,3054,2231",
    f"cast,铸造专业镇 {person(5)},140823,{GUOJIAZHUANG},manufacturing,否,否,3391,",
    f"formula,=HYPERLINK(\"http://x\"),140823,{GUOJIAZHUANG},manufacturing,否,否,3391,",
]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("raw")
    write_csv(root / "reference" / "specialty_towns.csv", SPECIALTY)
    return root


@pytest.fixture(scope="module")
def template(raw, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("template") / "targets.xlsx"
    return write_target_template(out, template_choices(None, raw), 2025)


def _validations(ws) -> dict[str, object]:
    """The data sheet's validations by the column they cover (A..E)."""
    out = {}
    for dv in ws.data_validations.dataValidation:
        ranges = str(dv.sqref).split()
        assert len(ranges) == 1
        min_col, min_row, max_col, max_row = range_boundaries(ranges[0])
        assert min_col == max_col and min_row == 2 and max_row >= 1000
        out["ABCDE"[min_col - 1]] = dv
    return out


def _list_values(wb, formula: str) -> list[str]:
    """The cells of a list validation's range, e.g. 代码表!$A$2:$A$1357."""
    sheet, ref = formula.lstrip("=").rsplit("!", 1)
    ws = wb[sheet.strip("'")]
    min_col, min_row, max_col, max_row = range_boundaries(ref.replace("$", ""))
    assert min_col == max_col
    return [ws.cell(r, min_col).value for r in range(min_row, max_row + 1)]


def test_sheets_and_header_the_reader_accepts(template):
    wb = openpyxl.load_workbook(template)
    assert wb.sheetnames == [DATA_SHEET, NOTE_SHEET, LIST_SHEET]  # the reader takes the first
    assert wb[LIST_SHEET].sheet_state == "hidden"
    assert wb[NOTE_SHEET].sheet_state == "visible"
    ws = wb[DATA_SHEET]
    header = [c.value for c in ws[1]]
    assert header == header_cells() == ["层级", "编号", "年度", "指标", "目标值"]
    lookup = header_lookup(TARGETS_REF)
    assert [lookup[h] for h in header] == [c.name for c in TARGETS_REF.columns]
    assert ws.max_row == 1  # no example rows in the data sheet
    assert all(ws.cell(1, c).comment is not None for c in range(1, 6))


def test_drop_downs(template):
    wb = openpyxl.load_workbook(template)
    v = _validations(wb[DATA_SHEET])
    assert set(v) == set("ABCDE")
    assert all(dv.errorStyle in (None, "stop") for dv in v.values())
    assert v["A"].type == "list"
    assert v["A"].formula1.strip('"').split(",") == ["乡镇", "专业镇", "town", "specialty_town"]

    assert v["B"].type == "list" and LIST_SHEET in v["B"].formula1
    ids = _list_values(wb, v["B"].formula1)
    assert ids[:3] == ["cast", "formula", "glass"]  # the specialty towns first
    assert TONGCHENG in ids and GUOJIAZHUANG in ids
    assert set(ids[3:]) == set(shipped_towns()["town_code"])  # no towns.csv: the shipped list
    assert ids[3:5] == [TONGCHENG, GUOJIAZHUANG]  # the specialty towns' county first

    assert v["C"].type == "whole" and (v["C"].formula1, v["C"].formula2) == ("2000", "2100")
    assert v["D"].type == "list" and LIST_SHEET in v["D"].formula1
    names = _list_values(wb, v["D"].formula1)
    expected = {i.name for t in ("ind_town_year", "ind_specialty_town_year") for i in indicators(t)}
    assert set(names) == expected and len(names) == len(expected)
    assert {"tax_total", "insured_persons", "market_share", "new_market_entities"} <= set(names)
    assert v["E"].type == "decimal"


def test_lists_are_safe_and_masked(template):
    wb = openpyxl.load_workbook(template)
    lists = wb[LIST_SHEET]
    cells = {r[0]: r[1] for r in lists.iter_rows(min_row=2, max_col=2, values_only=True) if r[0]}
    assert cells["glass"] == "玻璃器皿专业镇"
    assert cells["cast"] == "铸造专业镇 ***"  # a person-ID-shaped token never reaches the file
    assert person(5) not in "".join(str(c.value) for row in lists.iter_rows() for c in row)
    # a formula-like name stays text (contract section 9)
    formula_cell = next(c for row in lists.iter_rows() for c in row if c.value == "formula").offset(0, 1)
    assert formula_cell.data_type == "s" and formula_cell.value.startswith("=HYPERLINK")
    assert formula_cell.quotePrefix  # Excel keeps it text when someone edits it
    notes = "\n".join(str(c) for row in wb[NOTE_SHEET].iter_rows(values_only=True) for c in row if c)
    for needle in ("raw/reference/targets.xlsx", "元", "人", "家", "0.05", "tax_total", "税收合计",
                   "How to fill in", "fraction"):
        assert needle in notes, needle


def _fill(template: Path, raw: Path) -> Path:
    wb = openpyxl.load_workbook(template)
    ws = wb[DATA_SHEET]
    rows = [
        ["乡镇", TONGCHENG, 2025, "tax_total", 12_000_000],  # 2 good town row
        ["专业镇", "glass", 2025, "output_value", 5e8],  # 3 good specialty-town row
        ["乡镇", "140823999", 2025, "tax_total", 1],  # 4 unknown_town
        ["乡镇", GUOJIAZHUANG, 2025, "no_such_indicator", 1],  # 5 value_invalid
    ]
    for r, values in enumerate(rows, start=2):
        for c, value in enumerate(values, start=1):
            ws.cell(r, c, value)
    out = raw / "reference" / "targets.xlsx"
    wb.save(out)
    return out


def test_filled_template_round_trips_through_the_reader(template, raw):
    written = _fill(template, raw)
    try:
        result = read_references([f for f in scan_raw_area(raw) if f.source == "reference"])
    finally:
        written.unlink()  # the module's raw area keeps only specialty_towns.csv
    assert result.targets.sort("level").rows() == [
        ("specialty_town", "glass", 2025, "output_value", 5e8),
        ("town", TONGCHENG, 2025, "tax_total", 12_000_000.0),
    ]
    record = next(r for r in result.files if r[0].relpath == "reference/targets.xlsx")
    _file, status, read, loaded, _message, rejected = record
    assert (status, read, loaded) == ("loaded", 4, 2)
    assert set(rejected.select("source_row", "column", "rule").iter_rows()) == {
        (4, "id", "unknown_town"), (5, "indicator", "value_invalid")}


def test_empty_template_reads_as_no_targets(template, tmp_path):
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "targets.xlsx").write_bytes(template.read_bytes())
    result = read_references(scan_raw_area(tmp_path))
    record = next(r for r in result.files if r[0].relpath == "reference/targets.xlsx")
    assert result.targets.height == 0
    assert record[1] == "loaded" and record[5].height == 0  # header accepted, nothing rejected


def test_ids_from_the_warehouse_when_it_answers(tmp_path, raw):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    towns = shipped_towns().filter(pl.col("county_code") == "140823")
    specialty = read_references([f for f in scan_raw_area(raw) if f.source == "reference"]).specialty_towns
    publish(url, {"dim_town": towns, "dim_specialty_town": specialty.filter(pl.col("id") == "glass")})
    choices = template_choices(url, raw)
    assert "dim_town" in choices.source_en
    out = write_target_template(tmp_path / "t.xlsx", choices, 2026)
    wb = openpyxl.load_workbook(out)
    ids = _list_values(wb, _validations(wb[DATA_SHEET])["B"].formula1)
    assert ids == ["glass", *sorted(towns["town_code"])]
    # no warehouse file: the raw area's reference files, without creating the file
    missing = tmp_path / "none" / "w.sqlite"
    fallback = template_choices(f"sqlite:///{missing}", raw)
    assert "specialty_towns.csv" in fallback.source_en and not missing.exists()
    assert set(fallback.specialty["id"]) == {"glass", "cast", "formula"}
