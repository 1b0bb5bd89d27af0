"""Unattended nights (issue 12, contract v4 sections 2-4): whatever sits in the raw area, the
refresh publishes, every entry it cannot use is listed in dq_file as rejected with the reason,
and the valid files give exactly the rows they give without the hostile ones."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from pipelines.refresh import run_refresh
from pipelines.warehouse.read import read_table
from pipelines.warehouse.tables import table_names
from tests.ingest.rawfiles import GUOJIAZHUANG, TONGCHENG, person, uscc, write_csv, write_xlsx

ENTERPRISE_HEADER = ("统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),"
                     "从业人员期末人数")
TAX_HEADER = "所属期,纳税人识别号,增值税"
ENROLMENT_HEADER = "所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码"


def clean_area(root: Path) -> None:
    """Eight enterprises, three tax months, one enrolment month: the control area."""
    rows = [f"2024,{uscc(i)},企业{i},{TONGCHENG if i % 2 else GUOJIAZHUANG},3054,{1000 * i},"
            f"{30_000_000 * (i % 3)},{i}" for i in range(1, 9)]
    write_csv(root / "enterprise" / "reports.csv", [ENTERPRISE_HEADER, *rows], mtime=1_700_000_000)
    for m in (1, 2, 3):
        write_csv(root / "tax" / f"税收_2024{m:02d}.csv",
                  [TAX_HEADER, *[f"2024-{m:02d},{uscc(i)},{10 * i + m}" for i in range(1, 9)]],
                  mtime=1_700_000_000 + m)
    write_csv(root / "employment" / "e.csv",
              [ENROLMENT_HEADER, *[f"2024-12,{person(i)},{uscc(i)},140823" for i in range(1, 9)]],
              mtime=1_700_000_100)


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging (a named pipe opened for reading blocks until a writer comes)."""
    def expired(signum, frame):
        raise TimeoutError(f"the refresh did not finish within {seconds} s (blocked on an entry?)")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def refresh(raw: Path, tmp: Path, name: str) -> tuple[str, list[str]]:
    url = f"sqlite:///{tmp / f'{name}.sqlite'}"
    lines: list[str] = []
    with deadline(240):
        outcome = run_refresh(raw, url, progress=lines.append, cache_dir=str(tmp / f"{name}-cache"),
                              reports_dir=str(tmp / f"{name}-reports"))
    assert outcome.published, outcome.failed_steps + outcome.failed_checks
    return url, lines


def tables(url: str, skip: tuple[str, ...] = ()) -> dict[str, pl.DataFrame]:
    return {t: read_table(url, t) for t in table_names() if t not in skip}


