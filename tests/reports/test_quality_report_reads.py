"""The quality report reads top to bottom (issue 15 item 2), on a raw area written by hand.

The raw area holds what a new user meets: a CSV with a bad USCC, another with a value that is
not a number and a key given twice, a corrupt workbook (random bytes named .xlsx), a CSV in no known encoding, a file in no
source folder. It is refreshed through the real pipeline (``run_refresh``, the GX suite off:
it checks the warehouse, not the page) and the report the refresh wrote is read as a person
would: the summary first, its counts equal to the dq tables as counted here in SQL, every
rejected count a link to the file's rows, library errors as plain sentences with their text
kept small and without any absolute path.
"""

from __future__ import annotations

import html
import random
import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from pipelines.defs.reports import SUITE_TABLES
from pipelines.ingest import inventory, limits, readers
from pipelines.ingest.file_records import NO_SOURCE_MESSAGE
from pipelines.refresh import run_refresh
from pipelines.reports.advice import FILE_ADVICE, clean_detail, explain, strip_paths
from pipelines.reports.quality_report import REJECTED_CSV, write_quality_report
from pipelines.warehouse import read_table
from schemas.columns import SOURCES
from schemas.rules import RULES
from tests.ingest.rawfiles import TONGCHENG, uscc, write_csv

BAD_USCC = "91140823MA0K1234Z"  # 17 characters: uscc_invalid (and not shaped like a person ID)
NUMERALS = "一二三四五六七八九十"


def _write_area(raw: Path) -> None:
    head = "year,uscc,name,town_code,industry_code,工业总产值(元),营业收入(元),employees"
    write_csv(raw / "enterprise" / "2024.csv", [
        head, f"2024,{uscc(1)},企业1,{TONGCHENG},3054,100,100,5", f"2024,{uscc(2)},企业2,{TONGCHENG},3054,90,90,4"])
    write_csv(raw / "tax" / "2025-03.csv", [
        "period,uscc,total_tax", f"2025-03,{uscc(1)},10",   # row 2
        f"2025-03,{BAD_USCC},5",                             # row 3: uscc_invalid
        f"2025-03,{uscc(3)},7"])                             # row 4
    write_csv(raw / "tax" / "2025-02.csv", [
        "period,uscc,total_tax", f"2025-02,{uscc(1)},10",   # row 2
        f"2025-02,{uscc(2)},abc",                            # row 3: value_invalid
        f"2025-02,{uscc(3)},7", f"2025-02,{uscc(3)},8"])    # rows 4, 5: duplicate_key
    (raw / "enterprise" / "broken.xlsx").write_bytes(random.Random(15).randbytes(3000))
    (raw / "tax" / "gbk.csv").write_bytes(b"period,uscc,total_tax\n\x81\x30\xff\xff,\xfe\xfe,1\n")
    write_csv(raw / "loose.csv", ["a,b", "1,2"])


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("quality_reads")
    _write_area(root / "raw")
    url = f"sqlite:///{root / 'warehouse.sqlite'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOWNSTAT_GX", "off")
        mp.setenv("TOWNSTAT_INGEST_WORKERS", "1")
        outcome = run_refresh(root / "raw", url, cache_dir=str(root / "cache"),
                              reports_dir=str(root / "reports"))
    assert outcome.published and not outcome.failed_steps, outcome.summary_text()
    report = root / "reports" / "quality.html"
    return {"root": root, "url": url, "db": root / "warehouse.sqlite", "report": report,
            "page": report.read_text(encoding="utf-8")}


