"""The raw area belongs to the bureau (contract section 2): a refresh reads it and never
writes, moves or deletes anything in it. Every entry is fingerprinted (kind, mode, size,
mtime, ctime, inode, SHA-256 of the bytes, link target) before and after two refreshes, the
second one from the ingest cache."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

from pipelines.refresh import run_refresh
from pipelines.warehouse.read import read_table
from tests.ingest.rawfiles import GUOJIAZHUANG, TONGCHENG, person, uscc, write_csv, write_xlsx

ENT = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数"


def _fingerprint(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):  # links are not followed
        for name in sorted(dirs) + sorted(files):
            p = Path(folder) / name
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if stat.S_ISREG(st.st_mode):
                extra = hashlib.sha256(p.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(p)
            else:
                extra = tuple(sorted(os.listdir(p)))
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_ino,
                        0 if stat.S_ISDIR(st.st_mode) else st.st_size,
                        st.st_mtime_ns, st.st_ctime_ns, extra)
    top = root.lstat()
    out["."] = (top.st_ino, top.st_mode, top.st_mtime_ns, top.st_ctime_ns, tuple(sorted(os.listdir(root))))
    return out


def _raw_area(raw: Path, outside: Path) -> None:
    write_csv(raw / "enterprise" / "2024.csv", [
        "2024年企业年报", "单位：万元", ENT.replace("(元)", ""),
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,2500,2500,10",
        f"2024,{uscc(2)},乙,{GUOJIAZHUANG},C1713,30,30,5",
        f"2024,{uscc(3)},丙,999999999,3054,1,1,1",  # rejected row
        ",,合计,,,2531,2531,16",
    ], encoding="gbk", mtime=1_700_000_000)
    write_xlsx(raw / "enterprise" / "2023" / "old.xlsx", [
        ["统计年度", "统一社会信用代码", "单位详细名称", "乡镇代码", "行业代码", "工业总产值(元)", "营业收入(元)", "从业人员期末人数"],
        [2023, uscc(1), "甲", 140823100, 3054, 1e7, 1e7, 9],
    ], mtime=1_690_000_000)
    shutil.copyfile(raw / "enterprise" / "2024.csv", raw / "enterprise" / "2024_copy.csv")  # duplicate
    write_csv(raw / "tax" / "t.csv", [
        "税款所属期,纳税人识别号,增值税,企业所得税,其他税收,税收合计,开票销售额",
        f"2024-01,{uscc(1)},100,50,,,1000", f"2024-13,{uscc(2)},1,1,1,,"])
    write_csv(raw / "employment" / "m.csv", [
        "费款所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码,缴费基数",
        f"2024-12,{person(1)},{uscc(1)},140823,4000", f"2024-12,{person(2)}0,{uscc(1)},140823,4000"])
    write_csv(raw / "registry" / "r.csv", [
        "统一社会信用代码,名称,市场主体类型,乡镇代码,行业代码,成立日期,注销日期",
        f"{uscc(1)},甲,企业,{TONGCHENG},3054,2010-01-01,", f"{uscc(4)},丁,个体工商户,{TONGCHENG},5211,20200315,"])
    write_csv(raw / "reference" / "specialty_towns.csv", [
        "id,name,county_code,host_town_codes,category,heritage,national_market,core_industry_codes,supporting_industry_codes",
        f"S1,玻璃,140823,{TONGCHENG},manufacturing,否,是,3054,1713"])
    (raw / "enterprise" / "说明.pdf").write_bytes(b"%PDF-1.4 not a table")
    (raw / "stray.csv").write_text("x,y\n1,2\n")
    (raw / "tax" / "~$t.xlsx").write_bytes(b"lock")
    (raw / "tax" / ".hidden.csv").write_text("hidden")
    (raw / "tax" / "copying.csv.part").write_text("half a file")
    (raw / "registry" / "empty_folder").mkdir()
    target = outside / "elsewhere.csv"
    target.write_text("统计年度,统一社会信用代码,单位详细名称\n")
    (raw / "enterprise" / "link.csv").symlink_to(target)
    (raw / "tax" / "readonly.csv").write_text(f"所属期,纳税人识别号,增值税\n2024-02,{uscc(5)},5\n")
    (raw / "tax" / "readonly.csv").chmod(0o444)


def _unchanged(before: dict, after: dict) -> list:
    return [(k, before.get(k), after.get(k)) for k in sorted(before.keys() | after.keys())
            if before.get(k) != after.get(k)]


def test_a_refresh_leaves_every_byte_of_the_raw_area_alone(tmp_path):
    raw, outside = tmp_path / "raw", tmp_path / "outside"
    outside.mkdir()
    _raw_area(raw, outside)
    # m.csv, older than 2024.csv, revises firm 1's 2024 row: 2024.csv supersedes it
    write_csv(raw / "enterprise" / "m.csv", [ENT, f"2024,{uscc(1)},甲,{TONGCHENG},3054,7777,7777,10"],
              mtime=1_650_000_000)
    url, cache = f"sqlite:///{tmp_path / 'w.sqlite'}", str(tmp_path / "cache")
    before, outside_before = _fingerprint(raw), _fingerprint(outside)

    assert run_refresh(raw, url, cache_dir=cache).published
    assert not _unchanged(before, _fingerprint(raw))
    assert _fingerprint(outside) == outside_before
    files = dict(read_table(url, "dq_file").select("path", "status").iter_rows())
    assert files["enterprise/2024.csv"] == "loaded" and files["enterprise/2024_copy.csv"] == "duplicate"
    assert files["enterprise/link.csv"] == "rejected" and files["stray.csv"] == "rejected"
    fact = read_table(url, "fact_enterprise_year")
    assert fact.height == 3
    assert fact.filter(year=2024, uscc=uscc(1))["output_value"].to_list() == [25_000_000.0]

    # A copy of 2024.csv that is OLDER than m.csv (copied keeping its times, say): the copy
    # loads at its own place in the order, 2024.csv becomes the duplicate, m.csv now wins.
    shutil.copyfile(raw / "enterprise" / "2024.csv", raw / "enterprise" / "zz_old_copy.csv")
    os.utime(raw / "enterprise" / "zz_old_copy.csv", (1_600_000_000, 1_600_000_000))
    before = _fingerprint(raw)
    assert run_refresh(raw, url, cache_dir=cache).published  # from the ingest cache
    assert not _unchanged(before, _fingerprint(raw))
    assert _fingerprint(outside) == outside_before
    files = {p: (st, n) for p, st, n in read_table(url, "dq_file").select("path", "status", "rows_loaded").iter_rows()}
    assert {p: v for p, v in files.items() if p.startswith("enterprise/") and p.endswith(".csv") and "link" not in p} == {
        "enterprise/zz_old_copy.csv": ("loaded", 2),
        "enterprise/m.csv": ("loaded", 1),
        "enterprise/2024.csv": ("duplicate", 0),
        "enterprise/2024_copy.csv": ("duplicate", 0),
    }
    fact = read_table(url, "fact_enterprise_year")
    assert fact.filter(year=2024, uscc=uscc(1))["output_value"].to_list() == [7777.0]