def assert_same_tables(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        key = a[name].columns
        left, right = a[name].sort(key, nulls_last=True), b[name].sort(key, nulls_last=True)
        assert left.equals(right), f"{name} differs:\n{left}\n{right}"


def test_entries_that_are_not_regular_files_are_refused_and_the_rest_loads(tmp_path, monkeypatch):
    control_raw, raw = tmp_path / "control", tmp_path / "raw"
    clean_area(control_raw)
    clean_area(raw)
    control, _ = refresh(control_raw, tmp_path, "control")

    outside = tmp_path / "outside"
    # rows that would replace the bureau's own February if the link were followed
    write_csv(outside / "feb.csv", [TAX_HEADER, *[f"2024-02,{uscc(i)},99999" for i in range(1, 9)]])
    tax = raw / "tax"
    planted = {
        "tax/loop.csv": "symbolic link",
        "tax/outside.csv": "symbolic link",
        "tax/dangling.csv": "symbolic link",
        "tax/folder": "symbolic link",
        "employment/pipe.csv": "named pipe",
        "tax/sock.csv": "socket",
        "tax/bad\ufffdname.csv": "control character",  # the name as stored: the control shown
    }
    os.symlink("loop.csv", tax / "loop.csv")
    os.symlink(outside / "feb.csv", tax / "outside.csv")
    os.symlink(tmp_path / "nowhere.csv", tax / "dangling.csv")
    os.symlink(outside, tax / "folder")
    os.mkfifo(raw / "employment" / "pipe.csv")
    monkeypatch.chdir(tax)  # a unix socket's path must be short: bind it relative to its folder
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("sock.csv")
    shutil.copy(tax / "税收_202401.csv", tax / "bad\x01name.csv")
    # a name that is not UTF-8 (GBK bytes of 税收)
    (Path(os.fsdecode(bytes(tax) + b"/\xd6\xd0\xce\xc4.csv"))).write_bytes((tax / "税收_202402.csv").read_bytes())
    planted["tax/\ufffd\ufffd\ufffd\ufffd.csv"] = "not UTF-8"
    with contextlib.suppress(PermissionError):  # a device needs CAP_MKNOD (root in CI has it)
        os.mknod(tax / "null.csv", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        planted["tax/null.csv"] = "device"
    try:
        url, log = refresh(raw, tmp_path, "hostile")
    finally:
        sock.close()

    # every valid number equals the control case: facts, indicators, evaluation, publication
    dq = ("dq_file", "dq_rejected_row", "dq_flag")
    assert_same_tables(tables(control, dq), tables(url, dq))
    dq_file = read_table(url, "dq_file")
    refused = dq_file.filter(~pl.col("path").is_in(read_table(control, "dq_file")["path"].implode()))
    assert sorted(refused["path"].to_list()) == sorted(planted)
    for path, words in planted.items():
        row = refused.filter(pl.col("path") == path).row(0, named=True)
        assert row["status"] == "rejected", row
        assert words in row["message"], row
        assert row["rows_read"] == 0 and row["sha256"] is None
    # messages name raw-relative paths only
    assert not dq_file.filter(pl.col("message").str.contains(str(tmp_path), literal=True)).height
    assert not any(str(outside) in line for line in log)


def test_a_control_character_or_an_overlong_cell_is_value_invalid_and_nothing_is_stripped(tmp_path):
    raw = tmp_path / "raw"
    clean_area(raw)
    # January re-sent: row 3 (uscc 2) with a NUL inside its amount, row 5 (uscc 4) with a bell
    rows = [f"2024-01,{uscc(i)},{10 * i + 1}" for i in range(1, 9)]
    rows[1] = f"2024-01,{uscc(2)},155\x0042.46"
    rows[3] = f"2024-01,{uscc(4)},4\x071"
    write_csv(raw / "tax" / "税收_202401_补报.csv", [TAX_HEADER, *rows], mtime=1_700_000_050)
    # an xlsx holds at most 32,767 characters a cell (xlsxwriter cuts longer ones): a CSV then
    write_csv(raw / "enterprise" / "补报.csv", [
        ENTERPRISE_HEADER,
        f"2023,{uscc(1)},{'厂' * 32_768},{TONGCHENG},3054,5,5,1",
        f"2023,{uscc(5)},{'厂' * 32_767},{TONGCHENG},3054,6,6,1",
    ], mtime=1_700_000_055)
    write_xlsx(raw / "enterprise" / "补报.xlsx", [
        ENTERPRISE_HEADER.split(","),
        [2023, uscc(2), "正常企业", TONGCHENG, "3054", 7, 7, 2],
        [2023, uscc(3), "企业\x1f三", TONGCHENG, "3054", 9, 9, 3],
    ], mtime=1_700_000_060)
    url, _ = refresh(raw, tmp_path, "w")

    rej = read_table(url, "dq_rejected_row").sort("path", "source_row")
    got = set(rej.select("path", "source_row", "column", "rule").iter_rows())
    assert got == {
        ("tax/税收_202401_补报.csv", 3, "vat", "value_invalid"),
        ("tax/税收_202401_补报.csv", 5, "vat", "value_invalid"),
        ("enterprise/补报.csv", 2, "name", "value_invalid"),
        ("enterprise/补报.xlsx", 3, "name", "value_invalid"),
    }
    shown = dict(((p, r), v) for p, r, v in rej.select("path", "source_row", "value").iter_rows())
    assert shown[("tax/税收_202401_补报.csv", 3)] == "155\ufffd42.46"  # shown, never 15542.46
    assert shown[("tax/税收_202401_补报.csv", 5)] == "4\ufffd1"
    assert shown[("enterprise/补报.xlsx", 3)] == "企业\ufffd三"
    assert shown[("enterprise/补报.csv", 2)] == "厂" * 200 + "…"  # echoed short
    tax = read_table(url, "fact_tax_month").filter(pl.col("period") == "2024-01")
    # the re-sent file wins where its row is valid; uscc 2 and 4 keep the first file's amounts
    expected = {uscc(i): float(10 * i + 1) for i in range(1, 9)}
    assert dict(tax.select("uscc", "vat").iter_rows()) == expected
    ent = read_table(url, "fact_enterprise_year").filter(pl.col("year") == 2023).sort("uscc")
    assert ent["uscc"].to_list() == sorted([uscc(2), uscc(5)])  # 32,767 characters are allowed
    assert ent.filter(pl.col("uscc") == uscc(5))["name"].str.len_chars().to_list() == [32_767]
    # nothing anywhere holds a control character
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    for t in table_names():
        for (col, typ) in [(r[1], r[2]) for r in con.execute(f'PRAGMA table_info("{t}")')]:
            if "CHAR" in typ.upper() or "TEXT" in typ.upper():
                n = con.execute(f'SELECT count(*) FROM "{t}" WHERE instr("{col}", char(0)) > 0 '
                                f'OR instr("{col}", char(7)) > 0 OR instr("{col}", char(31)) > 0').fetchone()[0]
                assert n == 0, (t, col)
    con.close()
