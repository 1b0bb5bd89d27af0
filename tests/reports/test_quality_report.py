"""The data-quality report, checked against the dq_* tables read independently."""

from __future__ import annotations

import html
import json
import re
import shutil

import polars as pl

from pipelines.reports.quality_report import SNAPSHOT_NAME, _safe_value, write_quality_report
from pipelines.warehouse import read_table


def test_report_lists_files_rejected_rows_and_flags(county_url, tmp_path):
    out = write_quality_report(county_url, tmp_path / "quality.html")
    page = out.read_text(encoding="utf-8")
    dq_file = read_table(county_url, "dq_file")
    for r in dq_file.iter_rows(named=True):
        assert html.escape(r["path"]) in page, r["path"]
    # the file rows: path, then counts as read from dq_file
    loaded = dq_file.filter(pl.col("status") == "loaded").sort("rows_rejected", descending=True).row(0, named=True)
    row = re.search(re.escape(html.escape(loaded["path"])) + r"</td>.*?</tr>", page).group(0)
    assert f"{loaded['rows_read']:,}" in row and f"{loaded['rows_rejected']:,}" in row
    assert "已拒收" in page and "rejected" in page
    # rejected rows grouped by rule: each rule's section carries its rows and values
    rej = read_table(county_url, "dq_rejected_row")
    by_rule = rej.group_by("rule").len()
    for rule, n in by_rule.iter_rows():
        assert f"id='rule-{rule}'" in page
        assert f"{n:,} 条" in page
    sample = rej.filter((pl.col("rule") == "value_invalid") & (pl.col("value") != "")).row(0, named=True)
    section = page.split("id='rule-value_invalid'")[1].split("<h3")[0]
    assert f"<td class=n>{sample['source_row']}</td><td>{html.escape(sample['column'])}</td>" \
           f"<td>{html.escape(sample['value'])}</td>" in section
    # flags per enterprise: the most-flagged enterprise is listed with each of its rules
    flags = read_table(county_url, "dq_flag").with_columns(
        pl.col("key").str.split("|").list.last().alias("uscc"))
    top = flags.group_by("uscc").len().sort(["len", "uscc"], descending=[True, False]).row(0)
    assert f"<tr><td>{top[0]}</td>" in page
    # offline and self-contained
    assert not re.search(r"""(src|href)=["']?https?://""", page)
    assert "<script" not in page


def test_person_id_values_are_never_printed():
    fake = "14082319800101123X"
    assert _safe_value("person_id", fake) == "（不显示 / withheld）"
    assert _safe_value("period;person_id;employer_uscc", f"2024-01;{fake};911408232JEQUAKXXU") == \
        "2024-01;***;911408232JEQUAKXXU"
    assert fake not in _safe_value("person_id;x", f"{fake}")


def test_what_changed_since_the_last_refresh(county_url, tmp_path):
    first = write_quality_report(county_url, tmp_path / "a" / "quality.html")
    page = first.read_text(encoding="utf-8")
    assert "这是第一份报告" in page
    snap = json.loads((tmp_path / "a" / SNAPSHOT_NAME).read_text(encoding="utf-8"))
    dq_file = read_table(county_url, "dq_file").sort("path")
    assert set(snap["files"]) == set(dq_file["path"])
    # a previous snapshot that lacked one file, had one more, and other counts for a third
    paths = dq_file.filter(pl.col("status") == "loaded")["path"].to_list()
    gone, changed = paths[0], paths[1]
    prev = json.loads(json.dumps(snap))
    del prev["files"][gone]
    prev["files"]["tax/2021/税收明细_旧.csv"] = dict(snap["files"][changed])
    prev["files"][changed]["rows_rejected"] = snap["files"][changed]["rows_rejected"] + 5
    prev_path = tmp_path / "prev.json"
    prev_path.write_text(json.dumps(prev, ensure_ascii=False), encoding="utf-8")
    shutil.copy(prev_path, tmp_path / "a" / SNAPSHOT_NAME)  # also the default "previous"
    for page in (write_quality_report(county_url, tmp_path / "b" / "q.html", previous=prev_path),
                 write_quality_report(county_url, tmp_path / "a" / "quality.html")):
        text = page.read_text(encoding="utf-8")
        section = text.split("What changed since the last refresh")[1].split("<h2>")[0]
        assert f"新增文件 <span class=en>new file</span></td><td>{html.escape(gone)}</td>" in section
        assert "移除文件 <span class=en>removed file</span></td><td>tax/2021/税收明细_旧.csv</td>" in section
        n = snap["files"][changed]["rows_rejected"]
        assert f"<td>{html.escape(changed)}</td><td>rows_rejected: {n + 5} → {n}</td>" in section
        assert section.count("<tr>") == 4  # header + three changes
    # the second run wrote a fresh snapshot: a third run sees no change
    again = write_quality_report(county_url, tmp_path / "a" / "quality.html").read_text(encoding="utf-8")
    assert "文件与计数均无变化" in again


