"""Versions across files and refreshes, through real Dagster runs into a real SQLite file."""

import shutil

import polars as pl

from pipelines.refresh import run_refresh
from pipelines.warehouse.read import read_table
from tests.ingest.rawfiles import TONGCHENG, uscc, write_csv

HEADER = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数"


def _row(n: int, output: int, year: int = 2024) -> str:
    return f"{year},{uscc(n)},企业{n},{TONGCHENG},3054,{output},{output},10"


def test_later_file_supersedes_rejected_row_supersedes_nothing_and_removed_files(tmp_path):
    raw, url = tmp_path / "raw", f"sqlite:///{tmp_path / 'w.sqlite'}"
    write_csv(raw / "enterprise" / "a.csv", [HEADER, _row(1, 100), _row(2, 200), _row(3, 300)], mtime=1_700_000_000)
    # b.csv is later: revises firm 1, its firm-2 row is rejected (bad town), adds firm 4
    write_csv(raw / "enterprise" / "b.csv",
              [HEADER, _row(1, 111), f"2024,{uscc(2)},企业2,999999999,3054,222,222,10", _row(4, 400)],
              mtime=1_700_000_100)
    # same bytes as a.csv under another name, later: a duplicate, loads nothing
    shutil.copy(raw / "enterprise" / "a.csv", raw / "enterprise" / "a_again.csv")
    import os
    os.utime(raw / "enterprise" / "a_again.csv", (1_700_000_200, 1_700_000_200))
    (raw / "stray.csv").write_text("x,y\n1,2\n")

    assert run_refresh(raw, url, cache_dir=str(tmp_path / "cache")).published
    fact = read_table(url, "fact_enterprise_year").sort("uscc")
    assert dict(zip(fact["uscc"], fact["output_value"], strict=True)) == {
        uscc(1): 111.0, uscc(2): 200.0, uscc(3): 300.0, uscc(4): 400.0}
    files = read_table(url, "dq_file").sort("path")
    got = {p: (s, r, ld, rj) for p, s, r, ld, rj in
           files.select("path", "status", "rows_read", "rows_loaded", "rows_rejected").iter_rows()}
    assert got == {
        "enterprise/a.csv": ("loaded", 3, 3, 0),
        "enterprise/a_again.csv": ("duplicate", 0, 0, 0),
        "enterprise/b.csv": ("loaded", 3, 2, 1),
        "stray.csv": ("rejected", 0, 0, 0),
    }
    src = fact.filter(pl.col("uscc") == uscc(1)).row(0, named=True)
    b_id = files.filter(pl.col("path") == "enterprise/b.csv")["file_id"][0]
    assert (src["source_file_id"], src["source_row"]) == (b_id, 2)

    first = {t: read_table(url, t) for t in ("fact_enterprise_year", "ind_town_year", "pub_town_year")}
    # the same files again: identical tables
    assert run_refresh(raw, url, cache_dir=str(tmp_path / "cache")).published
    for t, before in first.items():
        assert read_table(url, t).sort(before.columns[:2]).equals(before.sort(before.columns[:2])), t

    # b.csv removed: its rows go, a.csv's firm-1 row is current again; dq_file keeps b as removed
    (raw / "enterprise" / "b.csv").unlink()
    assert run_refresh(raw, url, cache_dir=str(tmp_path / "cache")).published
    fact = read_table(url, "fact_enterprise_year")
    assert dict(zip(fact["uscc"], fact["output_value"], strict=True)) == {
        uscc(1): 100.0, uscc(2): 200.0, uscc(3): 300.0}
    files = read_table(url, "dq_file")
    assert files.filter(pl.col("path") == "enterprise/b.csv")["status"].to_list() == ["removed"]
    assert read_table(url, "dq_rejected_row").filter(pl.col("path") == "enterprise/b.csv").height == 0
