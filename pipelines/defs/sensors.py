"""The raw-area sensor: a refresh when files are added, changed or removed, once quiet."""


import os
import time

from dagster import (
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)

from pipelines.defs.resources import RawArea
from pipelines.ingest.inventory import scan_raw_area, state_digest

QUIET_SECONDS = 60

refresh_job = define_asset_job("refresh", selection=AssetSelection.all(),
                               description="整个仓库的刷新 / refresh the whole warehouse")


def _default_status() -> DefaultSensorStatus:
    production = os.environ.get("TOWNSTAT_ENV", "").lower() == "production"
    return DefaultSensorStatus.RUNNING if production else DefaultSensorStatus.STOPPED


@sensor(job=refresh_job, minimum_interval_seconds=30, default_status=_default_status(),
        description="原始区有文件新增、修改或删除且静置60秒后刷新 / refresh after raw-area changes, "
                    "once every file has been quiet for 60 s")
def raw_area_sensor(context: SensorEvaluationContext, raw_area: RawArea):
    files = scan_raw_area(raw_area.root)
    now = time.time()
    busy = [f.relpath for f in files if now - f.mtime < QUIET_SECONDS]
    if busy:
        return SkipReason(f"waiting for {len(busy)} file(s) to be quiet for {QUIET_SECONDS}s: {busy[:3]}")
    digest = state_digest(files)
    if digest == context.cursor:
        return SkipReason("raw area unchanged since the last refresh")
    context.update_cursor(digest)
    return RunRequest(run_key=digest, tags={"townstat/raw_state": digest[:16]})
