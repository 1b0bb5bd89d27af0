"""The nightly safety-net refresh at 02:00 Beijing time.

It refreshes when the raw area differs from what the last successful `refresh` run read
(so a change the sensor missed, or a state whose run failed, is refreshed once a night),
and otherwise skips, saying why. Files still being copied wait for the sensor.
"""


from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from pipelines.defs.resources import RawArea
from pipelines.defs.sensors import (
    last_successful_digest,
    production,
    quiet_seconds,
    raw_state,
    refresh_job,
    request_for,
    wait_reason,
)


def _default_status() -> DefaultScheduleStatus:
    return DefaultScheduleStatus.RUNNING if production() else DefaultScheduleStatus.STOPPED


def nightly_decision(context: ScheduleEvaluationContext, raw_area: RawArea) -> RunRequest | SkipReason:
    state = raw_state(raw_area.root, raw_area.cache_dir or None)
    wait = wait_reason(state, quiet_seconds())
    if wait is not None:
        return wait
    done, run_id = last_successful_digest(context.instance)
    if done == state.digest:
        return SkipReason(f"自上次成功刷新（运行 {run_id[:8]}）以来原始区没有变化，无需刷新 / nothing new "
                          f"since the last successful refresh (run {run_id[:8]})")
    request = request_for(state.digest, 0, "nightly")
    # No run key: each night's tick is its own request (a failed state is retried nightly).
    return RunRequest(tags=request.tags)


@schedule(name="nightly_refresh", job=refresh_job, cron_schedule="0 2 * * *",
          execution_timezone="Asia/Shanghai", default_status=_default_status(),
          description="每晚02:00（北京时间）在原始区有变化时刷新 / nightly refresh at 02:00 "
                      "Asia/Shanghai when the raw area changed since the last successful refresh")
def nightly_refresh(context: ScheduleEvaluationContext, raw_area: RawArea):
    return nightly_decision(context, raw_area)
