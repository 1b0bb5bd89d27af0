"""The townstat code location: assets, checks, resources, the sensor and the schedule."""

from __future__ import annotations

from dagster import Definitions

from pipelines import settings
from pipelines.defs.backfill import (
    county_year_recomputed,
    recompute_county_year_job,
    recompute_year_job,
    year_recomputed,
)
from pipelines.defs.disclosure import pub_town_year
from pipelines.defs.evaluation import eval_gap, eval_specialty_town, eval_target
from pipelines.defs.indicators import ind_specialty_town_year, ind_town_year
from pipelines.defs.ingest import INGEST_ASSETS, raw_files, references
from pipelines.defs.io import FrameIOManager
from pipelines.defs.publish import warehouse_published
from pipelines.defs.quality import dq_files, dq_flags
from pipelines.defs.reports import bureau_reports, dq_expectations
from pipelines.defs.resources import RawArea, Reports, Warehouse
from pipelines.defs.schedules import nightly_refresh
from pipelines.defs.sensors import raw_area_sensor, refresh_job

ASSETS = [raw_files, references, *INGEST_ASSETS, dq_files, dq_flags, ind_town_year,
          ind_specialty_town_year, eval_specialty_town, eval_gap, eval_target, pub_town_year, dq_expectations, warehouse_published,
          bureau_reports]


def build_definitions(raw_dir: str | None = None, warehouse_url: str | None = None,
                      staging_dir: str | None = None, cache_dir: str | None = None,
                      reports_dir: str | None = None) -> Definitions:
    raw = RawArea(path=raw_dir) if raw_dir else RawArea()
    if cache_dir is not None:
        raw = RawArea(path=raw.path, cache_dir=cache_dir)
    return Definitions(
        assets=[*ASSETS, year_recomputed, county_year_recomputed],
        jobs=[refresh_job, recompute_year_job, recompute_county_year_job],
        sensors=[raw_area_sensor],
        schedules=[nightly_refresh],
        resources={
            "raw_area": raw,
            "warehouse": Warehouse(url=warehouse_url) if warehouse_url else Warehouse(),
            "reports": Reports(path=reports_dir) if reports_dir else Reports(),
            "io_manager": FrameIOManager(
                base_dir=staging_dir or settings.staging_dir()),
        },
    )


defs = build_definitions()
