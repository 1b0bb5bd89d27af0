"""The `townstat` command: help, exit codes 0/1/2, and a blocked refresh keeping the old state."""

import subprocess
import sys
from pathlib import Path

import polars as pl

from pipelines import cli
from pipelines.warehouse.read import read_table
from tests.ingest.rawfiles import TONGCHENG, uscc, write_csv

ROOT = Path(__file__).parents[1]


def _raw(root: Path, output: int) -> Path:
    write_csv(root / "enterprise" / "2024.csv", [
        "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数",
        f"2024,{uscc(1)},甲,{TONGCHENG},3054,{output},{output},10"])
    return root


def test_help_describes_every_command():
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "--help"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0
    for command in ("refresh", "demo-data", "status", "db"):
        assert command in out.stdout
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", "refresh", "--help"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert "--raw" in out.stdout and "--warehouse" in out.stdout and "Exit 0" in out.stdout


def test_bad_arguments_exit_2(tmp_path):
    assert cli.main(["refresh", "--no-such-flag"]) == 2
    assert cli.main(["refresh", "--raw", str(tmp_path / "missing")]) == 2
    assert cli.main(["demo-data", "--scale", "planet"]) == 2


def test_published_0_then_blocked_1_keeps_the_previous_state(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    monkeypatch.setenv("TOWNSTAT_CACHE_DIR", str(tmp_path / "cache"))
    assert cli.main(["refresh", "--raw", str(_raw(tmp_path / "a", 100)), "--warehouse", url, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "published" in out and "fact_enterprise_year 1" in out

    # A stage that breaks its key: the blocking check stops publication.
    import pipelines.defs.indicators as ind

    real = ind.town_year
    monkeypatch.setattr(ind, "town_year", lambda *a: pl.concat([real(*a), real(*a)]))
    assert cli.main(["refresh", "--raw", str(_raw(tmp_path / "b", 999)), "--warehouse", url, "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "NOT published" in out and "ind/town_year:key_unique" in out
    assert read_table(url, "fact_enterprise_year")["output_value"].to_list() == [100.0]


def test_explain_and_evaluate_commands(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    monkeypatch.setenv("TOWNSTAT_CACHE_DIR", str(tmp_path / "cache"))
    raw = _raw(tmp_path / "a", 12345)
    assert cli.main(["refresh", "--raw", str(raw), "--warehouse", url, "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["explain", "--indicator", "output_value", "--year", "2024", "--town", TONGCHENG,
                     "--warehouse", url]) == 0
    out = capsys.readouterr().out
    assert "enterprise/2024.csv" in out and "12,345.00" in out and "equal" in out
    assert cli.main(["explain", "--indicator", "no_such", "--year", "2024", "--town", TONGCHENG,
                     "--warehouse", url]) == 2
    # no specialty towns in this raw area: no evaluation for 2024, said plainly, exit 1
    assert cli.main(["evaluate", "--year", "2024", "--warehouse", url]) == 1
    assert "2024" in capsys.readouterr().out
