"""Run every asset through Dagster in process and say what happened.

Used by `townstat refresh` and the tests. A blocking check that fails stops the assets
downstream of it, so `warehouse/published` does not run and the warehouse keeps its
previous state.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from dagster import DagsterEventType, DagsterInstance, materialize
from sqlalchemy import inspect

from pipelines import settings
from pipelines.definitions import ASSETS, build_definitions
from pipelines.defs.resources import expectations_enabled
from pipelines.ingest.pseudonymise import UnsafePIIKey, pii_key
from pipelines.preload import preload_slow_imports
from pipelines.status import open_instance
from pipelines.warehouse.engine import make_engine
from pipelines.warehouse.read import published_row_counts
from pipelines.warehouse.tables import table_names


@dataclass
class RefreshOutcome:
    published: bool
    seconds: float
    failed_checks: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    warehouse_url: str = ""
    run_id: str = ""
    step_seconds: dict[str, float] = field(default_factory=dict)
    # rows loaded per table by the publication; -1: the table was unchanged and kept
    tables: dict[str, int] = field(default_factory=dict)

    @property
    def nothing_new(self) -> bool:
        return self.published and bool(self.tables) and all(n < 0 for n in self.tables.values())

    def summary_text(self) -> str:
        lines = []
        if self.nothing_new:
            lines.append(f"无新内容：每张表都与上次发布相同，未改动数据仓库 / nothing new: every table equals "
                         f"its last publication; the warehouse was left as it was ({self.seconds:.1f}s)")
        elif self.published:
            kept = sorted(t for t, n in self.tables.items() if n < 0)
            lines.append(f"已发布 / published in {self.seconds:.1f}s (run {self.run_id[:8]})")
            if kept:
                lines.append(f"  未变、保留的表 unchanged tables kept: {', '.join(kept)}")
            for s in self.failed_steps:
                lines.append(f"  发布后的步骤失败 step failed after publication: {s}")
        else:
            lines.append("未发布：阻断性检查未通过或步骤失败，数据仓库保持上一次的状态 / NOT published: a "
                         "blocking check or a step failed; the warehouse keeps its previous state")
            for c in self.failed_checks:
                lines.append(f"  检查未通过 failed check: {c}")
            for s in self.failed_steps:
                lines.append(f"  步骤失败 failed step: {s}")
        lines.append(warehouse_status(self.warehouse_url))
        return "\n".join(lines)


def _instance(stack: ExitStack) -> DagsterInstance:
    """The project's Dagster instance (`DAGSTER_HOME`, else ./dagster_home), so the run, its
    materialisations and check results show in `make ui` and `townstat status`."""
    return stack.enter_context(open_instance())


def run_refresh(raw_dir: Path, warehouse_url: str, progress: Callable[[str], None] | None = None,
                cache_dir: str | None = None, staging_dir: str | None = None,
                reports_dir: str | None = None) -> RefreshOutcome:


    t0 = time.time()
    preload_slow_imports(expectations_enabled())
    try:
        pii_key()
    except UnsafePIIKey as exc:
        return RefreshOutcome(False, 0.0, failed_steps=[str(exc)], warehouse_url=warehouse_url)
    with ExitStack() as stack:
        # TOWNSTAT_STAGING_DIR keeps the staged frames (for inspection); default: a temporary folder
        staging = staging_dir or settings.staging_dir_given() or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="townstat-staging-"))
        defs = build_definitions(raw_dir=str(raw_dir), warehouse_url=warehouse_url, staging_dir=staging,
                                 cache_dir=cache_dir, reports_dir=reports_dir)
        resources = defs.resources
        instance = _instance(stack)
        if progress:
            progress(f"刷新开始 / refresh starting: raw={raw_dir} warehouse={_safe(warehouse_url)}")
        # Dagster's console logger shows each file as it is read (INFO); DEBUG events are noise here.
        log_level = "INFO" if progress else "ERROR"
        result = materialize(ASSETS, resources=resources, instance=instance, raise_on_error=False,
                             tags={"townstat/trigger": "cli"},
                             run_config={"loggers": {"console": {"config": {"log_level": log_level}}}})
        failed_checks, failed_steps, done = [], [], []
        steps: dict[str, float] = {}
        for ev in result.all_events:
            if ev.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                data = ev.event_specific_data
                if not data.passed:
                    failed_checks.append(f"{data.asset_key.to_user_string()}:{data.check_name}")
            elif ev.event_type == DagsterEventType.STEP_FAILURE:
                failed_steps.append(f"{ev.step_key}: {ev.event_specific_data.error.message.strip()[:300]}")
            elif ev.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                done.append(ev.asset_key.to_user_string())
            elif ev.event_type == DagsterEventType.STEP_SUCCESS:
                steps[ev.step_key] = ev.event_specific_data.duration_ms / 1000
        if progress:
            progress(f"资产 assets materialised: {len(done)}/{len(ASSETS)} ({time.time() - t0:.1f}s)")
            slowest = sorted(steps.items(), key=lambda kv: -kv[1])
            progress("步骤耗时 step times: " + ", ".join(f"{k} {v:.1f}s" for k, v in slowest))
        # reports come after publication: their failure is reported, the warehouse stands
        published = "warehouse/published" in done
        tables = result.output_for_node("warehouse__published") if published else {}
        return RefreshOutcome(published, time.time() - t0, failed_checks, failed_steps, warehouse_url,
                              result.run_id, steps, tables)


def _safe(url: str) -> str:
    """A URL without its password, for printing."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def warehouse_status(url: str) -> str:
    """Files loaded and rejected, rows rejected by rule, tables published: Chinese first."""


    engine = make_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
        if "dq_file" not in names:
            return "数据仓库为空（尚未刷新）/ the warehouse is empty (never refreshed)"
        with engine.connect() as conn:
            files = pl.read_database("select status, count(*) as n from dq_file group by status order by status",
                                     conn)
            rules = pl.read_database('select rule, count(*) as n from dq_rejected_row group by rule order by rule',
                                     conn)

            recorded = published_row_counts(conn)
            counts = {}
            for t in table_names():
                if t in names:
                    counts[t] = recorded[t] if t in recorded else \
                        pl.read_database(f'select count(*) as n from "{t}"', conn)["n"][0]
    finally:
        engine.dispose()
    out = ["文件 files: " + ", ".join(f"{s} {n}" for s, n in files.iter_rows())]
    out.append("拒收行（按规则）rows rejected by rule: "
               + (", ".join(f"{r} {n}" for r, n in rules.iter_rows()) or "none"))
    out.append("已发布表 tables published: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    return "\n".join(out)
