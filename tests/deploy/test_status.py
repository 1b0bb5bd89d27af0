"""`status_report`: last successful refresh, what failed last, pending files (Chinese first).

The scenario runs in a fresh interpreter: Dagster 1.13 keeps per-process state of earlier
instances (defs-state storage in a ContextVar) that breaks an in-process `materialize` after
other tests closed their instances.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl

from tests.ingest.rawfiles import TONGCHENG, uscc, write_csv

ROOT = Path(__file__).parents[2]
HEADER = "统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),从业人员期末人数"


def _file(raw, name, output):
    return write_csv(raw / "enterprise" / name, [HEADER, f"2024,{uscc(1)},甲,{TONGCHENG},3054,{output},{output},10"])


def scenario(tmp_path: Path) -> None:
    """Runs with DAGSTER_HOME set to a temporary copy of the shipped instance: the refreshes and
    the status read the same instance, as `townstat refresh` and `townstat status` do."""
    import pipelines.defs.indicators as ind
    from pipelines.refresh import run_refresh
    from pipelines.status import open_instance, status_report

    os.environ["TOWNSTAT_CACHE_DIR"] = str(tmp_path / "cache")
    os.environ["TOWNSTAT_REPORTS_DIR"] = str(tmp_path / "reports")  # not the checkout's (cwd)
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    raw = tmp_path / "raw"
    _file(raw, "a.csv", 100)

    assert "最近一次成功刷新：无" in status_report(url, raw)
    assert "待处理文件：1" in status_report(url, raw)

    # A failing stage: the run fails, nothing is published.
    real = ind.town_year
    ind.town_year = lambda *a: pl.concat([real(*a), real(*a)])
    assert not run_refresh(raw, url, staging_dir=str(tmp_path / "s1")).published
    ind.town_year = real
    with open_instance() as instance:
        report = status_report(url, raw, instance=instance)
        assert report.splitlines()[0].startswith("townstat 状态")
        assert "最近一次成功刷新：无" in report
        assert "最近一次失败的刷新" in report and "ind/town_year:key_unique" in report, report

        assert run_refresh(raw, url, staging_dir=str(tmp_path / "s2")).published
        report = status_report(url, raw, instance=instance)
        assert "最近一次成功刷新：20" in report and "(a later refresh succeeded)" in report, report
        assert "待处理文件：无 / pending files: none" in report

    # A new file and a removed one, seen without Dagster history.
    _file(raw, "b.csv", 5)
    (raw / "enterprise" / "a.csv").unlink()
    report = status_report(url, raw)
    assert "已发布，包含 1 个文件" in report
    assert "待处理文件：1" in report and "enterprise/b.csv" in report
    assert "下次刷新时撤出：1" in report and "enterprise/a.csv" in report


def test_status_from_the_instance_and_from_dq_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "TOWNSTAT_"))}
    home = tmp_path / "dagster_home"  # a copy of the shipped instance, never the checkout's
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home)
    env["DAGSTER_HOME"] = str(home)
    code = ("import sys; from pathlib import Path; from tests.deploy.test_status import scenario; "
            "scenario(Path(sys.argv[1]))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-4000:]