def _sql(db: Path, query: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def _text(fragment: str) -> str:
    """What a browser shows of an HTML fragment (style dropped, tags removed, entities read)."""
    fragment = re.sub(r"<style>.*?</style>", "", fragment, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def _section(page: str, sid: str) -> str:
    return page.split(f"<section id='{sid}'>", 1)[1].split("</section>", 1)[0]


def _table(page: str, tid: str) -> list[list[str]]:
    """The body rows of the table with id ``tid``, each a list of its cells' HTML."""
    body = re.search(rf"<table id='{tid}'>.*?<tbody>(.*?)</tbody>", page, re.S).group(1)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def _int(cell: str) -> int:
    return int(_text(cell).strip().replace(",", ""))


def _en(cell: str) -> str:
    return re.search(r"<span class=en>(.*?)</span>", cell).group(1)


def test_the_raw_area_came_out_as_planned(refreshed):
    got = dict(_sql(refreshed["db"], "SELECT path, status || ' ' || rows_rejected FROM dq_file"))
    assert got == {"enterprise/2024.csv": "loaded 0", "tax/2025-03.csv": "loaded 1", "tax/2025-02.csv": "loaded 3",
                   "enterprise/broken.xlsx": "rejected 0", "tax/gbk.csv": "rejected 0",
                   "loose.csv": "rejected 0"}
    assert _sql(refreshed["db"], "SELECT COUNT(*) FROM dq_flag") == [(0,)]  # no warning to act on


def test_sections_are_numbered_in_order_with_the_summary_first(refreshed):
    page = refreshed["page"]
    headings = [_text(h).strip() for h in re.findall(r"<h2[^>]*>(.*?)</h2>", page, re.S)]
    assert [h.split("、")[0] for h in headings] == list(NUMERALS[:len(headings)])
    assert len(headings) == 5
    assert headings[0].startswith("一、概要") and headings[1].startswith("二、文件清单")
    assert headings[2].startswith("三、拒收行") and headings[3].startswith("四、跨来源预警")
    assert headings[4].startswith("五、未报企业")
    # the summary's parts, in the order a person reads them, all before section 2
    summary = _section(page, "summary")
    parts = ["What arrived", "What was refused, and why", "What changed since the last refresh", "What to do next"]
    at = [summary.index(p) for p in parts]
    assert at == sorted(at)
    assert page.index("<section id='summary'>") < page.index("<section id='files'>") \
        < page.index("<section id='rejected-rows'>") < page.index("<section id='flags'>") \
        < page.index("id='report-missing'")


def test_summary_counts_equal_the_dq_tables(refreshed):
    page, db = refreshed["page"], refreshed["db"]
    summary = _section(page, "summary")
    # what arrived: per source, files by status and the rows of the files not removed
    want = {src or "-": tuple(int(v or 0) for v in rest) for src, *rest in _sql(db, """
        SELECT source, COUNT(*), SUM(status = 'loaded'), SUM(status = 'rejected'),
               SUM(status = 'duplicate'), SUM(status = 'removed'),
               SUM(CASE WHEN status <> 'removed' THEN rows_read END),
               SUM(CASE WHEN status <> 'removed' THEN rows_loaded END),
               SUM(CASE WHEN status <> 'removed' THEN rows_rejected END)
        FROM dq_file GROUP BY source""")}
    rows = _table(summary, "arrived")
    got = {_en(r[0]): tuple(_int(c) for c in r[1:]) for r in rows[:-1]}
    assert got == want
    assert _text(rows[-1][0]).strip().startswith("合计")
    assert tuple(_int(c) for c in rows[-1][1:]) == tuple(sum(v[i] for v in want.values()) for i in range(8))
    assert want["tax"] == (3, 2, 1, 0, 0, 7, 3, 4)  # the three tax files, as planned
    # the cards
    cards = dict((_text(k).split()[0], _int(v)) for k, v in re.findall(r"<div class=card>(.*?)<b>(.*?)</b>", summary))
    (n_files, n_loaded, n_rejected, rows_loaded, rows_rejected), = _sql(db, """
        SELECT COUNT(*), SUM(status = 'loaded'), SUM(status = 'rejected'),
               SUM(CASE WHEN status <> 'removed' THEN rows_loaded END),
               SUM(CASE WHEN status <> 'removed' THEN rows_rejected END) FROM dq_file""")
    assert (cards["文件"], cards["已加载"], cards["已拒收"], cards["通过行数"], cards["拒收行数"]) == \
        (n_files, n_loaded, n_rejected, rows_loaded, rows_rejected)
    assert cards["预警"] == _sql(db, "SELECT COUNT(*) FROM dq_flag")[0][0]
    # what was refused: every rejected file, and the rejected rows by rule
    refused = [_text(r[0]).strip() for r in _table(summary, "refused-files")]
    assert refused == [p for (p,) in _sql(db, "SELECT path FROM dq_file WHERE status = 'rejected' ORDER BY path")]
    by_rule = {re.search(r"\((\w+)\)</span>", r[0]).group(1): tuple(_int(c) for c in r[1:4])
               for r in _table(summary, "rejected-by-rule")}
    assert by_rule == {rule: (n, rows, files) for rule, n, rows, files in _sql(db, """
        SELECT rule, COUNT(*), COUNT(DISTINCT file_id || '#' || source_row), COUNT(DISTINCT file_id)
        FROM dq_rejected_row GROUP BY rule""")}
    assert by_rule == {"uscc_invalid": (1, 1, 1), "value_invalid": (1, 1, 1), "duplicate_key": (2, 2, 1)}


def _element(page: str, eid: str) -> str:
    """The HTML inside the one element whose id is ``eid``."""
    opens = list(re.finditer(rf"<(\w+)[^>]*\sid=['\"]{re.escape(eid)}['\"][^>]*>", page))
    assert len(opens) == 1, eid
    tag, start = opens[0].group(1), opens[0].end()
    return page[start:page.index(f"</{tag}>", start)]


def test_each_rejected_count_links_to_the_files_rows_and_the_csv(refreshed):
    page, db = refreshed["page"], refreshed["db"]
    files = _section(page, "files")
    rejected_rows = page.index("<section id='rejected-rows'>")
    csv = pl.read_csv(refreshed["report"].parent / REJECTED_CSV)
    linked = 0
    for file_id, path, n in _sql(db, "SELECT file_id, path, rows_rejected FROM dq_file WHERE rows_rejected > 0"):
        row = re.search(re.escape(f"<tr><td>{html.escape(path)}</td>") + r".*?</tr>", files, re.S).group(0)
        anchor = re.search(rf"<a href=['\"]#([\w-]+)['\"]>{n:,}</a>", row).group(1)
        assert re.search(rf"<a [^>]*href=['\"]{REJECTED_CSV}['\"]", row)
        assert page.index(f"id='{anchor}'") > rejected_rows  # the rows section
        part = _element(page, anchor)
        assert html.escape(path) in part
        # every row number of the file, per rule and column, as dq_rejected_row has them
        for rule, column, rows in _sql(db, f"""
                SELECT rule, "column", GROUP_CONCAT(source_row, ', ') FROM
                (SELECT * FROM dq_rejected_row WHERE file_id = '{file_id}' ORDER BY source_row)
                GROUP BY rule, "column" """):
            assert re.search(rf"#rule-{rule}'>.*?</td><td>{re.escape(column)}</td><td>{rows}</td>", part), (rule, rows)
        # the CSV beside the report lists the same rows
        in_csv = csv.filter(pl.col("文件 file") == path).select("行号 row", "列 column", "规则 rule").rows()
        assert sorted(in_csv) == sorted(_sql(db, f"""SELECT source_row, "column", rule FROM dq_rejected_row
                                                    WHERE file_id = '{file_id}'"""))
        linked += 1
    assert linked == 2


def test_library_errors_read_as_plain_sentences_with_a_detail_line(refreshed):
    page, db, root = refreshed["page"], refreshed["db"], refreshed["root"]
    visible = _text(page)
    for absent in ("/tmp/", str(root), "Context:", "dq_rejected_row"):
        assert absent not in visible, absent
    files = _section(page, "files")
    (message,), = _sql(db, "SELECT message FROM dq_file WHERE path = 'enterprise/broken.xlsx'")
    library = message.split("xlsx:", 1)[1].split("Context:")[0].strip()
    assert library.startswith("calamine")
    row = re.search(r"<tr><td>enterprise/broken\.xlsx</td>.*?</tr>", files, re.S).group(0)
    assert "Excel 文件已损坏，或不是真正的 Excel 工作簿" in row and "the Excel file is damaged" in row
    assert f"<div class=detail>详情 / detail: {html.escape(library)}</div>" in row
    # the catalogue's words for the file in no known encoding and the file in no folder
    assert "无法识别文件编码（应为 UTF-8、GBK 或 GB18030）" in _text(files)
    assert "文件不在任何来源文件夹中" in _text(files)
    assert "<script" not in page


class _Items(HTMLParser):
    """The text of each item of the first list, its sub-items' text in a list of their own."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[list[str]] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "br" and self.depth:
            self.items[-1][-1] += " "
        if tag == "li":
            self.depth += 1
            if self.depth == 1:
                self.items.append([""])
            else:
                self.items[-1].append("")

    def handle_endtag(self, tag):
        if tag == "li":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.items[-1][-1] += data


def _actions(page: str) -> list[list[str]]:
    """What to do next: per item, its sentence and then its sub-items, each one line of text."""
    todo = _section(page, "summary").split("id='next'>", 1)[1]
    parser = _Items()
    parser.feed(todo.split("<ol class=todo>", 1)[1].split("</ol>", 1)[0])
    return [[" ".join(t.split()) for t in item] for item in parser.items]


def test_what_to_do_next_names_the_file_the_row_and_the_fix(refreshed):
    actions = _actions(refreshed["page"])
    first = [a[0] for a in actions]
    # the files refused whole first (by path), then the rows to fix, file by file
    assert first[0].startswith("用 Excel 或 WPS 打开 enterprise/broken.xlsx：能打开的，另存为")
    assert first[1].startswith("把 loose.csv 移到对应的来源文件夹")
    assert first[2].startswith("用 Excel 或记事本打开 tax/gbk.csv，另存为 UTF-8 编码的 CSV 后重新放入 raw/ open tax/gbk.csv")
    uscc_fix, value_fix, dup = RULES["uscc_invalid"], RULES["value_invalid"], RULES["duplicate_key"]
    # one rule in the file: one sentence
    assert actions[4] == [f"修正 tax/2025-03.csv 第 3 行的统一社会信用代码（{uscc_fix.fix_zh}）后重新放入 raw/ fix uscc in "
                          f"row 3 of tax/2025-03.csv ({uscc_fix.fix_en}) and put the file back into raw/"]
    # several: the file, then one item per rule and column
    assert actions[3] == [
        "修正 tax/2025-02.csv 中的以下各项后重新放入 raw/： fix the following in tax/2025-02.csv and put the file "
        "back into raw/:",
        f"第 4、5 行的主键（所属期、统一社会信用代码）（{dup.fix_zh}） period;uscc in rows 4, 5 ({dup.fix_en})",
        f"第 3 行的税收合计（{value_fix.fix_zh}） total_tax in row 3 ({value_fix.fix_en})"]
    assert len(actions) == 5


def test_an_older_warehouse_message_loses_its_paths_and_trace(refreshed, tmp_path):
    """Messages as an older ingest stored them (the library's whole text: an absolute path,
    calamine's Context trace), and markup and an ID in one: the page shows the plain sentence,
    the library's text without path or trace, escaped and masked."""
    root = refreshed["root"]
    frames = {name: read_table(refreshed["url"], name) for name in SUITE_TABLES}
    abs_xlsx = f"{root}/raw/enterprise/broken.xlsx"
    old = {
        "enterprise/broken.xlsx": "Excel 文件损坏或无法读取 / corrupt or unreadable xlsx: calamine error: Xlsx error: "
        f"Zip error: invalid Zip archive: Could not find EOCD\nContext:\n    0: Could not open workbook at {abs_xlsx}\n"
        f"    1: could not load excel file at {abs_xlsx}\n",
        "tax/gbk.csv": "读取或校验此文件时出错（OSError：[Errno 5] Input/output error: "
        f"'/srv/townstat/raw/tax/gbk.csv' <b>110101199003077777</b>），此文件未使用，其他文件照常处理 / unexpected "
        f"error while reading or validating this file (OSError: [Errno 5] Input/output error: '{root}/raw/tax/gbk.csv' "
        "<b>110101199003077777</b>); it was not used, the other files load",
    }
    frames["dq_file"] = frames["dq_file"].with_columns(
        pl.col("path").replace_strict(old, default=pl.col("message")).alias("message"))
    page = write_quality_report(frames, tmp_path / "quality.html").read_text(encoding="utf-8")
    visible = _text(page)
    for absent in ("/tmp/", "/srv/", str(root), "Context:", "Could not open workbook", "110101199003077777"):
        assert absent not in visible, absent
    files = _section(page, "files")
    row = re.search(r"<tr><td>enterprise/broken\.xlsx</td>.*?</tr>", files, re.S).group(0)
    assert "<div class=detail>详情 / detail: calamine error: Xlsx error: Zip error: invalid Zip archive: Could not " \
           "find EOCD</div>" in row
    row = re.search(r"<tr><td>tax/gbk\.csv</td>.*?</tr>", files, re.S).group(0)
    assert "读取或校验此文件时出现意外错误" in row
    assert ("<div class=detail>详情 / detail: OSError: [Errno 5] Input/output error: &#x27;tax/gbk.csv&#x27; "
            "&lt;b&gt;***&lt;/b&gt;</div>") in row
    assert any(a[0].startswith("请把本报告和文件 tax/gbk.csv 交给数据管理员") for a in _actions(page))


def _rejected(fn, *args) -> str:
    try:
        fn(*args)
    except (readers.FileRejected, limits.LimitExceeded) as exc:
        return f"{exc.zh} / {exc.en}"
    raise AssertionError(f"{fn.__name__} accepted {args!r}")


def test_every_ingest_message_has_its_advice():
    """The messages ingest writes, made by ingest's own code where it can be called, each read
    by its entry of the advice table, with an action naming the file."""
    tax, enterprise = SOURCES["tax"], SOURCES["enterprise"]
    cases = {
        "binary": _rejected(readers.decode_csv_bytes, b"\x00" * 100),
        "encoding": _rejected(readers.decode_csv_bytes, b"a,b\n\xff\xff\x81\x30\n"),
        "corrupt_xlsx": _rejected(readers.read_xlsx_cells, random.Random(1).randbytes(500), tax),
        "malformed_csv": _rejected(readers.read_csv_cells, b'period,uscc,total_tax\n"2024-01,"x"y,1\n', tax),
        "no_header": _rejected(readers.find_header, [["a", "b"]], tax),
        "missing_column": _rejected(readers.map_columns, ["period", "uscc", "vat"], enterprise, None),
        "money_unit": _rejected(readers.title_unit, [["单位：斤"]]),
        "duplicate_header": _rejected(readers.map_columns, ["period", "uscc", "纳税人识别号", "total_tax"], tax, None),
        "too_large": _rejected(limits.check_csv_size, 10**12),
        "unsupported": f"{readers._unsupported('.txt').zh} / {readers._unsupported('.txt').en}",
        "changed": readers.failure_message(readers.FileChanged("a.csv")),
        "gone": readers.failure_message(FileNotFoundError()),
        "unreadable": readers.failure_message(PermissionError(13, "Permission denied")),
        "unexpected": readers.failure_message(RuntimeError("boom at /srv/raw/tax/a.csv")),
        "no_source": NO_SOURCE_MESSAGE,
        "link": inventory._problem("link"),
        "not_a_file": inventory._problem("fifo"),
        "bad_name": inventory._problem("name"),
        "rows_rejected": "188 行被拒收，见 dq_rejected_row / 188 rows rejected, see dq_rejected_row",
    }
    path = "tax/2025-03.csv"
    for kind, message in cases.items():
        x = explain(message, path, "rejected")
        assert x.kind == kind, (kind, message)
        assert "dq_rejected_row" not in x.zh + x.en
        if kind != "rows_rejected":
            assert path in x.do_zh and path in x.do_en, kind
    assert explain(inventory.unreadable_problem(PermissionError(13, "Permission denied")), path).kind == "unreadable"
    x = explain(cases["malformed_csv"], path, "rejected")
    assert x.detail and "You might want to try" not in x.detail
    x = explain(cases["rows_rejected"], path, "loaded")
    assert x.zh.startswith("188 行被拒收，行号和原因见下方“三、拒收行”") and not x.do_zh
    # a message the table does not know: shown as it is, with a generic action when rejected
    x = explain("某种新的原因 / some new reason", path, "rejected")
    assert x.kind is None and x.zh == "某种新的原因 / some new reason" and path in x.do_zh
    assert {a.kind for a in FILE_ADVICE} >= set(cases)


def test_absolute_paths_become_raw_relative():
    assert strip_paths("at /tmp/x/raw/tax/a.csv: bad", "tax/a.csv") == "at tax/a.csv: bad"
    assert strip_paths("at /srv/data/raw/tax/b.csv", "tax/a.csv") == "at tax/b.csv"
    assert strip_paths("open '/home/u/x.xlsx' failed") == "open 'x.xlsx' failed"
    assert strip_paths(r"C:\Users\u\raw\tax\a.csv missing", "tax/a.csv") == "tax/a.csv missing"
    for kept in ("GB/T 4754-2017", "tax/2024/a.csv", "甲 / English", "enterprise/、tax/", "50/50"):
        assert strip_paths(kept) == kept
    assert clean_detail("calamine error: X\nContext:\n    0: at /tmp/a/b.xlsx\n") == "calamine error: X"
    assert len(clean_detail("x" * 1000)) == 240