def test_safe_values_equal_the_one_value_rule():
    fake = "14082319800101123X"
    cases = [("person_id", fake), ("person_id", ""), ("person_id", None), ("uscc", "91140823MA0K1234"),
             ("period;person_id;employer_uscc", f"2024-01;{fake};911408232JEQUAKXXU"),
             ("period;person_id;employer_uscc", f"2024-01;{fake}"), ("person_id;x", fake),
             (None, "abc"), ("x;y", "1;2"), ("name", "<b>&'\"")]
    rej = pl.DataFrame({"column": [c for c, _ in cases], "value": [v for _, v in cases]},
                       schema={"column": pl.String, "value": pl.String})
    from pipelines.reports.quality_report import safe_values

    assert safe_values(rej).to_list() == [_safe_value(c, v) for c, v in cases]
    assert not any(fake in v for v in safe_values(rej).to_list())


def test_a_province_sized_rule_is_capped_on_the_page_and_complete_in_the_csv(tmp_path, monkeypatch):
    qr = __import__("pipelines.reports.quality_report", fromlist=["x"])
    monkeypatch.setattr(qr, "DETAIL_ROWS", 3)
    monkeypatch.setattr(qr, "ROW_NUMBERS", 2)
    n = 7
    rej = pl.DataFrame({
        "file_id": ["f1"] * n, "path": ["tax/2024/税收明细_202401.csv"] * n,
        "source_row": [9, 3, 4, 5, 6, 7, 8], "column": ["vat"] * n, "rule": ["value_invalid"] * n,
        "value": [f"x<{i}>" for i in range(n)], "message": ["无法读取 / cannot read"] * n})
    from pipelines.warehouse.tables import polars_schema

    frames = {t: pl.DataFrame(schema=polars_schema(t)) for t in ("dq_file", "dq_flag", "fact_enterprise_year")}
    frames["dq_rejected_row"] = rej.select(pl.col(c).cast(t) for c, t in polars_schema("dq_rejected_row").items())
    page = qr.write_quality_report(frames, tmp_path / "quality.html").read_text(encoding="utf-8")
    section = page.split("id='rule-value_invalid'")[1]
    # rows to fix: the two lowest row numbers, then how many more
    assert "<td>3, 4 … 另 5 行 / 5 more</td>" in section
    # the details: rows 3, 4, 5 (sorted), escaped; row 6 only in the CSV
    assert "<td class=n>3</td><td>vat</td><td>x&lt;1&gt;</td>" in section
    assert "<td class=n>5</td><td>vat</td><td>x&lt;3&gt;</td>" in section
    assert "<td class=n>6</td>" not in section
    assert "全部 7 条见 rejected_rows.csv" in section
    csv = pl.read_csv(tmp_path / "rejected_rows.csv")
    assert csv["行号 row"].to_list() == [3, 4, 5, 6, 7, 8, 9]
    assert csv["原值 value"].to_list() == ["x<1>", "x<2>", "x<3>", "x<4>", "x<5>", "x<6>", "x<0>"]
    assert (tmp_path / "rejected_rows.csv").read_bytes()[:3] == b"\xef\xbb\xbf"


def test_the_county_report_reads_top_to_bottom_and_links_each_files_rows(county_url, tmp_path):
    page = write_quality_report(county_url, tmp_path / "quality.html").read_text(encoding="utf-8")
    headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", page)]
    assert [h.split("、")[0] for h in headings] == ["一", "二", "三", "四", "五"]
    assert headings[0].startswith("一、概要")
    # the summary's rules: records, rows and files as dq_rejected_row counts them
    rej = read_table(county_url, "dq_rejected_row")
    summary = page.split("<section id='summary'>")[1].split("</section>")[0]
    table = summary.split("<table id='rejected-by-rule'>")[1].split("</table>")[0]
    got = {m[0]: tuple(int(v.replace(",", "")) for v in m[1:]) for m in re.findall(
        r"\((\w+)\)</span></td><td class=n>([\d,]+)</td><td class=n>([\d,]+)</td><td class=n>([\d,]+)</td>", table)}
    want = rej.group_by("rule").agg(pl.len().alias("records"), pl.struct("file_id", "source_row").n_unique()
                                    .alias("rows"), pl.col("file_id").n_unique().alias("files"))
    assert got == {r[0]: tuple(r[1:]) for r in want.iter_rows()}
    # each file's rejected count links to its part of section 3, which lists its rows
    files = page.split("<section id='files'>")[1].split("</section>")[0]
    rows_at = page.index("<section id='rejected-rows'>")
    dq_file = read_table(county_url, "dq_file").filter(pl.col("file_id").is_in(rej["file_id"].unique().implode()))
    assert dq_file.height > 0
    for f in dq_file.iter_rows(named=True):
        row = re.search(re.escape(f"<tr><td>{html.escape(f['path'])}</td>") + r".*?</tr>", files).group(0)
        anchor = re.search(rf"<a href='#(file-[0-9a-f]+)'>{f['rows_rejected']:,}</a>", row).group(1)
        assert "href='rejected_rows.csv'" in row
        assert page.count(f"id='{anchor}'") == 1 and page.index(f"id='{anchor}'") > rows_at
        part = page.split(f"id='{anchor}'>")[1].split("</div>")[0]
        assert html.escape(f["path"]) in part
        mine = rej.filter(pl.col("file_id") == f["file_id"]).group_by("rule", "column").agg(
            pl.col("source_row").sort().head(50).cast(pl.String).str.join(", "))
        for rule, column, numbers in mine.iter_rows():
            assert f"</td><td>{html.escape(column)}</td><td>{numbers}" in part, (f["path"], rule, column)
