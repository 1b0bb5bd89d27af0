"""The evaluation workbook prints (issue 15): the county demo workbook, converted to PDF by a real
LibreOffice, prints each sheet one page wide, its title whole, with a footer on every page.

Needs ``soffice`` (Debian: libreoffice-calc-nogui) and ``pdftotext`` (poppler-utils); without
them the test fails and says how to install them: it is never skipped.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from county_warehouse import county_warehouse
from openpyxl.utils import get_column_letter

from pipelines.reports.workbook import (
    FIXED_SHEETS,
    GAP_SHEET,
    HEADER_ROW,
    MARGINS,
    MISSING_SHEET,
    NOTE_SHEET,
    PAPER_A4,
    write_evaluation_workbook,
)

YEAR = 2024
INSTALL = "apt-get install -y libreoffice-calc-nogui poppler-utils"
SOFFICE_TIMEOUT = 300  # seconds; the conversion takes ~10 s
A4_SHORT_SIDE_PT = 595.3  # the page's height in landscape
#: the height of a row the workbook leaves unset: one line of 10 pt text, which LibreOffice
#: fits in ~14 pt (measured on the PDF) and Excel in 15 pt; 15 pt is the larger
DEFAULT_ROW_PT = 15.0
#: a page's footer: sheet name (&A), 第 n 页 / 共 m 页, the data's date; pdftotext -layout
#: keeps the three parts on the page's last line, at least two spaces apart
FOOTER = re.compile(r"^\s*(?P<sheet>\S.*?)\s{2,}第\s*(?P<page>\d+)\s*页\s*/\s*共\s*(?P<total>\d+)\s*页"
                    r"\s{2,}(?P<date>\S.*?)\s*$")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` not found: the workbook print test converts the workbook with "
                    f"LibreOffice and reads the PDF with poppler-utils; install them with "
                    f"`{INSTALL}` (Debian/Ubuntu, as root)")
    return path


@pytest.fixture(scope="module")
def workbook(request, tmp_path_factory) -> Path:
    """The county demo workbook of YEAR."""
    url = county_warehouse(request, "sqlite")
    out = tmp_path_factory.mktemp("print")
    return write_evaluation_workbook(url, YEAR, out / f"evaluation_{YEAR}.xlsx")


def _print(xlsx: Path) -> list[str]:
    """The workbook printed to PDF by LibreOffice: the text of each page (pdftotext -layout)."""
    soffice, pdftotext = _tool("soffice"), _tool("pdftotext")
    out = xlsx.parent
    # a private profile: parallel runs (and a desktop LibreOffice) do not share a lock
    profile = (out / "lo_profile").as_uri()
    try:
        run = subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless",
                              "--convert-to", "pdf", "--outdir", str(out), str(xlsx)],
                             capture_output=True, text=True, timeout=SOFFICE_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"soffice did not convert {xlsx.name} within {SOFFICE_TIMEOUT} s")
    pdf = xlsx.with_suffix(".pdf")
    assert run.returncode == 0 and pdf.exists(), f"soffice failed: {run.stdout}\n{run.stderr}"
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()  # pdftotext ends every page, the last too, with a form feed
    return pages


def _squeeze(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _footers(pages: list[str]) -> list[re.Match]:
    out = []
    for n, page in enumerate(pages, start=1):
        last = [line for line in page.splitlines() if line.strip()][-1]
        m = FOOTER.match(last)
        assert m, f"page {n} has no footer (sheet, 第 n 页 / 共 m 页, date): {last!r}"
        out.append(m)
    return out


def _row_pt(ws, row: int) -> float:
    """A row's height (1-based): the one the workbook set, else DEFAULT_ROW_PT."""
    height = ws.row_dimensions[row].height
    return float(height) if height else DEFAULT_ROW_PT


