"""The nightly case end to end: a refresh after one new file reuses what did not change and
publishes exactly what a refresh from scratch would."""

from __future__ import annotations

import sqlite3

import polars as pl

from pipelines.ingest.inventory import HASH_CACHE_FILE, HashCache, scan_raw_area
from pipelines.refresh import run_refresh
from pipelines.warehouse.read import read_table
from pipelines.warehouse.tables import table_names
from tests.ingest.rawfiles import GUOJIAZHUANG, TONGCHENG, person, uscc, write_csv


def _raw(root):
    header = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数"
    rows = [f"2024,{uscc(i)},企业{i},{TONGCHENG if i % 2 else GUOJIAZHUANG},3054,{1000 * i},{30_000_000 * (i % 3)},{i}"
            for i in range(1, 9)]
    write_csv(root / "enterprise" / "reports.csv", [header, *rows])
    for m in (1, 2, 3):
        write_csv(root / "tax" / f"税收_2024{m:02d}.csv", ["所属期,纳税人识别号,增值税",
                                                         *[f"2024-{m:02d},{uscc(i)},{10 * i + m}" for i in range(1, 9)]])
    write_csv(root / "employment" / "e.csv", ["所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码",
                                              *[f"2024-12,{person(i)},{uscc(i)},140823" for i in range(1, 9)]])


def _tables(url: str) -> dict[str, pl.DataFrame]:
    return {t: read_table(url, t) for t in table_names()}


