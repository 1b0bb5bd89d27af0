"""The raw-area sensor: a refresh when files are added, changed or removed, once quiet.

How a tick stays cheap (a tick times out after 60 s): the folder is listed with `stat` only;
a file's sha256 is taken from a small cache keyed by (path, size, mtime_ns, ctime_ns) and
computed only for files that are new or changed since they were last hashed. `ctime` changes
on every write and cannot be set by the copying tool, so an unchanged key means unchanged
bytes. The cache lives in the pipeline's cache folder (`TOWNSTAT_CACHE_DIR`, never the raw
area) and in memory, independently of the cursor; losing it only costs one re-hash.

The area's state is `state_digest` of the same (relpath, sha256, mtime) the run's
`raw/files` asset will read, so the run key changes with the files and with nothing else.

Cursor: `<digest>` after the first request for a state, `<digest>:<n>` after the n-th
automatic retry of a failed run for that state (see `raw_area_sensor`).
"""


import time
from dataclasses import dataclass, field
from pathlib import Path

from dagster import (
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)

from pipelines import settings
from pipelines.defs.executors import job_executor
from pipelines.defs.resources import RawArea
from pipelines.ingest.inventory import (
    HashCache,
    RawFile,
    file_sha256,
    list_raw_area,
    state_digest,
    unreadable_problem,
)

QUIET_SECONDS = settings.DEFAULT_QUIET_SECONDS  # contract section 2: a file must be unchanged for 60 s
SENSOR_INTERVAL_SECONDS = settings.sensor_interval()
HASH_BUDGET_SECONDS = 30.0  # at most this much hashing per tick; the rest continues next tick
DIGEST_TAG = "townstat/raw_digest"  # the full state digest a run was started for
REFRESH_TAG = "townstat/refresh"  # on every run of `refresh`: the run queue allows one at a time



refresh_job = define_asset_job(
    # the yearly backfill asset is partitioned and runs in its own job (`recompute_year`)
    "refresh", selection=AssetSelection.all() - AssetSelection.groups("backfill"),
    description="整个仓库的刷新 / refresh the whole warehouse",
    run_tags={REFRESH_TAG: "warehouse"},
    executor_def=job_executor(),
)


def production() -> bool:
    return settings.production()


def quiet_seconds() -> float:
    """`TOWNSTAT_QUIET_SECONDS` (default 60), read at every tick."""
    return settings.quiet_seconds()


def retry_limit() -> int:
    """`TOWNSTAT_SENSOR_RETRIES` (default 1): automatic re-runs of a failed run for one state."""
    return settings.sensor_retries()


def retry_delay() -> float:
    """`TOWNSTAT_RETRY_DELAY_SECONDS` (default 600): wait after a failure before re-running."""
    return settings.retry_delay()


@dataclass
class RawState:
    """What a tick sees: the digest when every file is quiet and hashed, else why not."""

    exists: bool
    files: list[RawFile] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # changed less than the quiet period ago
    unhashed: list[str] = field(default_factory=list)  # hash budget ran out
    digest: str | None = None