def _page_bound(ws) -> int:
    """The most pages the sheet may take: its rows at full size, the repeated rows on every
    page. Fitting to the page's width only shrinks the sheet (scale <= 100 %), so the PDF can
    have no more pages than this; a page holds the printable height (A4 landscape less the
    margins) less the repeated rows, less the tallest row that may not fit at its foot."""
    first, last = (int(x) for x in ws.print_title_rows.replace("$", "").split(":"))
    assert first == 1
    repeated = sum(_row_pt(ws, r) for r in range(1, last + 1))
    body = [_row_pt(ws, r) for r in range(last + 1, ws.max_row + 1)]
    printable = A4_SHORT_SIDE_PT - 72 * (MARGINS["top"] + MARGINS["bottom"])
    per_page = printable - repeated - max(body, default=0.0)
    assert per_page > 0, ws.title
    return max(1, math.ceil(sum(body) / per_page))


def test_every_sheet_has_the_print_setup(workbook):
    wb = openpyxl.load_workbook(workbook)
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert int(setup.paperSize) == PAPER_A4 and setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (setup.fitToWidth or 1) == 1 and int(setup.fitToHeight) == 0, ws.title
        rows = f"$1:${HEADER_ROW}" if ws.title != NOTE_SHEET else "$1:$1"
        assert ws.print_title_rows == rows, ws.title
        footer = ws.oddFooter
        assert footer.left.text == "&A" and footer.center.text == "第 &P 页 / 共 &N 页", ws.title
        assert footer.right.text.startswith("数据截至 / data as of: "), ws.title
        # the title is merged across every column the sheet uses: wrapped there, never cut
        merged = {str(r) for r in ws.merged_cells.ranges}
        assert f"A1:{get_column_letter(ws.max_column)}1" in merged, ws.title


def test_pages_per_sheet_titles_whole_and_footers(workbook):
    pages = _print(workbook)  # fails, saying how to install them, without LibreOffice/poppler
    wb = openpyxl.load_workbook(workbook)
    footers = _footers(pages)
    total = len(pages)
    # numbered through the workbook: 第 1 页 … 第 N 页, each of 共 N 页
    assert [int(m["page"]) for m in footers] == list(range(1, total + 1))
    assert {int(m["total"]) for m in footers} == {total}
    by_sheet: dict[str, list[int]] = {}
    for n, m in enumerate(footers):
        by_sheet.setdefault(m["sheet"], []).append(n)
    # every sheet prints, in the workbook's order, its pages together
    assert list(by_sheet) == wb.sheetnames
    counts = {name: len(idx) for name, idx in by_sheet.items()}
    print("pages per sheet:", counts, "total:", total)
    small = [n for n in wb.sheetnames if n not in FIXED_SHEETS] + [GAP_SHEET, MISSING_SHEET,
                                                                    NOTE_SHEET]
    assert len(small) == 5  # two criteria sets
    for name in wb.sheetnames:
        ws = wb[name]
        idx = by_sheet[name]
        assert idx == list(range(idx[0], idx[-1] + 1)), name
        if name in small:
            assert counts[name] == 1, f"{name} takes {counts[name]} pages"
        bound = _page_bound(ws)
        assert 1 <= counts[name] <= bound, f"{name}: {counts[name]} pages, at most {bound}"
        date = ws.oddFooter.right.text
        title, subtitle = ws["A1"].value, ws["A2"].value
        for n in idx:
            assert footers[n]["date"] == date, (name, n + 1)
            page = pages[n]
            # the title, repeated on every page, is on one line and whole
            assert any(_squeeze(title) in _squeeze(line) for line in page.splitlines()), \
                f"{name}: the title {title!r} is broken or missing on page {n + 1}"
            # the subtitle (source, units, date) may wrap inside its merged cells, never be cut
            if subtitle:
                assert _squeeze(subtitle) in _squeeze(page), (name, n + 1)


def test_column_width_units():
    """Column widths: a Chinese character 2, a capital letter 1.3, anything else 1, rounded up
    (worked by hand; numbers take the fast path, texts the character loop)."""
    from pipelines.reports.workbook import _width

    assert _width("1,234.56") == 8
    assert _width("桐城镇") == 6
    assert _width("91140100WGD8X52RAW") == 21  # 11 digits + 7 capitals x 1.3 = 20.1
    assert _width("ABCDEFGHIJ") == 14  # 10 x 1.3 summed in floating point: 13.000000000000002
    assert _width(None) == 0
    assert _width(12345) == 5