def test_new_tax_file_reloads_its_month_only_and_matches_a_fresh_refresh(tmp_path):
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    _raw(raw)
    assert run_refresh(raw, url, cache_dir=str(cache)).published
    # kept whole (the register) or one file per month or year (in a folder named by the source)
    facts = list(cache.glob("*/facts/**/*.parquet"))
    assert sorted({p.parent.name if p.parent.name != "facts" else p.name.split("-")[0] for p in facts}) == [
        "employment", "enterprise", "registry", "tax"]
    tax_parts = {p.name[:7]: (p, p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.glob("*/facts/tax/*.parquet")}
    assert sorted(tax_parts) == ["2024-01", "2024-02", "2024-03"]
    employment_parts = sorted(cache.glob("*/facts/employment/*.parquet"))

    # a re-sent February: one amount changed (uscc 3: 32 → 99)
    write_csv(raw / "tax" / "税收_202402_补报.csv", ["所属期,纳税人识别号,增值税",
                                                  *[f"2024-02,{uscc(i)},{99 if i == 3 else 10 * i + 2}"
                                                    for i in range(1, 9)]], mtime=2_000_000_000)
    con = sqlite3.connect(tmp_path / "w.sqlite")
    # mark the rows as they are now: a month reloaded in place gets new rows, the others keep these
    con.execute("UPDATE fact_tax_month SET source_row = source_row + 1000")
    con.commit()
    con.close()
    outcome = run_refresh(raw, url, cache_dir=str(cache))
    assert outcome.published

    tax = read_table(url, "fact_tax_month")
    kept = tax.filter(pl.col("period") != "2024-02")
    assert kept["source_row"].min() > 1000, "January and March were reloaded though unchanged"
    feb = tax.filter(pl.col("period") == "2024-02")
    assert feb["source_row"].max() < 1000 and feb.height == 8
    assert feb.filter(pl.col("uscc") == uscc(3))["vat"].to_list() == [99.0]
    # the fact was written again for February only; January, March and the unchanged sources'
    # facts were staged from the cache as they were
    after = {p.name[:7]: p for p in cache.glob("*/facts/tax/*.parquet")}
    assert sorted(after) == ["2024-01", "2024-02", "2024-03"]
    for month in ("2024-01", "2024-03"):
        path, ino, mtime = tax_parts[month]
        assert after[month] == path and (path.stat().st_ino, path.stat().st_mtime_ns) == (ino, mtime), month
    assert after["2024-02"] != tax_parts["2024-02"][0] and not tax_parts["2024-02"][0].exists()
    assert sorted(cache.glob("*/facts/employment/*.parquet")) == employment_parts

    # everything else equals a refresh from scratch (no cache, new warehouse)
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    assert run_refresh(raw, fresh, cache_dir=str(tmp_path / "cache2")).published
    got, want = _tables(url), _tables(fresh)
    for t in table_names():
        g, w = got[t], want[t]
        if t == "fact_tax_month":
            g = g.with_columns(pl.when(pl.col("source_row") > 1000).then(pl.col("source_row") - 1000)
                               .otherwise(pl.col("source_row")).alias("source_row"))
        assert g.equals(w), t
    assert want["ind_town_year"]["tax_total"].sum() == sum(10 * i + m for i in range(1, 9) for m in (1, 3)) + \
        sum(99 if i == 3 else 10 * i + 2 for i in range(1, 9))


def test_scan_remembers_hashes_and_sees_changed_bytes(tmp_path):
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    f = write_csv(raw / "tax" / "a.csv", ["所属期,纳税人识别号,增值税", f"2024-01,{uscc(1)},1"])
    plain = scan_raw_area(raw)
    HashCache._memory.clear()
    assert scan_raw_area(raw, str(cache)) == plain
    assert (cache / HASH_CACHE_FILE).is_file()
    # same size, other bytes: the ctime changed, so the file is hashed again
    f.write_text(f.read_text(encoding="utf-8").replace(",1\n", ",2\n"), encoding="utf-8")
    HashCache._memory.clear()
    again = scan_raw_area(raw, str(cache))
    assert again[0].sha256 != plain[0].sha256 and again == scan_raw_area(raw)


def test_a_refresh_with_nothing_new_changes_nothing_and_says_so(tmp_path):
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    _raw(raw)
    first = run_refresh(raw, url, cache_dir=str(cache))
    assert first.published and not first.nothing_new
    assert first.tables["fact_tax_month"] == 24 and first.tables["ind_town_year"] > 0
    con = sqlite3.connect(tmp_path / "w.sqlite")
    version = con.execute("PRAGMA data_version").fetchone()
    changes = con.total_changes
    again = run_refresh(raw, url, cache_dir=str(cache))
    assert again.nothing_new, again.tables
    assert set(again.tables) == set(table_names()) and all(n == -1 for n in again.tables.values())
    assert "nothing new" in again.summary_text() and "无新内容" in again.summary_text()
    # not one row written: the file's content is what it was
    assert con.execute("SELECT count(*) FROM fact_tax_month").fetchone() == (24,)
    assert con.total_changes == changes and con.execute("PRAGMA data_version").fetchone() == version
    con.close()


def test_only_the_years_whose_inputs_changed_are_rewritten(tmp_path):
    """Enterprise reports for 2023 and 2024; a re-sent 2024 tax month rewrites 2024's derived rows only."""
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    _raw(raw)
    header = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数"
    write_csv(raw / "enterprise" / "reports_2023.csv",
              [header, *[f"2023,{uscc(i)},企业{i},{TONGCHENG},3054,{500 * i},{20_000_000},{i}" for i in range(1, 9)]])
    assert run_refresh(raw, url, cache_dir=str(cache)).published
    con = sqlite3.connect(tmp_path / "w.sqlite")
    # mark every derived row: a rewritten row loses the mark, a kept one keeps it
    con.execute("UPDATE ind_town_year SET output_value = output_value + 0.25")
    con.execute("UPDATE pub_town_year SET enterprises = enterprises + 1000 WHERE enterprises IS NOT NULL")
    con.commit()
    marked = {t: read_table(url, t) for t in ("ind_town_year", "pub_town_year")}
    write_csv(raw / "tax" / "税收_202402_补报.csv", ["所属期,纳税人识别号,增值税",
                                                  *[f"2024-02,{uscc(i)},{77 if i == 5 else 10 * i + 2}"
                                                    for i in range(1, 9)]], mtime=2_000_000_000)
    assert run_refresh(raw, url, cache_dir=str(cache)).published
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    assert run_refresh(raw, fresh, cache_dir=str(tmp_path / "cache2")).published
    for t in ("ind_town_year", "pub_town_year"):
        got, want = read_table(url, t), read_table(fresh, t)
        assert got.filter(pl.col("year") == 2024).equals(want.filter(pl.col("year") == 2024)), t
        # 2023's inputs did not change: its rows were not rewritten (they still carry the mark)
        assert got.filter(pl.col("year") == 2023).equals(marked[t].filter(pl.col("year") == 2023)), t
        assert not got.filter(pl.col("year") == 2023).equals(want.filter(pl.col("year") == 2023)), t
    con.close()


def test_enrolment_parts_are_reused_while_their_inputs_stand(tmp_path):
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    _raw(raw)
    assert run_refresh(raw, url, cache_dir=str(cache)).published

    def derived() -> dict[str, int]:
        return {p.name: p.stat().st_mtime_ns for p in (cache / "derived").glob("*.parquet")}

    first = derived()
    # the four indicator and flag parts, and the employers enrolled each year (report_missing)
    parts = {"town_insured", "town_enrolled", "specialty_insured", "employer_december_insured",
             "employer_enrolled_years"}
    assert {n.rsplit("-", 1)[0] for n in first} == parts and len(first) == 5
    # a new tax month: the parts read from the enrolment rows are read back, not rewritten
    write_csv(raw / "tax" / "税收_202404.csv", ["所属期,纳税人识别号,增值税",
                                               *[f"2024-04,{uscc(i)},{i}" for i in range(1, 9)]])
    assert run_refresh(raw, url, cache_dir=str(cache)).published
    assert derived() == first
    # a new December enrolment: person 9 at employer 1 (town TONGCHENG); every part is recomputed
    write_csv(raw / "employment" / "e2.csv", ["所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码",
                                               f"2024-12,{person(9)},{uscc(1)},140823"])
    assert run_refresh(raw, url, cache_dir=str(cache)).published
    after = derived()
    assert len(after) == 5 and not set(after) & set(first), "stale parts reused or kept"
    town = read_table(url, "ind_town_year").filter(pl.col("year") == 2024)
    # employers 1, 3, 5, 7 are in TONGCHENG (odd i), each with one person; person 9 joins employer 1
    assert dict(town.select("town_code", "insured_persons").iter_rows()) == {TONGCHENG: 5, GUOJIAZHUANG: 4}
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    assert run_refresh(raw, fresh, cache_dir=str(tmp_path / "cache2")).published
    for t in ("ind_town_year", "ind_specialty_town_year", "dq_flag"):
        assert read_table(url, t).equals(read_table(fresh, t)), t


def test_rejected_records_of_unchanged_files_are_staged_from_the_cache(tmp_path):
    raw, cache, staging = tmp_path / "raw", tmp_path / "cache", tmp_path / "staging"
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    _raw(raw)
    # one bad enrolment row (a 15-digit person ID) and one bad tax row (no period)
    write_csv(raw / "employment" / "bad.csv", ["所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码",
                                              f"2024-12,{person(9)[:15]},{uscc(1)},140823"])
    write_csv(raw / "tax" / "税收_bad.csv", ["所属期,纳税人识别号,增值税", f",{uscc(1)},5"])
    assert run_refresh(raw, url, cache_dir=str(cache), staging_dir=str(staging)).published
    kept = {p.name.split("-")[1]: p for p in (cache / "derived" / "records").glob("dq_rejected_row-*.parquet")}
    assert sorted(kept) == ["employment", "enterprise", "registry", "tax"]
    emp_kept = kept["employment"]
    emp_stamp = (emp_kept.stat().st_ino, emp_kept.stat().st_mtime_ns)
    assert pl.read_parquet(emp_kept).select("source_row", "column", "rule").rows() == [
        (2, "person_id", "person_id_invalid")]
    # a new tax month with a bad row: the enrolment records are linked from the cache, not remade
    write_csv(raw / "tax" / "税收_202404.csv", ["所属期,纳税人识别号,增值税", f"2024-04,{uscc(2)},一"])
    assert run_refresh(raw, url, cache_dir=str(cache), staging_dir=str(staging)).published
    staged = staging / "ingest" / "employment" / "dq_rejected_row.parquet"
    assert (staged.stat().st_ino, emp_kept.stat().st_mtime_ns) == emp_stamp
    tax_now = list((cache / "derived" / "records").glob("dq_rejected_row-tax-*.parquet"))
    assert len(tax_now) == 1 and tax_now[0] != kept["tax"]  # remade, the old one removed
    # worked out by hand: the three bad cells, published as a fresh refresh publishes them
    rejected = read_table(url, "dq_rejected_row")
    assert sorted(rejected.select("path", "source_row", "rule").rows()) == [
        ("employment/bad.csv", 2, "person_id_invalid"), ("tax/税收_202404.csv", 2, "value_invalid"),
        ("tax/税收_bad.csv", 2, "required_missing")]
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    assert run_refresh(raw, fresh, cache_dir=str(tmp_path / "cache2")).published
    assert rejected.equals(read_table(fresh, "dq_rejected_row"))


def test_taxpayer_sums_are_kept_by_year_and_only_the_changed_year_is_summed_again(tmp_path):
    raw, cache, staging = tmp_path / "raw", tmp_path / "cache", tmp_path / "staging"
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    _raw(raw)  # 2024-01..03: uscc i pays 10 i + m in month m
    write_csv(raw / "tax" / "税收_202312.csv", ["所属期,纳税人识别号,增值税", f"2023-12,{uscc(1)},7", f"2023-12,{uscc(2)},5"])
    assert run_refresh(raw, url, cache_dir=str(cache), staging_dir=str(staging)).published
    yearly = cache / "derived" / "yearly"
    kept = {p.name.split("-")[0]: p for p in yearly.glob("taxpayer_year_*.parquet")}
    assert sorted(kept) == ["taxpayer_year_2023", "taxpayer_year_2024"]
    stamp_2023 = (kept["taxpayer_year_2023"].stat().st_ino, kept["taxpayer_year_2023"].stat().st_mtime_ns)

    # a new April 2024: uscc 1 pays 100 more; 2023 is not summed again
    write_csv(raw / "tax" / "税收_202404.csv", ["所属期,纳税人识别号,增值税", f"2024-04,{uscc(1)},100"])
    assert run_refresh(raw, url, cache_dir=str(cache), staging_dir=str(staging)).published
    now = {p.name.split("-")[0]: p for p in yearly.glob("taxpayer_year_*.parquet")}
    assert sorted(now) == ["taxpayer_year_2023", "taxpayer_year_2024"]
    assert (now["taxpayer_year_2023"].stat().st_ino, now["taxpayer_year_2023"].stat().st_mtime_ns) == stamp_2023
    assert now["taxpayer_year_2024"] != kept["taxpayer_year_2024"] and not kept["taxpayer_year_2024"].exists()

    # the staged sums, worked out by hand: 2023 (7, 5), 2024 sum over m of 10 i + m (+100 for uscc 1)
    staged = pl.read_parquet(staging / "ingest" / "tax" / "taxpayer_year" / "*.parquet")
    got = sorted(staged.select("year", "uscc", "total").rows())
    want = sorted([(2023, uscc(1), 7.0), (2023, uscc(2), 5.0)]
                  + [(2024, uscc(i), float(sum(10 * i + m for m in (1, 2, 3)) + (100 if i == 1 else 0)))
                     for i in range(1, 9)])
    assert got == want
    # and the published indicators equal a refresh from scratch
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    assert run_refresh(raw, fresh, cache_dir=str(tmp_path / "cache2")).published
    assert read_table(url, "ind_town_year").equals(read_table(fresh, "ind_town_year"))
    assert read_table(url, "dq_flag").equals(read_table(fresh, "dq_flag"))