def raw_state(root: Path, cache_dir: str | None = None, now: float | None = None,
              budget: float = HASH_BUDGET_SECONDS) -> RawState:
    root = Path(root)
    if not root.is_dir():
        return RawState(exists=False)
    quiet = quiet_seconds()
    now = time.time() if now is None else now
    entries = list_raw_area(root)
    # A timestamp far in the future (a wrong clock) must not block the area forever.
    busy = [e.relpath for e in entries if -quiet < now - e.changed < quiet]
    state = RawState(exists=True, busy=busy)
    if busy:
        return state
    cache = HashCache(root, cache_dir)
    started = time.monotonic()
    dirty = False
    for e in entries:
        if e.problem is not None:  # a link, a pipe...: listed, never read
            state.files.append(e.refused())
            continue
        sha = cache.get(e)
        if sha is None:
            if time.monotonic() - started > budget:
                state.unhashed.append(e.relpath)
                continue
            try:
                sha = file_sha256(e.path)
            except FileNotFoundError:
                state.busy.append(e.relpath)
                continue
            except OSError as exc:  # unreadable: refused by the refresh, not a reason to wait
                state.files.append(e.refused(unreadable_problem(exc)))
                continue
            cache.put(e, sha)
            dirty = True
        state.files.append(RawFile(e.path, e.relpath, e.source, e.size, e.mtime_ns // 1_000_000_000, sha))
    cache.prune({e.relpath for e in entries})
    if dirty:
        cache.save()
    if not state.unhashed and not state.busy:
        state.digest = state_digest(state.files)
    return state


def wait_reason(state: RawState, quiet: float) -> SkipReason | None:
    if not state.exists:
        return SkipReason("原始区目录不存在，不刷新 / the raw-area folder does not exist: not refreshing")
    if state.busy:
        return SkipReason(f"等待 {len(state.busy)} 个文件静置 {quiet:g} 秒 / waiting for {len(state.busy)} "
                          f"file(s) to be unchanged for {quiet:g}s: {state.busy[:3]}")
    if state.unhashed:
        return SkipReason(f"仍在计算 {len(state.unhashed)} 个文件的哈希，下次继续 / still hashing "
                          f"{len(state.unhashed)} file(s); continuing at the next tick")
    if not state.files:
        return SkipReason("原始区为空，不刷新（避免清空仓库；如确需清空请手动运行 townstat refresh）/ the raw "
                          "area is empty: not refreshing (an unmounted share looks empty too); run "
                          "`townstat refresh` by hand to publish an empty warehouse")
    return None


# -- run history --------------------------------------------------------------------------

def last_run_for_digest(instance: DagsterInstance, digest: str):
    """The newest run of `refresh` started for this state (by the sensor or the schedule)."""
    records = instance.get_run_records(
        filters=RunsFilter(job_name=refresh_job.name, tags={DIGEST_TAG: digest}), limit=1)
    return records[0] if records else None


def last_successful_digest(instance: DagsterInstance) -> tuple[str | None, str | None]:
    """(digest, run_id) of the newest successful `refresh` run that carries a digest tag."""
    records = instance.get_run_records(
        filters=RunsFilter(job_name=refresh_job.name, statuses=[DagsterRunStatus.SUCCESS]), limit=20)
    for r in records:
        digest = r.dagster_run.tags.get(DIGEST_TAG)
        if digest:
            return digest, r.dagster_run.run_id
    return None, None


def parse_cursor(cursor: str | None) -> tuple[str | None, int]:
    if not cursor:
        return None, 0
    digest, _, attempt = cursor.partition(":")
    return digest, int(attempt) if attempt.isdigit() else 0


def request_for(digest: str, attempt: int, reason: str) -> RunRequest:
    return RunRequest(
        run_key=digest if attempt == 0 else f"{digest}:{attempt}",
        tags={DIGEST_TAG: digest, "townstat/trigger": reason},
    )


def evaluate(root: Path, cache_dir: str | None, instance: DagsterInstance | None,
             cursor: str | None, now: float | None = None) -> tuple[RunRequest | SkipReason, str | None]:
    """One tick of the sensor: (what to do, the new cursor)."""
    quiet = quiet_seconds()
    now = time.time() if now is None else now
    state = raw_state(root, cache_dir, now=now)
    wait = wait_reason(state, quiet)
    if wait is not None:
        return wait, cursor
    digest = state.digest
    seen, attempt = parse_cursor(cursor)
    if digest != seen:
        return request_for(digest, 0, "raw_area_changed"), digest
    # Same files as last time: re-request only when the run for them failed.
    record = last_run_for_digest(instance, digest) if instance is not None else None
    if record is None or record.dagster_run.status != DagsterRunStatus.FAILURE:
        status = record.dagster_run.status.value if record else "none"
        return SkipReason(f"原始区未变化，无需刷新 / raw area unchanged since the last request "
                          f"(state {digest[:12]}, last run {status})"), cursor
    run_id = record.dagster_run.run_id
    if attempt >= retry_limit():
        return SkipReason(f"该状态的刷新失败（运行 {run_id[:8]}），自动重试已用完；今晚02:00定时任务会再试，或手动重新运行 / "
                          f"the refresh for this state failed (run {run_id[:8]}) and automatic retries are "
                          f"used up: the nightly schedule retries it, or re-run it by hand"), cursor
    ended = record.end_time or record.update_timestamp.timestamp()
    if now - ended < retry_delay():
        return SkipReason(f"上次刷新失败（运行 {run_id[:8]}），{retry_delay():g} 秒后重试 / the last refresh "
                          f"failed (run {run_id[:8]}); retrying {retry_delay():g}s after it ended"), cursor
    return request_for(digest, attempt + 1, "retry_after_failure"), f"{digest}:{attempt + 1}"


def _default_status() -> DefaultSensorStatus:
    return DefaultSensorStatus.RUNNING if production() else DefaultSensorStatus.STOPPED


@sensor(job=refresh_job, minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=_default_status(),
        description="原始区有文件新增、修改或删除且静置60秒后刷新 / refresh after raw-area changes, "
                    "once every file has been quiet for 60 s (TOWNSTAT_QUIET_SECONDS)")
def raw_area_sensor(context: SensorEvaluationContext, raw_area: RawArea):
    result, cursor = evaluate(raw_area.root, raw_area.cache_dir or None, context.instance, context.cursor)
    if cursor != context.cursor and cursor is not None:
        context.update_cursor(cursor)
    return result
