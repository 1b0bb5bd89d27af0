"""`townstat status`: the last successful refresh, what failed last, which files wait.

Chinese first, English after each line. With a Dagster instance the refresh history comes
from its runs (job `refresh`, or any run that materialised `warehouse/published`, e.g. a
`townstat refresh`); without one, from the warehouse's `dq_file`.

`open_instance()` opens the project's one Dagster instance, shared by `townstat refresh`,
`townstat status`, `make run`, `make ui` and the sensor: `DAGSTER_HOME`, else `./dagster_home`
(whose `dagster.yaml` is tracked in git).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from pipelines import settings
from pipelines.ingest.inventory import scan_raw_area
from pipelines.warehouse.read import read_table

TZ = ZoneInfo("Asia/Shanghai")
REFRESH_JOB = "refresh"
PUBLISHED_KEY = ("warehouse", "published")
MAX_LISTED = 20


#: The instance configuration the project ships (local storage, telemetry off, tick retention).
SHIPPED_INSTANCE_YAML = Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml"


def make_instance_folder(folder: Path) -> Path:
    """A Dagster instance folder with the shipped `dagster.yaml` (SQLite in that folder,
    telemetry off); `folder` and its parents are made when missing."""
    folder.mkdir(parents=True, exist_ok=True)
    if SHIPPED_INSTANCE_YAML.is_file():
        (folder / "dagster.yaml").write_bytes(SHIPPED_INSTANCE_YAML.read_bytes())
    return folder


@contextmanager
def open_instance() -> Iterator[DagsterInstance]:
    """The project's Dagster instance, disposed on exit: the folder `DAGSTER_HOME` names, else
    `<working directory>/dagster_home`. Its `dagster.yaml` decides the storage: SQLite files in
    that folder for the shipped one, PostgreSQL for `deploy/dagster.yaml`. A folder that does not
    exist yet (a refresh run from another working directory) is made with the shipped
    `dagster.yaml`, so that it, too, sends no telemetry."""
    home = Path(settings.dagster_home_dir())
    if not home.exists():
        make_instance_folder(home)
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


def _when(ts: float | None) -> str:
    if ts is None:
        return "时间未知 / time unknown"
    return dt.datetime.fromtimestamp(ts, TZ).strftime("%Y-%m-%d %H:%M:%S") + " (北京时间 Asia/Shanghai)"


def _trigger(tags: dict) -> str:
    if "dagster/sensor_name" in tags:
        return f"传感器 sensor {tags['dagster/sensor_name']}"
    if "dagster/schedule_name" in tags:
        return f"定时任务 schedule {tags['dagster/schedule_name']}"
    return "手动 manual"


def _is_refresh(run) -> bool:

    if run.job_name == REFRESH_JOB or "townstat/trigger" in run.tags:  # sensor, schedule, CLI
        return True
    return bool(run.asset_selection) and AssetKey(list(PUBLISHED_KEY)) in run.asset_selection


def _refresh_records(instance: DagsterInstance, statuses, limit: int = 50):

    records = instance.get_run_records(filters=RunsFilter(statuses=statuses), limit=limit)
    return [r for r in records if _is_refresh(r.dagster_run)]


def _first_line(message: str, limit: int = 300) -> str:
    line = " ".join((message or "").strip().splitlines()[:1]).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def failure_details(instance: DagsterInstance, run_id: str) -> list[str]:
    """Failed steps with their error, failed blocking checks, the run failure message."""

    out: list[str] = []
    events = instance.all_logs(run_id, of_type={DagsterEventType.STEP_FAILURE,
                                                DagsterEventType.ASSET_CHECK_EVALUATION,
                                                DagsterEventType.RUN_FAILURE})
    for entry in events:
        ev = entry.dagster_event
        if ev is None:
            continue
        if ev.event_type == DagsterEventType.STEP_FAILURE:
            err = getattr(ev.event_specific_data, "error", None)
            msg = _first_line(err.message if err else ev.message or "")
            out.append(f"步骤失败 failed step {ev.step_key}: {msg}")
        elif ev.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            data = ev.event_specific_data
            if data is not None and not data.passed:
                out.append(f"检查未通过 failed check {data.asset_key.to_user_string()}:{data.check_name}")
        elif ev.event_type == DagsterEventType.RUN_FAILURE and not out:
            out.append(f"运行失败 run failure: {_first_line(ev.message or '')}")
    return out


def _history_lines(instance: DagsterInstance) -> list[str]:

    lines: list[str] = []
    event = instance.get_latest_materialization_event(AssetKey(list(PUBLISHED_KEY)))
    ok = _refresh_records(instance, [DagsterRunStatus.SUCCESS], limit=10)
    candidates = []
    if event is not None:
        run = instance.get_run_by_id(event.run_id)
        candidates.append((event.timestamp, event.run_id, dict(run.tags) if run else {}))
    if ok:
        r = ok[0]
        candidates.append((r.end_time or r.update_timestamp.timestamp(), r.dagster_run.run_id,
                           dict(r.dagster_run.tags)))
    if candidates:
        ts, run_id, tags = max(candidates, key=lambda c: c[0])
        lines.append(f"最近一次成功刷新：{_when(ts)}，运行 {run_id[:8]}，触发：{_trigger(tags)} / "
                     f"last successful refresh: {_when(ts)}, run {run_id}")
        last_ok = ts
    else:
        lines.append("最近一次成功刷新：无 / last successful refresh: none recorded in this Dagster instance")
        last_ok = None

    running = _refresh_records(instance, [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED,
                                          DagsterRunStatus.STARTING, DagsterRunStatus.STARTED], limit=10)
    for r in running:
        lines.append(f"进行中：运行 {r.dagster_run.run_id[:8]}（{r.dagster_run.status.value}）/ in progress: "
                     f"run {r.dagster_run.run_id} ({r.dagster_run.status.value})")

    failed = _refresh_records(instance, [DagsterRunStatus.FAILURE], limit=10)
    if failed:
        r = failed[0]
        ts = r.end_time or r.update_timestamp.timestamp()
        later = last_ok is not None and last_ok > ts
        note = ("（之后已有成功刷新）/ (a later refresh succeeded)" if later
                else "（仓库保持上一次发布的状态；传感器在重试延迟后或今晚02:00定时任务会重试，也可手动重新运行）/ "
                     "(the warehouse keeps its previous publication; the sensor retries after its delay, "
                     "the 02:00 schedule retries nightly, or re-run it by hand)")
        lines.append(f"最近一次失败的刷新：{_when(ts)}，运行 {r.dagster_run.run_id[:8]} {note} / "
                     f"last failed refresh: run {r.dagster_run.run_id}")
        details = failure_details(instance, r.dagster_run.run_id)
        lines += [f"  {d}" for d in details] or ["  （无失败详情 / no failure details recorded）"]
    else:
        lines.append("最近一次失败的刷新：无 / last failed refresh: none")
    return lines


def _dq_file(url: str):


    try:
        return read_table(url, "dq_file")
    except Exception:  # never published: no dq_file table yet
        return pl.DataFrame(schema={"file_id": pl.String, "path": pl.String, "status": pl.String,
                                    "mtime": pl.Datetime("us", "UTC")})


def _warehouse_lines(dq) -> list[str]:
    """Without Dagster history: what the warehouse's dq_file says about the last publication."""
    if dq.height == 0:
        return ["最近一次成功刷新：无（数据仓库为空）/ last successful refresh: none (the warehouse is empty)",
                "最近一次失败的刷新：未知（未提供 Dagster 实例）/ last failed refresh: unknown (no Dagster "
                "instance given)"]
    present = dq.filter(dq["status"] != "removed")
    newest = present["mtime"].max() if present.height else None
    newest_txt = (newest.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S") if newest is not None else "—")
    counts = present.group_by("status").len().sort("status").iter_rows()
    by_status = ", ".join(f"{s} {n}" for s, n in counts)
    return [f"最近一次成功刷新：已发布，包含 {present.height} 个文件（{by_status}），其中最新文件修改于 "
            f"{newest_txt}（北京时间）；发布时间需查看 Dagster 实例 / last successful refresh: published, "
            f"{present.height} files ({by_status}), newest file modified {newest_txt} Asia/Shanghai; the "
            f"publication time is in the Dagster instance",
            "最近一次失败的刷新：未知（未提供 Dagster 实例）/ last failed refresh: unknown (no Dagster "
            "instance given)"]


def pending_lines(dq, raw_dir: Path) -> list[str]:
    """Files in the raw area the warehouse does not reflect yet, and files gone from it."""

    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        return [f"待处理文件：原始区 {raw_dir} 不存在 / pending files: the raw area {raw_dir} does not exist"]
    files = scan_raw_area(raw_dir)
    known = set(dq.filter(dq["status"] != "removed")["file_id"].to_list())
    pending = [f for f in files if f.file_id not in known]
    present = {f.file_id for f in files}
    gone = [p for fid, p in dq.filter(dq["status"] != "removed").select("file_id", "path").iter_rows()
            if fid not in present]
    lines: list[str] = []
    if pending:
        lines.append(f"待处理文件：{len(pending)} 个（在原始区中，但仓库中没有相同内容的记录）/ pending files: "
                     f"{len(pending)} (in the raw area, not in dq_file with the same path and sha256)")
        lines += [f"  {f.relpath}  {f.bytes} B  sha256 {f.sha256[:12]}" for f in pending[:MAX_LISTED]]
        if len(pending) > MAX_LISTED:
            lines.append(f"  … 另有 {len(pending) - MAX_LISTED} 个 / … and {len(pending) - MAX_LISTED} more")
    else:
        lines.append("待处理文件：无 / pending files: none")
    if gone:
        lines.append(f"已从原始区移除、下次刷新时撤出：{len(gone)} 个 / removed from the raw area, withdrawn at "
                     f"the next refresh: {len(gone)}")
        lines += [f"  {p}" for p in gone[:MAX_LISTED]]
    return lines


def status_report(url: str, raw_dir: Path, instance: DagsterInstance | None = None) -> str:
    """Last successful refresh, what failed in the last failed run, pending files."""
    dq = _dq_file(url)
    lines = ["townstat 状态 / status"]
    lines += _history_lines(instance) if instance is not None else _warehouse_lines(dq)
    lines += pending_lines(dq, Path(raw_dir))
    return "\n".join(lines)
