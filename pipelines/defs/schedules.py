"""The nightly safety-net refresh at 02:00 Beijing time."""


import os

from dagster import DefaultScheduleStatus, ScheduleDefinition

from pipelines.defs.sensors import refresh_job

nightly_refresh = ScheduleDefinition(
    name="nightly_refresh",
    job=refresh_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=(DefaultScheduleStatus.RUNNING if os.environ.get("TOWNSTAT_ENV", "").lower() == "production"
                    else DefaultScheduleStatus.STOPPED),
    description="每晚02:00（北京时间）刷新 / nightly refresh at 02:00 Asia/Shanghai",
)
