"""Versions of one source (contract section 2): files ordered by (mtime in whole seconds, path
relative to the raw area); the same bytes twice load once and the later is `duplicate`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.ingest.rawfiles import TONGCHENG, ingest, uscc, write_csv

HEADER = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数"
T = 1_700_000_000  # a whole second


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch):
    monkeypatch.setenv("TOWNSTAT_INGEST_WORKERS", "1")  # no process pool for three small files


def _row(n: int, output: int) -> str:
    return f"2024,{uscc(n)},企业{n},{TONGCHENG},3054,{output},{output},10"


def _touch_ns(path: Path, ns: int) -> None:
    os.utime(path, ns=(ns, ns))


def _current(res) -> dict[str, tuple[float, str]]:
    return {u: (v, f) for u, v, f in res.current.select("uscc", "output_value", "source_file_id").iter_rows()}


def _ids(res) -> dict[str, str]:
    return {o.file.relpath: o.file.file_id for o in res.outcomes}


def _status(res) -> dict[str, tuple[str, int]]:
    return {o.file.relpath: (o.status, o.rows_loaded) for o in res.outcomes}


def test_same_second_is_broken_by_relative_path_not_by_subsecond_mtime_or_name(tmp_path):
    ent = tmp_path / "enterprise"
    a = write_csv(ent / "a.csv", [HEADER, _row(1, 100)])
    b = write_csv(ent / "b.csv", [HEADER, _row(1, 200), _row(2, 200)])
    sub = write_csv(ent / "sub" / "a.csv", [HEADER, _row(2, 300)])
    # One whole second T; the sub-second parts run against the path order:
    # enterprise/a.csv < enterprise/b.csv < enterprise/sub/a.csv
    _touch_ns(a, T * 10**9 + 900_000_000)
    _touch_ns(b, T * 10**9 + 500_000_000)
    _touch_ns(sub, T * 10**9 + 100_000_000)
    res = ingest(tmp_path, "enterprise")
    ids = _ids(res)
    assert _current(res) == {
        uscc(1): (200.0, ids["enterprise/b.csv"]),  # b.csv after a.csv by path
        uscc(2): (300.0, ids["enterprise/sub/a.csv"]),  # 'enterprise/sub/…' after 'enterprise/b.csv'
    }


def test_a_later_whole_second_wins_over_a_later_path(tmp_path):
    ent = tmp_path / "enterprise"
    a = write_csv(ent / "a.csv", [HEADER, _row(1, 100)])
    b = write_csv(ent / "b.csv", [HEADER, _row(1, 200)])
    _touch_ns(a, (T + 1) * 10**9)
    _touch_ns(b, T * 10**9 + 999_000_000)
    res = ingest(tmp_path, "enterprise")
    assert _current(res)[uscc(1)] == (100.0, _ids(res)["enterprise/a.csv"])


def test_duplicate_bytes_where_the_copy_is_older(tmp_path):
    """z_copy.csv holds the bytes of a.csv but is older: z_copy loads, a.csv (the later) is the
    duplicate, and the loaded rows stand at z_copy's place in the version order, so that
    m.csv, between the two, supersedes them."""
    ent = tmp_path / "enterprise"
    write_csv(ent / "a.csv", [HEADER, _row(1, 100), _row(2, 100)], mtime=T + 100)
    shutil.copyfile(ent / "a.csv", ent / "z_copy.csv")
    os.utime(ent / "z_copy.csv", (T, T))
    write_csv(ent / "m.csv", [HEADER, _row(1, 555)], mtime=T + 50)
    res = ingest(tmp_path, "enterprise")
    ids = _ids(res)
    assert _status(res) == {
        "enterprise/z_copy.csv": ("loaded", 2),
        "enterprise/m.csv": ("loaded", 1),
        "enterprise/a.csv": ("duplicate", 0),
    }
    dup = next(o for o in res.outcomes if o.file.relpath == "enterprise/a.csv")
    assert "z_copy.csv" in dup.message
    assert _current(res) == {
        uscc(1): (555.0, ids["enterprise/m.csv"]),
        uscc(2): (100.0, ids["enterprise/z_copy.csv"]),
    }


def test_duplicate_bytes_in_the_same_second_the_later_path_is_the_duplicate(tmp_path):
    ent = tmp_path / "enterprise"
    x = write_csv(ent / "x.csv", [HEADER, _row(1, 100)])
    y = ent / "w.csv"
    shutil.copyfile(x, y)
    _touch_ns(x, T * 10**9 + 100_000_000)
    _touch_ns(y, T * 10**9 + 900_000_000)  # later in the second, but w.csv < x.csv by path
    res = ingest(tmp_path, "enterprise")
    assert _status(res) == {"enterprise/w.csv": ("loaded", 1), "enterprise/x.csv": ("duplicate", 0)}
    assert _current(res) == {uscc(1): (100.0, _ids(res)["enterprise/w.csv"])}
